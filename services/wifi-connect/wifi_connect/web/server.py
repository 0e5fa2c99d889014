"""``ForkedPortalServer``: the portal's gunicorn worker, forked from the daemon (``portal.ports.WebServer``).

gunicorn serves the portal: its threaded worker, hardened (``web.worker.PortalWorker``), its HTTP
parser and WSGI handling, its settings (``gunicorn_config``). The daemon plays the part of gunicorn's
arbiter (master) itself, because a master would be a third Python process: 12-17 MiB PSS on a 512 MB
board for a job the daemon already does. What the master would do, the daemon does here:

- it binds the listening socket and keeps it across worker restarts, so connections queued in the
  backlog survive a restart and a busy port is an error in the daemon, at once;
- it forks the worker, with gunicorn's ``Worker(age, ppid, sockets, app, timeout, cfg, log)`` contract;
- it watches the worker's heartbeat (the worker touches a file every second; gunicorn's ``timeout``)
  and kills a worker whose event loop is stuck, and ``alive()`` then says so, so the controller's
  supervision starts a new one (as a master would);
- stop is gunicorn's: SIGTERM (graceful, ``graceful_timeout``), then SIGKILL.

Forked, not executed: the interpreter and every module the daemon imported stay pages shared with the
worker (PSS), and nothing is parsed twice - the worker gets the validated settings as values. Before the
fork the daemon's objects are frozen out of the garbage collector (``gc.freeze``) so the worker's
collections do not touch, and so copy, their pages. In the child: a new session (a terminal's Ctrl-C
reaches only the daemon, which stops us in order), the parent-death signal (nothing outlives a SIGKILLed
daemon), every inherited descriptor except stdio and ours replaced by /dev/null (the daemon's listening
sockets and pipes must not stay open in us: a restarted daemon binds again at once, an nmcli pipe gets
its EOF), fresh stdio objects, then gunicorn's worker.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from sidecar_common.http import Listen
from sidecar_common.http.listen import bind_listen

from ..children import die_with_parent
from ..config import ConnectionLimits
from ..errors import AdapterError

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0  # the worker imports gunicorn after the fork: seconds on a Pi Zero
STOP_TIMEOUT = 5.0
HEARTBEAT_TIMEOUT = 30  # gunicorn's ``timeout``: a worker silent this long has a stuck event loop
BACKLOG = 2048  # gunicorn's default: beyond PORTAL_MAX_CONNECTIONS, connections wait here
READY = b"R"
DEFAULT_LIMITS = ConnectionLimits()
# tmpfs: the worker touches its heartbeat file every second, which must not be a write to the SD card
HEARTBEAT_DIRECTORY = "/dev/shm"


class ForkedPortalServer:
    """start/stop/alive for one gunicorn worker serving ``app_factory()`` on ``host:port``."""

    def __init__(self, name: str, app_factory: Callable[[], object], host: str, port: int,
                 limits: ConnectionLimits = DEFAULT_LIMITS,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT) -> None:
        self.name = name
        self.heartbeat_timeout = heartbeat_timeout
        self.app_factory = app_factory
        self.host, self.port = host, port
        self.limits = limits
        self._pid: int | None = None
        self._listener: socket.socket | None = None
        self._heartbeat: int | None = None
        self._parent = os.getpid()
        # the controller's thread starts, supervises and stops the worker; the main thread may stop it too
        # (a stuck controller at shutdown): one at a time, so no descriptor is ever closed twice
        self._lock = threading.RLock()

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self.alive():
            return
        self._listen()
        self._heartbeat = self._heartbeat if self._heartbeat is not None else _heartbeat_file()
        os.utime(self._heartbeat, (time.monotonic(), time.monotonic()))  # a fresh worker's grace
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
            self._stop()
            raise
        finally:
            os.close(ready_read)

    def _listen(self) -> None:
        if self._listener is not None:
            return
        try:
            self._listener = bind_listen(Listen(self.host, self.port), BACKLOG)
        except OSError as err:
            raise AdapterError(f"{self.name} cannot listen on {self.host}:{self.port}; is the port in use? "
                               f"({err})") from err

    def _wait_until_ready(self, ready_read: int) -> None:
        """Until gunicorn's worker has loaded the app (it writes READY) or exited (EOF)."""
        poller = select.poll()  # not select(): the daemon's descriptors may be numbered above 1023
        poller.register(ready_read, select.POLLIN)
        if not poller.poll(START_TIMEOUT * 1000):
            raise AdapterError(f"{self.name} did not start within {START_TIMEOUT:g}s")
        if os.read(ready_read, 1) != READY:
            raise AdapterError(f"{self.name} exited at start; see its log above")

    def _run_child(self, ready_write: int, set_parent_death_signal: Callable[[], None] | None) -> None:
        code = 1
        try:
            os.setsid()
            if set_parent_death_signal is not None:
                set_parent_death_signal()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            assert self._listener is not None and self._heartbeat is not None
            _replace_inherited_descriptors(keep={ready_write, self._listener.fileno(), self._heartbeat})
            _fresh_stdio()
            code = self._serve(ready_write)
        except BaseException:  # the child must end here whatever happened
            logging.getLogger(__name__).exception("the %s failed", self.name)
        finally:
            os._exit(code)

    def _serve(self, ready_write: int) -> int:
        from .worker_boot import run_worker

        def ready() -> None:
            with contextlib.suppress(OSError):
                os.write(ready_write, READY)
                os.close(ready_write)

        assert self._listener is not None and self._heartbeat is not None
        return run_worker(self.app_factory(), self._listener.fileno(), self._heartbeat, self.limits, ready)

    def alive(self) -> bool:
        with self._lock:
            return self._alive()

    def _alive(self) -> bool:
        if self._reaped():
            return False
        if self._heartbeat_age() > self.heartbeat_timeout:
            log.error("the %s sent no heartbeat for %.0f s (its event loop is stuck); killing it",
                      self.name, self._heartbeat_age())
            self._signal_and_wait((signal.SIGKILL,))
            return False
        return True

    def _heartbeat_age(self) -> float:
        if self._heartbeat is None:
            return 0.0
        return time.monotonic() - os.fstat(self._heartbeat).st_mtime

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._alive():
            self._signal_and_wait((signal.SIGTERM, signal.SIGKILL))
        listener, heartbeat = self._listener, self._heartbeat
        self._listener = self._heartbeat = None  # the port is free once the portal is down
        if listener is not None:
            listener.close()
        if heartbeat is not None:
            os.close(heartbeat)

    def _signal_and_wait(self, signals: tuple[signal.Signals, ...]) -> None:
        pid = self._pid
        for sig in signals:
            if pid is None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + STOP_TIMEOUT
            while not self._reaped():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            else:
                return
            log.warning("%s did not stop on %s", self.name, sig.name)

    def _reaped(self) -> bool:
        """True once the worker has exited (and is reaped) or was never started."""
        if self._pid is None:
            return True
        try:
            pid, _ = os.waitpid(self._pid, os.WNOHANG)
        except ChildProcessError:
            pid = self._pid
        if pid:
            self._pid = None
        return pid != 0


def _heartbeat_file() -> int:
    """An unnamed file the worker touches and the daemon reads (gunicorn's ``WorkerTmp``), on tmpfs."""
    directory = HEARTBEAT_DIRECTORY if os.path.isdir(HEARTBEAT_DIRECTORY) else tempfile.gettempdir()
    try:
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except OSError:  # a filesystem without O_TMPFILE
        fd, path = tempfile.mkstemp(prefix="wifi-connect-portal-", dir=directory)
        os.unlink(path)
        os.set_inheritable(fd, False)
        return fd


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
