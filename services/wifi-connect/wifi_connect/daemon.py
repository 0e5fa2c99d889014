"""The long-running process: wires the adapters, the controller, the RPC socket and the gunicorn children.

Threads: the main thread waits for SIGTERM/SIGINT; one thread runs the controller's state machine; the
RPC server answers the web workers. Children: the control API's gunicorn (always) and the portal's
(while the portal is up), each in its own session so a terminal's Ctrl-C reaches only us and we stop
them in order; each (like dnsmasq) dies with us even if we are SIGKILLed (``children.py``). On the way
out the AP profile, dnsmasq and every child go, even if the controller is stuck.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import psutil
from gunicorn.config import KNOWN_SETTINGS

from .adapters.dnsmasq import Dnsmasq
from .adapters.nm_monitor import NmMonitor
from .adapters.nmcli import NmcliBackend
from .children import die_with_parent
from .config import Config, host_port
from .errors import AdapterError
from .hooks import HookRunner, environment_without_secrets
from .portal.controller import Controller
from .portal.states import SystemClock
from .probe import HttpProbe
from .rpc import RpcServer

log = logging.getLogger(__name__)

PORTAL_APP = "wifi_connect.web:create_portal_app()"
CONTROL_APP = "wifi_connect.web:create_control_app()"
GUNICORN_CONFIG = "python:wifi_connect.gunicorn_config"  # JSON logs on stdout, see gunicorn_config.py
START_TIMEOUT = 20.0  # gunicorn imports Flask and the app: a few seconds on a slow device
STOP_TIMEOUT = 5.0
SHUTDOWN_GRACE = 15.0  # beyond a running connect attempt, before we tear down from the main thread
# Newer gunicorn opens a control socket in ~/.gunicorn, one path shared by every instance; we never use it.
NO_CONTROL_SOCKET = (
    ("--no-control-socket",) if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else ()
)


class GunicornServer:
    """``WebServer``: one gunicorn process (1 worker, 8 threads) serving ``app`` on ``host:port``."""

    def __init__(self, name: str, app: str, host: str, port: int, env: dict[str, str]) -> None:
        self.name = name
        self.host, self.port = host, port
        self.argv = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "8",
                     "--graceful-timeout", "3", "--log-level", "warning", *NO_CONTROL_SOCKET,
                     "--config", GUNICORN_CONFIG,
                     "--bind", host_port(host, port), app]
        self.env = env
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.alive():
            return
        self._process = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=die_with_parent())
        try:
            self._wait_until_listening()
        except AdapterError:
            self.stop()
            raise

    def _wait_until_listening(self) -> None:
        """Until *our* gunicorn holds the listening socket (a connect could reach another server)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.alive():
                raise AdapterError(f"{self.name} exited at start; is {self.host}:{self.port} in use?")
            if self._listening():
                return
            time.sleep(0.1)
        self.stop()
        raise AdapterError(f"{self.name} did not listen on {self.host}:{self.port} "
                           f"within {START_TIMEOUT:g}s; is the port in use?")

    def _listening(self) -> bool:
        try:
            sockets = psutil.Process(self._process.pid).net_connections(kind="inet")
        except psutil.Error:
            return False
        return any(s.status == psutil.CONN_LISTEN and s.laddr[1] == self.port for s in sockets)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # gunicorn's worker too
            try:
                process.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop on %s", self.name, sig.name)


def _child_environment(config: Config) -> dict[str, str]:
    """What the web workers need, and no secret (PORTAL_PASSPHRASE is removed)."""
    extra = {
        "WIFI_CONNECT_SOCKET": str(config.rpc_socket),
        "PORTAL_GATEWAY": str(config.portal_gateway),
        "PORTAL_LISTENING_PORT": str(config.portal_listening_port),
    }
    if config.ui_directory is not None:
        extra["UI_DIRECTORY"] = str(config.ui_directory)
    env = environment_without_secrets(extra)
    if config.ui_directory is None:
        env.pop("UI_DIRECTORY", None)
    return env


class Daemon:
    """Everything one ``wifi-connect`` process runs; ``run()`` returns the exit code."""

    def __init__(self, config: Config) -> None:
        self.backend = NmcliBackend(timeout=config.nmcli_timeout)
        # Resolve the device once, up front: dnsmasq binds to it (DeviceError says why there is none).
        interface = self.backend.find_wifi_device(config.portal_interface)
        self.config = config = replace(config, portal_interface=interface)
        env = _child_environment(config)
        self.portal_web = GunicornServer("portal web app", PORTAL_APP, str(config.portal_gateway),
                                         config.portal_listening_port, env)
        self.control_web = GunicornServer("control API", CONTROL_APP, *config.control_address, env)
        self.dhcp = Dnsmasq(interface=interface, gateway=str(config.portal_gateway),
                            dhcp_range=config.dhcp_range_text, portal_url=config.portal_url,
                            run_dir=config.rpc_socket.parent / "dnsmasq")
        self.hook = HookRunner(config.hook_command)
        probe = HttpProbe(config.connectivity_check_url) if config.connectivity_check_url else None
        self.controller = Controller(config, self.backend, self.dhcp, self.portal_web, self.hook,
                                     SystemClock(), probe)
        self.rpc = RpcServer(self.controller, config.rpc_socket)
        self.nm_monitor = NmMonitor(self.controller.nm_changed)  # NM's events instead of polling
        self._stop_requested = threading.Event()
        self._crashed = False

    def request_stop(self, signum: int = 0, _frame: object = None) -> None:
        if signum:
            log.info("received %s, stopping", signal.Signals(signum).name)
        self._stop_requested.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        try:
            self.rpc.start()
            self.control_web.start()
            self.nm_monitor.start()  # before the first look, so no change falls between the two
            self.controller.start()
            # daemon thread: a controller stuck in nmcli must not keep the process alive after the teardown
            worker = threading.Thread(target=self._run_controller, name="controller", daemon=True)
            worker.start()
            while worker.is_alive() and not self._stop_requested.wait(0.5):
                pass
            self.controller.request_stop()
            worker.join(SHUTDOWN_GRACE + self.config.connect_timeout)
            if worker.is_alive():
                log.error("controller did not stop in time; tearing the portal down from the main thread")
        finally:
            self._tear_down()
        return 1 if self._crashed else 0

    def _run_controller(self) -> None:
        try:
            self.controller.machine.run_until_stopped()
        except Exception:  # a bug: log it, tear down, exit non-zero so the restart policy restarts us
            log.exception("the controller crashed")
            self._crashed = True

    def _tear_down(self) -> None:
        """Idempotent and best effort: every step runs even when an earlier one fails."""
        self.nm_monitor.stop()
        self.controller.teardown()
        self.control_web.stop()
        self.rpc.stop()
        self.hook.close()
        log.info("stopped")


def run(config: Config) -> int:
    return Daemon(config).run()
