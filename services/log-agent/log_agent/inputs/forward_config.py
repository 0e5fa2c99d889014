"""The Forward input's settings, counters and socket helpers (forward.py is the server)."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import ClassVar

from ..confparse import PARSE, SectionConfig, is_loopback, parse_duration, parse_listen, parse_size
from ..errors import ConfigError, LogAgentError
from ..protocol import Limits

log = logging.getLogger("log_agent.inputs.forward")  # one logger name for the whole input

RECV_BYTES = 64 * 1024
_LOG_EVERY_SECONDS = 5.0  # refusals come in floods: one line per interval, with a count
_CLOSE_DRAIN_READS = 16  # bounded: a client that keeps streaming must not hold a closing connection


@dataclass(slots=True)
class ForwardInputConfig(SectionConfig):
    """``listen`` is "host:port" (port 0 picks a free one); ``shared_key`` enables the handshake and
    ``users`` (username -> password) adds user auth on top; ``tls_cert_file``/``tls_key_file`` enable
    TLS on the TCP port, ``tls_client_ca_file`` also requires client certificates (mutual TLS)."""

    SECTION: ClassVar[str] = "forward"
    listen: tuple[str, int] = field(default=("127.0.0.1", 24224), metadata={PARSE: parse_listen})
    unix_path: str | None = None
    unix_mode: str = "0660"
    shared_key: str | None = field(default=None, repr=False)
    users: dict[str, str] = field(default_factory=dict, repr=False)
    self_hostname: str = field(default_factory=socket.gethostname)
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None  # set: clients must present a certificate this CA signed
    heartbeat: bool = True
    max_frame_bytes: int = field(default=8 * 1024 * 1024, metadata={PARSE: parse_size})
    max_decompressed_bytes: int = field(default=32 * 1024 * 1024, metadata={PARSE: parse_size})
    # One thread per connection: 64 keeps a reconnecting burst from costing hundreds of threads
    # (and their stacks and malloc arenas); at the limit new clients are refused.
    max_connections: int = 64
    idle_timeout: float = field(default=60.0, metadata={PARSE: parse_duration})
    handshake_timeout: float = field(default=10.0, metadata={PARSE: parse_duration})
    # Docker's fluentd log driver splits lines over 16 KiB: join its partial_message pieces
    # (processors/partial.py; chunks without pieces are passed on undecoded)
    docker_partial: bool = True
    docker_partial_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})
    docker_partial_max_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    name: str = "forward"

    def validate(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("forward.tls_key_file", "tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("forward.tls_client_ca_file", "client certificates need TLS (tls_cert_file)")
        if self.users and not self.shared_key:
            raise ConfigError("forward.users", "user auth needs shared_key (it rides on the handshake)")
        if self.shared_key == "":
            raise ConfigError("forward.shared_key", "must not be empty (omit it to disable the handshake)")
        if not is_loopback(self.listen[0]) and not (self.shared_key or self.tls_client_ca_file):
            # anyone on the open setup access point could otherwise inject lines shipped with our identity
            raise ConfigError("forward.listen", f"{self.listen[0]} is reachable from other hosts: set "
                              "shared_key (the Forward handshake) or tls_client_ca_file (client "
                              "certificates)")
        try:
            int(self.unix_mode, 8)
        except ValueError:
            message = f"expected an octal mode such as 0660, got {self.unix_mode!r}"
            raise ConfigError("forward.unix_mode", message) from None
        for key in ("max_frame_bytes", "max_decompressed_bytes", "max_connections",
                    "docker_partial_max_bytes"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"forward.{key}", "must be positive")

    @property
    def limits(self) -> Limits:
        return Limits(self.max_frame_bytes, self.max_decompressed_bytes)


class ForwardStats:
    """Counters for metrics; read them without the lock (ints are replaced atomically)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections_total = 0
        self.connections_active = 0
        self.records_total = 0
        self.requests_total = 0
        self.acks_total = 0
        self.heartbeats_total = 0
        self.errors: dict[str, int] = {}

    def add(self, counter: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + amount)

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors[reason] = self.errors.get(reason, 0) + 1


class ThrottledLog:
    """Log a recurring event at most once per ``interval`` seconds, saying how many were folded in."""

    def __init__(self, level: int, interval: float = _LOG_EVERY_SECONDS) -> None:
        self.level = level
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            self._last, suppressed, self._suppressed = now, self._suppressed, 0
        more = f" (and {suppressed} more in the last {self.interval:g} s)" if suppressed else ""
        log.log(self.level, message + more, *args)


class ConnectionClosed(LogAgentError):
    """Closing a connection on purpose; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def server_tls_context(config: ForwardInputConfig) -> ssl.SSLContext | None:
    if not config.tls_cert_file:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError("forward.tls_cert_file", f"cannot load certificate/key: {err}") from err
    if config.tls_client_ca_file:
        try:
            context.load_verify_locations(cafile=config.tls_client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError("forward.tls_client_ca_file", f"cannot load the CA: {err}") from err
        context.verify_mode = ssl.CERT_REQUIRED
    return context



def wake(listener: socket.socket) -> None:
    """Make a blocked accept()/recvfrom() return now rather than at its next poll timeout."""
    with contextlib.suppress(OSError):
        if listener.type == socket.SOCK_DGRAM:  # shutdown() does not wake an unconnected UDP socket
            listener.sendto(b"", listener.getsockname())
        elif listener.family == socket.AF_UNIX:  # nor a listening Unix socket: knock instead
            with socket.socket(socket.AF_UNIX) as knock:
                knock.connect(listener.getsockname())
        else:
            shutdown(listener)


def shutdown(conn: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    """Wake a thread blocked in recv()/accept() on this socket (close() alone does not)."""
    with contextlib.suppress(OSError):
        conn.shutdown(how)


def close_after_last_reply(conn: socket.socket) -> None:
    """Close so the last ack still arrives: FIN after it, and unread bytes discarded first, because
    close() with unread bytes makes Linux reset the connection and drop what it had not sent yet."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.setblocking(False)
        for _ in range(_CLOSE_DRAIN_READS):
            if not conn.recv(RECV_BYTES):
                break
    conn.close()
