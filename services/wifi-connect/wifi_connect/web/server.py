"""``ForkedPortalServer``: the portal's gunicorn, forked from the daemon (``portal.ports.WebServer``).

Forked, not executed: the interpreter and every module the daemon imported stay shared pages between
the daemon, gunicorn's master and its worker (PSS), and nothing is parsed twice - the child gets the
validated settings as values. Before the fork the daemon's objects are frozen out of the garbage
collector (``gc.freeze``) so the child's collections do not touch, and so copy, their pages.

In the child: a new session (a terminal's Ctrl-C reaches only the daemon, which stops us in order), the
parent-death signal (nothing outlives a SIGKILLed daemon; gunicorn's worker follows its master), every
inherited descriptor except stdio replaced by /dev/null (the daemon's listening sockets and pipes must
not stay open in us: a restarted daemon binds again at once, an nmcli pipe gets its EOF), fresh stdio
objects (another daemon thread may have held their locks at the fork), then gunicorn's arbiter.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable

from ..children import die_with_parent
from ..config import ConnectionLimits
from ..errors import AdapterError

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0  # gunicorn retries a busy port for 5 s before it gives up
STOP_TIMEOUT = 5.0
READY = b"R"
DEFAULT_LIMITS = ConnectionLimits()


class ForkedPortalServer:
    """start/stop/alive for one gunicorn serving ``app_factory()`` on ``host:port``."""

    def __init__(self, name: str, app_factory: Callable[[], object], host: str, port: int,
                 limits: ConnectionLimits = DEFAULT_LIMITS) -> None:
        self.name = name
        self.app_factory = app_factory
        self.host, self.port = host, port
        self.limits = limits
        self._pid: int | None = None
        self._parent = os.getpid()

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self) -> None:
        if self.alive():
            return
        ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
        set_parent_death_signal = die_with_parent()
        gc.freeze()  # the child keeps them frozen: its collections never write to the shared pages
        try:
            pid = os.fork()
        except OSError as err:
            os.close(ready_read)
            os.close(ready_write)
            raise AdapterError(f"cannot fork the {self.name}: {err}") from err
        finally:
            if os.getpid() == self._parent:
                gc.unfreeze()
        if pid == 0:
            os.close(ready_read)
            self._run_child(ready_write, set_parent_death_signal)  # never returns
        os.close(ready_write)
        self._pid = pid
        try:
            self._wait_until_ready(ready_read)
        except AdapterError:
            self.stop()
            raise
        finally:
            os.close(ready_read)

    def _wait_until_ready(self, ready_read: int) -> None:
        """Until gunicorn's master holds the listening socket (it writes READY) or exits (EOF)."""
        poller = select.poll()  # not select(): the daemon's descriptors may be numbered above 1023
        poller.register(ready_read, select.POLLIN)
        if not poller.poll(START_TIMEOUT * 1000):
            raise AdapterError(f"{self.name} did not listen on {self.host}:{self.port} "
                               f"within {START_TIMEOUT:g}s; is the port in use?")
        if os.read(ready_read, 1) != READY:
            raise AdapterError(f"{self.name} exited at start; is {self.host}:{self.port} in use?")

    def _run_child(self, ready_write: int, set_parent_death_signal: Callable[[], None] | None) -> None:
        code = 1
        try:
            os.setsid()
            if set_parent_death_signal is not None:
                set_parent_death_signal()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            _replace_inherited_descriptors(keep={ready_write})
            _fresh_stdio()
            code = self._serve(ready_write)
        except BaseException:  # the child must end here whatever happened
            logging.getLogger(__name__).exception("the %s failed", self.name)
        finally:
            os._exit(code)

    def _serve(self, ready_write: int) -> int:
        from gunicorn.app.base import BaseApplication

        from ..config import host_port
        from ..gunicorn_config import portal_settings

        def when_ready(_arbiter: object) -> None:
            with contextlib.suppress(OSError):
                os.write(ready_write, READY)
                os.close(ready_write)

        settings = portal_settings(host_port(self.host, self.port), self.limits, when_ready)
        app = self.app_factory()

        class PortalApplication(BaseApplication):
            def load_config(self) -> None:
                for key, value in settings.items():
                    self.cfg.set(key, value)

            def load(self) -> object:
                return app

        try:
            PortalApplication().run()
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else 1
        return 0

    def alive(self) -> bool:
        if self._pid is None:
            return False
        try:
            pid, _ = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            pid = self._pid
        if pid == 0:
            return True
        self._pid = None  # reaped
        return False

    def stop(self) -> None:
        pid = self._pid
        if pid is None or not self.alive():
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)  # gunicorn's worker too
            deadline = time.monotonic() + STOP_TIMEOUT
            while time.monotonic() < deadline:
                if not self.alive():
                    return
                time.sleep(0.05)
            log.warning("%s did not stop on %s", self.name, sig.name)


def _replace_inherited_descriptors(keep: set[int]) -> None:
    """/dev/null over every descriptor above stdio: the number stays taken, so a stale object that closes
    it later closes /dev/null, never a descriptor gunicorn opened since."""
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd <= 2 or fd in keep or fd == null:
            continue
        with contextlib.suppress(OSError):
            os.fstat(fd)  # the directory's own descriptor is closed by now: skip it
            os.dup2(null, fd, inheritable=False)
    os.close(null)


def _fresh_stdio() -> None:
    """New stdout/stderr objects over the same descriptors, and logging pointed at them."""
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stdout)
