"""Waitress listeners that refuse beyond the connection caps and close connections past their deadlines."""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections import Counter

from waitress.server import TcpWSGIServer, UnixWSGIServer

from sidecar_common.http.channel import DeadlineChannel, TlsChannel
from sidecar_common.http.settings import ServeLimits, StatsCounter

log = logging.getLogger("sidecar_common.http")

# Sent (best effort, never waited for) to a plain-HTTP client refused for a connection cap.
_REFUSAL_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
)


_ACCEPTS_PER_WAKEUP = 32


class ThrottledLog:
    """At most one log line per reason per ``interval`` seconds, saying how many events it stands for:
    a flood of refused or timed-out clients must not flood the journal (or the SD card behind it)."""

    def __init__(self, name: str, interval: float = 60.0) -> None:
        self._name = name
        self._interval = interval
        self._last: dict[str, float] = {}
        self._pending: Counter[str] = Counter()

    def event(self, what: str, reason: str) -> None:
        key = f"{what} ({reason})"
        self._pending[key] += 1
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) >= self._interval:
            count = self._pending.pop(key)
            self._last[key] = now
            log.warning("%s: %d connection(s) %s since the last such line (one per %.0f s at most)",
                        self._name, count, key, self._interval)


class LimitedServerMixin:
    """Mixed into waitress's Tcp/UnixWSGIServer; call ``setup()`` before the event loop runs."""

    channel_class = DeadlineChannel
    limits: ServeLimits
    counters: StatsCounter
    tls_context: ssl.SSLContext | None
    throttled_log: ThrottledLog
    per_client: Counter[str]

    def setup(self, limits: ServeLimits, counters: StatsCounter, tls_context: ssl.SSLContext | None,
              name: str) -> None:
        self.limits = limits
        self.counters = counters
        self.tls_context = tls_context
        self.throttled_log = ThrottledLog(name)
        self.per_client = Counter()
        if tls_context is not None:
            self.channel_class = TlsChannel

    def handle_accept(self) -> None:
        # Several per wake-up: a burst of connections should not cost one poll() round each.
        for _ in range(_ACCEPTS_PER_WAKEUP):
            try:
                pair = self.accept()
            except OSError:
                return  # e.g. EMFILE; the connection stays queued and is retried
            if pair is None:
                return
            self._admit(*pair)

    def _admit(self, conn: socket.socket, addr: tuple | str) -> None:
        peer = addr[0] if conn.family in (socket.AF_INET, socket.AF_INET6) else ""
        if len(self.active_channels) >= self.limits.max_connections:
            self._refuse(conn, "total")
            return
        if peer and self.per_client[peer] >= self.limits.max_per_client:
            self._refuse(conn, "per_client")
            return
        try:
            self.set_socket_options(conn)
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            channel = self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)
        except OSError:  # the client went away before we got to it
            conn.close()
            return
        channel.peer = peer
        self.per_client[peer] += 1
        self.counters.count_accept()

    def _refuse(self, conn: socket.socket, reason: str) -> None:
        self.counters.count_refusal(reason)
        self.throttled_log.event("refused", reason)
        if self.tls_context is None:
            try:
                conn.setblocking(False)
                conn.send(_REFUSAL_RESPONSE)
            except OSError:
                pass
        conn.close()

    def channel_closed(self, channel: DeadlineChannel) -> None:
        remaining = self.per_client[channel.peer] - 1
        if remaining > 0:
            self.per_client[channel.peer] = remaining
        else:
            del self.per_client[channel.peer]

    def note_close(self, channel: DeadlineChannel, reason: str) -> None:
        if channel.close_reason:
            return
        channel.close_reason = reason
        self.counters.count_close(reason)
        self.throttled_log.event("closed", reason)

    def maintenance(self, now: float) -> None:
        """Close connections past a deadline (waitress calls this every ``cleanup_interval``)."""
        for channel in list(self.active_channels.values()):
            reason = channel.overdue(now, self.limits)
            if reason:
                self.note_close(channel, reason)
                channel.will_close = True  # the loop closes it on its next pass (it becomes writable)


class LimitedTcpServer(LimitedServerMixin, TcpWSGIServer):
    pass


class LimitedUnixServer(LimitedServerMixin, UnixWSGIServer):
    pass
