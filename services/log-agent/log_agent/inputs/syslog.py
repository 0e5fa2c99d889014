"""syslog input: UDP and TCP on one address (RFC 5424 and RFC 3164; TCP with octet counting or
newline framing, RFC 6587), all served by one thread with a selector.

Bounded: ``max_message_bytes`` per message (a larger TCP frame closes that connection, a larger
datagram is cut by the socket and counted), ``max_connections`` (beyond: the newest is refused, not
an old one evicted), ``idle_timeout`` per connection, and reading stops while a batch is being
spooled (TCP back-pressure; the kernel's UDP buffer absorbs the rest). Syslog has no
authentication: a listen address that is not loopback needs ``allow_remote: true``.

Records are spooled durably in batches (at most ``batch_max`` messages, or what arrived by the time
the sockets have nothing more to read). Syslog has no acknowledgement: TCP senders lose what was in
flight when the agent is killed, UDP senders whatever the network or a full buffer drops.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..confparse import PARSE, SectionConfig, is_loopback, parse_duration, parse_listen, parse_size
from ..errors import ConfigError
from ..processors import Chain, ProcessorSpec, parse_processors
from ..processors.base import TimedRecord
from .emit import Emitter, Stopping
from .reader_thread import ReaderThread
from .report import emitter_report
from .syslog_parse import FrameError, Framer, parse

log = logging.getLogger(__name__)
_RECV_BYTES = 64 * 1024
_MAX_BATCH_SECONDS = 0.2


@dataclass(slots=True)
class SyslogInputConfig(SectionConfig):
    SECTION: ClassVar[str] = "syslog"
    listen: tuple[str, int] = field(default=("127.0.0.1", 5514), metadata={PARSE: parse_listen})
    udp: bool = True
    tcp: bool = True
    allow_remote: bool = False  # no authentication in syslog: say so to listen beyond loopback
    name: str = "syslog"
    tag: str = "syslog"
    max_message_bytes: int = field(default=64 * 1024, metadata={PARSE: parse_size})
    max_connections: int = 64
    idle_timeout: float = field(default=120.0, metadata={PARSE: parse_duration})
    batch_max: int = 1000
    processors: tuple[ProcessorSpec, ...] = field(default=(), metadata={PARSE: parse_processors})

    def validate(self) -> None:
        if not (self.udp or self.tcp):
            raise ConfigError("syslog.udp", "enable udp, tcp or both")
        if not is_loopback(self.listen[0]) and not self.allow_remote:
            raise ConfigError("syslog.listen", f"{self.listen[0]} is not loopback and syslog has no "
                              "authentication; set allow_remote: true to accept any sender")
        for key in ("max_message_bytes", "max_connections", "batch_max"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"syslog.{key}", "must be positive")


class SyslogStats:
    def __init__(self) -> None:
        self.messages_total = 0
        self.connections_total = 0
        self.connections_active = 0
        self.errors: dict[str, int] = {}  # too_many_connections, too_large, idle_timeout, bad_frame

    def error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1


@dataclass(slots=True)
class _Connection:
    sock: socket.socket
    framer: Framer
    last_read: float


class SyslogInput:
    def __init__(self, config: SyslogInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = SyslogStats()
        self.emitter: Emitter | None = None
        self._selector = selectors.DefaultSelector()
        self._reader = ReaderThread(f"input-{self.name}")
        self._stopping = self._reader.stopping
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._connections: dict[socket.socket, _Connection] = {}
        self.addresses: dict[str, tuple[str, int]] = {}  # "udp"/"tcp" -> bound address

    def start(self, sink: Any) -> None:
        self.emitter = Emitter(sink, Chain.build(self.config.processors), self._stopping, self.name)
        host, port = self.config.listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if self.config.tcp:
            self._tcp = socket.socket(family, socket.SOCK_STREAM)
            self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._tcp.bind((host, port))
            self._tcp.listen(64)
            self._tcp.setblocking(False)
            self._selector.register(self._tcp, selectors.EVENT_READ, "accept")
            self.addresses["tcp"] = self._tcp.getsockname()[:2]
            port = port or self.addresses["tcp"][1]  # port 0: UDP on the same port TCP got
        if self.config.udp:
            self._udp = socket.socket(family, socket.SOCK_DGRAM)
            self._udp.bind((host, port))
            self._udp.setblocking(False)
            self._selector.register(self._udp, selectors.EVENT_READ, "udp")
            self.addresses["udp"] = self._udp.getsockname()[:2]
        self._selector.register(self._reader.wake_fd, selectors.EVENT_READ, "wake")
        self._reader.start(self._run)

    def stop(self) -> None:
        if not self._reader.stop():
            return
        for sock in [*self._connections, self._tcp, self._udp]:
            if sock is not None:
                sock.close()
        self._connections.clear()
        self._selector.close()
        self._reader.close()

    def report(self) -> dict[str, Any]:
        """Counters for /health and /metrics (connections and errors also as connection stats)."""
        return {**emitter_report(self.emitter), "messages_total": self.stats.messages_total,
                "connections_total": self.stats.connections_total}

    @property
    def address(self) -> dict[str, tuple[str, int]]:
        return self.addresses

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        batch: list[TimedRecord] = []
        first_at = 0.0  # when the oldest record of the batch arrived
        try:
            while not self._stopping.is_set():
                timeout = self._idle_deadline() if not batch else 0.0
                events = self._selector.select(timeout)
                if events and not batch:
                    first_at = time.monotonic()
                for key, _ in events:
                    self._handle(key.data, key.fileobj, batch)
                    if len(batch) >= self.config.batch_max:
                        self._spool(batch)
                self._close_idle()
                # spool when the sockets have nothing more right now, or at the latest after 200 ms
                if batch and (not events or time.monotonic() - first_at > _MAX_BATCH_SECONDS):
                    self._spool(batch)
            if batch:
                self._spool(batch)  # what was read before stop(): stored, not dropped
        except Stopping:
            return
        except Exception:
            log.exception("%s: the syslog input stopped", self.name)

    def _handle(self, kind: str, sock: Any, batch: list[TimedRecord]) -> None:
        if kind == "accept":
            self._accept()
        elif kind == "udp":
            self._read_datagrams(batch)
        elif kind == "tcp":
            self._read_stream(sock, batch)

    def _accept(self) -> None:
        assert self._tcp is not None
        try:
            sock, _ = self._tcp.accept()
        except OSError:
            return
        if len(self._connections) >= self.config.max_connections:
            self.stats.error("too_many_connections")  # refuse the newest, keep the ones we serve
            sock.close()
            return
        sock.setblocking(False)
        self._connections[sock] = _Connection(sock, Framer(self.config.max_message_bytes), time.monotonic())
        self._selector.register(sock, selectors.EVENT_READ, "tcp")
        self.stats.connections_total += 1
        self.stats.connections_active = len(self._connections)

    def _read_datagrams(self, batch: list[TimedRecord]) -> None:
        assert self._udp is not None
        for _ in range(self.config.batch_max):
            try:
                data = self._udp.recv(_RECV_BYTES)
            except BlockingIOError:
                return
            except OSError:
                self.stats.error("udp_read")
                return
            if len(data) > self.config.max_message_bytes:
                self.stats.error("too_large")
                data = data[: self.config.max_message_bytes]
            if data.strip():
                batch.append(parse(data))
                self.stats.messages_total += 1

    def _read_stream(self, sock: socket.socket, batch: list[TimedRecord]) -> None:
        connection = self._connections.get(sock)
        if connection is None:
            return
        try:
            data = sock.recv(_RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            tail = bytes(connection.framer.buffer).strip()
            if tail and not tail[:1].isdigit():
                batch.append(parse(tail))  # the last line without a newline
            self._close(sock)
            return
        connection.last_read = time.monotonic()
        try:
            frames = connection.framer.feed(data)
        except FrameError as err:
            self.stats.error("too_large" if "limit" in str(err) else "bad_frame")
            log.warning("%s: closing a connection: %s", self.name, err)
            self._close(sock)
            return
        received = time.time_ns()
        batch.extend(parse(frame, received) for frame in frames)
        self.stats.messages_total += len(frames)

    def _close(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        self._connections.pop(sock, None)
        sock.close()
        self.stats.connections_active = len(self._connections)

    def _idle_deadline(self) -> float | None:
        if not self._connections:
            return None
        oldest = min(c.last_read for c in self._connections.values())
        return max(0.0, oldest + self.config.idle_timeout - time.monotonic())

    def _close_idle(self) -> None:
        deadline = time.monotonic() - self.config.idle_timeout
        for sock in [s for s, c in self._connections.items() if c.last_read <= deadline]:
            self.stats.error("idle_timeout")
            self._close(sock)

    def _spool(self, pending: list[TimedRecord]) -> None:
        assert self.emitter is not None
        self.emitter.emit(self.config.tag, pending)
        pending.clear()
