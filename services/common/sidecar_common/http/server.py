"""``HttpServer``: one WSGI app served by waitress in a daemon thread, within ``ServeLimits``."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
from collections.abc import Callable

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from sidecar_common.http.limited_server import LimitedTcpServer, LimitedUnixServer
from sidecar_common.http.listen import Listen, bind_listen
from sidecar_common.http.settings import ServeLimits, ServerStats, StatsCounter, TlsFiles

log = logging.getLogger("sidecar_common.http")

WsgiApp = Callable  # (environ, start_response) -> iterable of bytes

_BACKLOG = 1024
_MAINTENANCE_INTERVAL = 1  # seconds between deadline checks while connections are open (waitress: int)
_WRITE_HIGH_WATERMARK = 1 << 20  # a worker blocks when this much response waits for a slow reader


def make_tls_context(tls: TlsFiles) -> ssl.SSLContext:
    """A server context: TLS 1.2 at least; with ``client_ca_file`` a client certificate is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file:
        context.load_verify_locations(cafile=tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


DEFAULT_LIMITS = ServeLimits()


class HttpServer:
    """Serves ``app`` on ``listen``; ``start()`` binds and returns, the event loop runs in a daemon thread."""

    def __init__(self, app: WsgiApp, listen: Listen, *, limits: ServeLimits = DEFAULT_LIMITS,
                 tls: TlsFiles | None = None, name: str = "http") -> None:
        self._app = app
        self._listen = listen
        self._limits = limits
        self._tls = tls
        self._name = name
        self._counters = StatsCounter()
        self._map: dict = {}
        self._server: LimitedTcpServer | LimitedUnixServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bind and serve. OSError (address in use, no permission, unreadable TLS files) propagates."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name}: already started")
        tls_context = make_tls_context(self._tls) if self._tls else None
        limits = self._limits
        adjustments = Adjustments(
            threads=limits.threads,
            # +3: the listener and waitress's wake-up pipe live in the same map; our own cap refuses first
            connection_limit=limits.max_connections + 3,
            cleanup_interval=_MAINTENANCE_INTERVAL,
            channel_timeout=max(1, int(limits.idle_timeout)),  # unused: our maintenance replaces waitress's
            max_request_header_size=limits.max_header_bytes + 1,  # waitress refuses at >= the size
            max_request_body_size=limits.max_body_bytes + 1,
            # Bodies up to the limit stay in memory: nothing is written to disk at rest (SD card wear).
            inbuf_overflow=limits.max_body_bytes + 65536,
            outbuf_high_watermark=_WRITE_HIGH_WATERMARK,
            outbuf_overflow=4 * _WRITE_HIGH_WATERMARK,
            url_scheme="https" if tls_context else "http",
            ident="",
            asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
            log_socket_errors=False,  # a client resetting its connection is not our error
            backlog=_BACKLOG,
        )
        sock = bind_listen(self._listen, _BACKLOG)
        try:
            server_class = LimitedUnixServer if self._listen.unix_path else LimitedTcpServer
            dispatcher = ThreadedTaskDispatcher()
            sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
            server = server_class(self._app, self._map, _sock=sock, dispatcher=dispatcher, adj=adjustments,
                                  bind_socket=False, sockinfo=sockinfo)
            # Before the loop thread starts: only that thread accepts.
            server.setup(limits, self._counters, tls_context, self._name)
            dispatcher.set_thread_count(limits.threads)  # last: nothing can fail after threads exist
        except BaseException:
            sock.close()
            raise
        self._server = server
        self._thread = threading.Thread(target=self._run, name=f"{self._name}-http", daemon=True)
        self._thread.start()
        log.info("%s: serving on %s%s", self._name, self._listen, " (TLS)" if tls_context else "")

    @property
    def address(self) -> tuple[str, int] | str:
        """The bound address: (host, port) with port 0 resolved, or the Unix socket's path."""
        if self._server is None:
            raise RuntimeError(f"{self._name}: not started")
        if self._listen.unix_path:
            return self._listen.unix_path
        host, port = self._server.socket.getsockname()[:2]
        return host, port

    @property
    def stats(self) -> ServerStats:
        open_connections = len(self._server.active_channels) if self._server is not None else 0
        return self._counters.snapshot(open_connections)

    def stop(self, timeout: float = 2.0) -> None:
        """Close the listener and every connection; wait up to ``timeout`` for running requests."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        if thread.is_alive():  # a loop that already ended (and logged why) has closed its wake-up pipe
            with contextlib.suppress(OSError):
                server.pull_trigger()
        thread.join(timeout)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        if self._listen.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._listen.unix_path)
        self._server = self._thread = None

    def _run(self) -> None:
        server = self._server
        try:
            while not self._stopping.is_set():
                # Without connections nothing has a deadline: sleep until a client or stop() wakes us.
                timeout = _MAINTENANCE_INTERVAL if server.active_channels else None
                wasyncore.poll2(timeout, self._map)
        except Exception:
            log.exception("%s: the HTTP event loop failed", self._name)
        finally:
            for dispatcher in list(self._map.values()):
                with contextlib.suppress(OSError):
                    dispatcher.close()
            self._map.clear()
