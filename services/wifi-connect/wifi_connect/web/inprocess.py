"""``InProcessPortalServer``: the portal served by the daemon itself (``PORTAL_SERVER=in-process``).

The alternative to the forked gunicorn (``web.server``), for devices where memory is tighter than the
isolation of a separate process is worth: ``sidecar_common.http.HttpServer`` (waitress in a thread, each
request buffered in its event loop before a worker thread sees it) with the same limits as the gunicorn
worker, and the portal app calling the controller directly instead of over the RPC socket. No child
process, so nothing can outlive the daemon. bench/wifi_memory.py measures both.
"""

from __future__ import annotations

from collections.abc import Callable

from sidecar_common.http import HttpServer, Listen, ServeLimits

from ..config import ConnectionLimits
from ..errors import AdapterError

THREADS = 4  # requests running the app at once (a rescan holds one for seconds); the rest wait buffered


def serve_limits(limits: ConnectionLimits) -> ServeLimits:
    """The gunicorn worker's limits in HttpServer's terms: an idle connection gets the head deadline too."""
    return ServeLimits(max_connections=limits.max_connections, max_per_client=limits.max_per_client,
                       header_timeout=limits.head_timeout, idle_timeout=limits.head_timeout,
                       body_timeout=limits.body_timeout, max_body_bytes=limits.max_body_bytes,
                       threads=THREADS)


class InProcessPortalServer:
    """start/stop/alive (``portal.ports.WebServer``) for the portal app on ``host:port`` in this process."""

    def __init__(self, name: str, app_factory: Callable[[], object], host: str, port: int,
                 limits: ConnectionLimits) -> None:
        self.name = name
        self.app_factory = app_factory
        self.host, self.port = host, port
        self.limits = limits
        self._server: HttpServer | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        server = HttpServer(self.app_factory(), Listen(self.host, self.port),
                            limits=serve_limits(self.limits), name=self.name)
        try:
            server.start()
        except OSError as err:
            raise AdapterError(f"{self.name} cannot listen on {self.host}:{self.port}; is the port in use? "
                               f"({err})") from err
        self._server = server

    def alive(self) -> bool:
        return self._server is not None

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()
