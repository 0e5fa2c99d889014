"""The knobs of ``HttpServer`` (``ServeLimits``, ``TlsFiles``) and what it reports (``ServerStats``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ServeLimits:
    """Bounds on what clients may hold; each closes a way to deny service (see ``sidecar_common.http``)."""

    max_connections: int = 64  # total open connections across all clients (beyond: refused, counted)
    max_per_client: int = 16  # per peer IP (Unix socket: not applied)
    header_timeout: float = 10.0  # a request head (or TLS handshake) must end this soon after it began
    idle_timeout: float = 30.0  # a connection with no request in progress is closed after this
    body_timeout: float = 30.0  # a request body must be complete this long after its head
    max_header_bytes: int = 16384  # larger -> 431
    max_body_bytes: int = 1 << 20  # larger (also chunked) -> 413
    threads: int = 2  # WSGI worker threads

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not value > 0:  # also false for NaN
                raise ValueError(f"ServeLimits.{spec.name} must be positive, got {value!r}")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for TLS; with ``client_ca_file`` clients must present a certificate it signed (mTLS)."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""


REFUSAL_REASONS = ("total", "per_client")
CLOSE_REASONS = (
    "header_timeout",  # head (or TLS handshake) not complete within header_timeout of its start
    "idle_timeout",  # no request in progress for idle_timeout
    "body_timeout",  # body not complete within body_timeout of the head
    "send_timeout",  # the client stopped reading our response for idle_timeout
    "too_large",  # head over max_header_bytes (431) or body over max_body_bytes (413)
    "bad_request",  # unparsable request (400/501 sent by waitress)
    "tls_error",  # TLS handshake or record failure
)


@dataclass(frozen=True, slots=True)
class ServerStats:
    """A snapshot of a server's counters, for a service's metrics (every known reason present, maybe 0)."""

    open_connections: int = 0
    accepted_total: int = 0
    refused_total: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    closed_total: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


class StatsCounter:
    """Mutable counters behind ``ServerStats``; updated from the server's loop thread, read from any."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = dict.fromkeys(REFUSAL_REASONS, 0)
        self.closed = dict.fromkeys(CLOSE_REASONS, 0)

    def count_accept(self) -> None:
        with self._lock:
            self.accepted += 1

    def count_refusal(self, reason: str) -> None:
        with self._lock:
            self.refused[reason] = self.refused.get(reason, 0) + 1

    def count_close(self, reason: str) -> None:
        with self._lock:
            self.closed[reason] = self.closed.get(reason, 0) + 1

    def snapshot(self, open_connections: int) -> ServerStats:
        with self._lock:
            return ServerStats(
                open_connections=open_connections,
                accepted_total=self.accepted,
                refused_total=MappingProxyType(dict(self.refused)),
                closed_total=MappingProxyType(dict(self.closed)),
            )
