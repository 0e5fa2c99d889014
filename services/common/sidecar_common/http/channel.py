"""Waitress connections ("channels") that keep deadlines, and their TLS variant.

Waitress closes a connection only after ``channel_timeout`` of silence, so a client sending one header
byte every few seconds would keep its connection (and its share of the connection cap) forever.
``DeadlineChannel`` remembers when the current request began and when its head completed; the server's
maintenance (``limited_server.LimitedServerMixin.maintenance``, about once a second while connections
are open) asks each channel ``overdue()`` and closes the offenders.

``TlsChannel`` adds TLS, which waitress lacks: the accepted socket is wrapped by the server with
``do_handshake_on_connect=False``; the handshake runs non-blocking in the event loop (counted against
``header_timeout``, so a trickled handshake is closed too), "want read/write" means "no data yet", and
records already decrypted inside OpenSSL (``pending()``) are drained because poll() cannot see them.
"""

from __future__ import annotations

import ssl
import threading
import time
from typing import TYPE_CHECKING

from waitress.channel import HTTPChannel
from waitress.utilities import RequestEntityTooLarge, RequestHeaderFieldsTooLarge

if TYPE_CHECKING:
    from sidecar_common.http.settings import ServeLimits


class DeadlineChannel(HTTPChannel):
    peer = ""  # the client's IP ("" on a Unix socket), for the per-client count
    close_reason = ""  # why we closed it (counted once)
    _head_started: float | None = None  # first byte of the request being received
    _body_started: float | None = None  # when its head was complete
    _timed_request: object = None  # the waitress parser the two times above belong to

    def received(self, data: bytes) -> bool:
        now = time.time()
        handled = super().received(data)
        request = self.request
        if request is None:
            self._timed_request = self._head_started = self._body_started = None
        elif request is not self._timed_request:
            self._timed_request = request
            self._head_started = now
            self._body_started = now if request.headers_finished else None
        elif request.headers_finished and self._body_started is None:
            self._body_started = now
        return handled

    def overdue(self, now: float, limits: ServeLimits) -> str:
        """The reason this connection must be closed now, or ""."""
        if self.will_close or self.close_when_flushed:
            return ""
        if self.total_outbufs_len and now - self.last_activity > limits.idle_timeout:
            return "send_timeout"  # our response has not moved for that long: the client stopped reading
        if self.requests:
            return ""  # a request is being served: the application's time, not the client's
        if self._head_started is not None:
            if self._body_started is None:
                return "header_timeout" if now - self._head_started > limits.header_timeout else ""
            return "body_timeout" if now - self._body_started > limits.body_timeout else ""
        return "idle_timeout" if now - self.last_activity > limits.idle_timeout else ""

    def service(self) -> None:
        error = self.requests[0].error if self.requests else None
        if error is not None:  # waitress answers it (400/413/431/501) and closes the connection
            too_large = isinstance(error, RequestEntityTooLarge | RequestHeaderFieldsTooLarge)
            self.server.note_close(self, "too_large" if too_large else "bad_request")
        super().service()
        # A pipelined request that arrived while this one was served gets its deadlines from now.
        now = time.time()
        if self._head_started is not None:
            self._head_started = now
        if self._body_started is not None:
            self._body_started = now

    def del_channel(self, map: dict | None = None) -> None:
        was_open = self._fileno in self.server.active_channels
        super().del_channel(map)
        if was_open:
            self.server.channel_closed(self)


class TlsChannel(DeadlineChannel):
    _handshake_done = False
    _handshake_wants_write = False

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        # One TLS object must not be read and written by two threads at once (the event loop reads and
        # flushes, a worker thread flushes its response); OpenSSL is not safe for that.
        self._tls_lock = threading.Lock()
        super().__init__(server, sock, addr, adj, map)
        self._head_started = time.time()  # the handshake counts against header_timeout

    def readable(self) -> bool:
        if not self._handshake_done:
            return not (self._handshake_wants_write or self.will_close)
        return super().readable()

    def writable(self) -> bool:
        if not self._handshake_done:
            return self._handshake_wants_write or self.will_close
        return super().writable()

    def handle_write(self) -> None:
        if not self._handshake_done and not self.will_close:
            self._continue_handshake()
            return
        super().handle_write()

    def handle_read(self) -> None:
        if not self._handshake_done:
            self._continue_handshake()
            if not self._handshake_done:
                return
        data = self._recv_available()
        if data:
            self.last_activity = time.time()
            self.received(data)

    def _continue_handshake(self) -> None:
        try:
            with self._tls_lock:
                self.socket.do_handshake()
        except ssl.SSLWantReadError:
            self._handshake_wants_write = False
            return
        except ssl.SSLWantWriteError:
            self._handshake_wants_write = True
            return
        except OSError:  # ssl.SSLError is an OSError: bad client hello, no/unknown client certificate, reset
            self.server.note_close(self, "tls_error")
            self.handle_close()
            return
        self._handshake_done = True
        self._handshake_wants_write = False
        self._head_started = None  # from here on the usual rules: idle until the first request byte
        self.last_activity = time.time()
        self.handle_read()  # the request may have come with the client's Finished message

    def _recv_available(self) -> bytes:
        try:
            with self._tls_lock:
                data = self.socket.recv(self.adj.recv_bytes)
                while data and self.socket.pending():
                    data += self.socket.recv(self.socket.pending())
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return b""  # a partial record: no application data yet
        except ssl.SSLZeroReturnError:
            data = b""
        except OSError:
            self.server.note_close(self, "tls_error")
            self.handle_close()
            return b""
        if not data:  # the client closed the connection
            self.handle_close()
        return data

    def send(self, data: bytes, do_close: bool = True) -> int:
        try:
            with self._tls_lock:
                return self.socket.send(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return 0
        except OSError:
            if not do_close:
                raise  # a worker thread's flush: waitress marks the channel to be closed by the loop
            self.handle_close()
            return 0
