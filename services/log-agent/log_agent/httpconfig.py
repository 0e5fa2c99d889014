"""The ``http`` section: where the agent serves /metrics, /health and the routes inputs add (POST /logs),
with which limits, TLS and auth. Read and validated once here; web.py and __main__ only use the values.

A listen address other hosts can reach (not loopback, not a Unix socket) requires auth: a bearer token
(``bearer_token`` or ``bearer_token_file``); without it start-up fails naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sidecar_common.errors
from sidecar_common.http import Listen, ServeLimits, TlsFiles, parse_listen

from .confparse import PARSE, SectionConfig, parse_duration, parse_size
from .errors import ConfigError

DEFAULT_HTTP_LISTEN = "127.0.0.1:24220"


def _listen(value: Any, key: str) -> Listen:
    if isinstance(value, Listen):
        return value
    if not isinstance(value, str):
        raise ConfigError(key, f"expected host:port, [v6]:port or unix:/path, got {value!r}")
    try:
        return parse_listen(value, key)
    except sidecar_common.errors.ConfigError as err:  # as the agent's own, for the agent's handlers
        raise ConfigError(err.key, err.message) from None


@dataclass(slots=True)
class HttpConfig(SectionConfig):
    SECTION: ClassVar[str] = "http"
    listen: Listen = field(default_factory=lambda: _listen(DEFAULT_HTTP_LISTEN, "http.listen"),
                           metadata={PARSE: _listen})
    bearer_token: str = field(default="", repr=False)
    bearer_token_file: str = ""  # read once at start (Docker/balena secrets); wins over bearer_token
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""  # set: clients must present a certificate this CA signed
    max_connections: int = 64
    max_per_client: int = 16
    header_timeout: float = field(default=10.0, metadata={PARSE: parse_duration})
    body_timeout: float = field(default=30.0, metadata={PARSE: parse_duration})
    idle_timeout: float = field(default=30.0, metadata={PARSE: parse_duration})
    max_body_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})  # POST /logs: 413 above

    def validate(self) -> None:
        if self.bearer_token_file:  # read here, once: everything after start-up uses the value
            from sidecar_common.auth import read_secret

            try:
                self.bearer_token = read_secret("", self.bearer_token_file, "http.bearer_token_file")
            except sidecar_common.errors.ConfigError as err:  # as the agent's own, for its handlers
                raise ConfigError(err.key, err.message) from None
        if not self.listen.is_loopback() and not self.bearer_token:
            raise ConfigError("http.bearer_token",
                              f"required: {self.listen} is reachable from other hosts (set "
                              "LOG_AGENT_HTTP_TOKEN or LOG_AGENT_HTTP_TOKEN_FILE, or listen on loopback)")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("http.tls_key_file", "tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("http.tls_client_ca_file", "client certificates need TLS (tls_cert_file)")
        for key in ("max_connections", "max_per_client", "header_timeout", "body_timeout", "idle_timeout",
                    "max_body_bytes"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"http.{key}", "must be positive")

    @property
    def limits(self) -> ServeLimits:
        return ServeLimits(max_connections=self.max_connections, max_per_client=self.max_per_client,
                           header_timeout=self.header_timeout, body_timeout=self.body_timeout,
                           idle_timeout=self.idle_timeout, max_body_bytes=self.max_body_bytes)

    @property
    def tls(self) -> TlsFiles | None:
        if not self.tls_cert_file:
            return None
        return TlsFiles(self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file)
