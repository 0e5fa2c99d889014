"""The long-running process: wires the adapters, the controller, the control API and the portal.

Threads: the main thread waits for SIGTERM/SIGINT; one thread runs the controller's state machine; the
control API (loopback) is served in-process by ``sidecar_common.http.HttpServer``; the RPC server answers
the portal's worker. Children, each of which dies with us even if we are SIGKILLed (``children.py``):
the portal's gunicorn worker while the portal is up (forked, ``web.server``: the daemon is its
arbiter) and dnsmasq; NetworkManager's changes reach a thread (``adapters.nm_monitor``, D-Bus). On the way
out the AP profile, dnsmasq and every child go, even if the controller is stuck.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from dataclasses import replace
from pathlib import Path

from sidecar_common.http import HttpServer, Listen, ServeLimits

from .adapters.dnsmasq import Dnsmasq
from .adapters.mdns import MdnsCheck
from .adapters.nm_monitor import NmMonitor
from .adapters.nmcli import NmcliBackend
from .config import Config
from .errors import AdapterError
from .hooks import HookRunner
from .portal.controller import Controller
from .portal.ports import ConnectivityProbe
from .portal.states import SystemClock
from .rpc import ControllerClient, RpcServer
from .ssid_template import portal_ssid_for
from .web import PortalSettings, create_control_app, create_portal_app
from .web.control import SetupNetwork
from .web.inprocess import InProcessPortalServer
from .web.server import ForkedPortalServer

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 15.0  # beyond a running connect attempt, before we tear down from the main thread
# The control API serves the application on this machine: a few connections, small bodies.
CONTROL_LIMITS = ServeLimits(max_connections=16, max_per_client=16, max_body_bytes=16 * 1024, threads=2)


def portal_app(rpc_socket: Path, settings: PortalSettings) -> object:
    """The portal app as the forked worker runs it: the daemon is one RPC round trip away."""
    return create_portal_app(ControllerClient(rpc_socket), settings)


class Daemon:
    """Everything one ``wifi-connect`` process runs; ``run()`` returns the exit code."""

    def __init__(self, config: Config) -> None:
        self.backend = NmcliBackend(timeout=config.nmcli_timeout)
        # Resolve the device once, up front: dnsmasq binds to it (DeviceError says why there is none).
        interface = self.backend.find_wifi_device(config.portal_interface)
        portal_ssid = portal_ssid_for(config, lambda: self.backend.hardware_address(interface))
        self.config = config = replace(config, portal_interface=interface, portal_ssid=portal_ssid)
        self.portal_web = self._portal_server(config)
        self.dhcp = Dnsmasq(interface=interface, gateway=str(config.portal_gateway),
                            dhcp_range=config.dhcp_range_text, portal_url=config.portal_url,
                            run_dir=config.rpc_socket.parent / "dnsmasq")
        self.hook = HookRunner(config.hook_command)
        probe = _http_probe(config.connectivity_check_url) if config.connectivity_check_url else None
        self.controller = Controller(config, self.backend, self.dhcp, self.portal_web, self.hook,
                                     SystemClock(), probe, mdns=MdnsCheck(config.mdns))
        self.rpc = RpcServer(self.controller, config.rpc_socket)
        host, port = config.control_address
        setup_network = SetupNetwork(config.portal_ssid, config.portal_passphrase)  # GET /setup-qr.svg
        self.control_web = HttpServer(create_control_app(self.controller, setup_network), Listen(host, port),
                                      limits=CONTROL_LIMITS, name="control API")
        self.nm_monitor = NmMonitor(self.controller.nm_changed)  # NM's events instead of polling
        self._stop_requested = threading.Event()
        self._crashed = False

    def _portal_server(self, config: Config) -> ForkedPortalServer | InProcessPortalServer:
        settings = PortalSettings.from_config(config)
        where = (str(config.portal_gateway), config.portal_listening_port, config.portal_limits)
        if config.portal_server == "in-process":  # the app calls the controller itself, no RPC
            in_process = lambda: create_portal_app(self.controller, settings)  # noqa: E731
            return InProcessPortalServer("portal web app", in_process, *where)
        forked = functools.partial(portal_app, config.rpc_socket, settings)
        return ForkedPortalServer("portal web app", forked, *where)

    def request_stop(self, signum: int = 0, _frame: object = None) -> None:
        if signum:
            log.info("received %s, stopping", signal.Signals(signum).name)
        self._stop_requested.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.request_stop)
        try:
            self.rpc.start()
            self._start_control_api()
            self.nm_monitor.start()  # before the first look, so no change falls between the two
            self.controller.start()
            # daemon thread: a controller stuck in nmcli must not keep the process alive after the teardown
            worker = threading.Thread(target=self._run_controller, name="controller", daemon=True)
            worker.start()
            self._stop_requested.wait()  # SIGTERM/SIGINT, or the controller thread ended; no polling
            self.controller.request_stop()
            worker.join(SHUTDOWN_GRACE + self.config.connect_timeout)
            if worker.is_alive():
                log.error("controller did not stop in time; tearing the portal down from the main thread")
        finally:
            self._tear_down()
        return 1 if self._crashed else 0

    def _start_control_api(self) -> None:
        try:
            self.control_web.start()
        except OSError as err:
            where = self.config.control_address_text
            raise AdapterError(f"the control API cannot listen on {where}: {err}") from err

    def _run_controller(self) -> None:
        try:
            self.controller.machine.run_until_stopped()
        except Exception:  # a bug: log it, tear down, exit non-zero so the restart policy restarts us
            log.exception("the controller crashed")
            self._crashed = True
        finally:
            self._stop_requested.set()  # wakes the main thread, which tears down

    def _tear_down(self) -> None:
        """Idempotent and best effort: every step runs even when an earlier one fails."""
        self.nm_monitor.stop()
        self.controller.teardown()
        self.control_web.stop()
        self.rpc.stop()
        self.hook.close()
        log.info("stopped")


def _http_probe(url: str) -> ConnectivityProbe:
    from .probe import HttpProbe  # urllib.request: loaded only when a probe URL is set

    return HttpProbe(url)


def run(config: Config) -> int:
    return Daemon(config).run()
