"""What the http, loki and elasticsearch outputs share: connection options (auth, TLS, gzip, timeout),
one keep-alive HTTP client on http.client, and the status -> Outcome rules:
2xx delivered; 429, 5xx and connection errors retried (Retry-After honoured); other 4xx rejected.

Secrets (passwords, bearer tokens, custom headers) are kept out of repr(), logs and SendResult reasons.
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import http.client
import logging
import os
import ssl
import time
import urllib.parse
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from ..confparse import dataclass_from_dict
from ..errors import ConfigError, OutputError
from ..models import Outcome, Record, SendResult

log = logging.getLogger(__name__)

USER_AGENT = "log-agent (edge-sidecars)"
_REASON_BODY_CHARS = 300  # enough of an error body to diagnose, not enough to flood a dead letter


@dataclass(frozen=True)
class HttpOptions:
    """Connection options common to the HTTP-family outputs (YAML keys of the same names)."""

    url: str = ""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    gzip: bool = False
    timeout_s: float = 10.0
    username: str = ""
    password: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)
    tls_verify: bool = True
    tls_ca_file: str = ""

    SECTION: ClassVar[str] = "http"  # names keys in errors: "<SECTION>.<key>"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Credentials in ``url`` move to username/password (explicit keys win); then every field is
        checked and ``validate`` runs."""
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            from_url, _ = split_output_url(data["url"])
            data = {**from_url, **data, "url": from_url["url"]}
        config = dataclass_from_dict(cls, data, cls.SECTION)
        config.validate(cls.SECTION)
        return config

    @classmethod
    def from_api_url(cls, url: str) -> tuple[dict[str, Any], str]:
        """For APIs with fixed paths (loki, elasticsearch) the URL's query string carries options:
        ``kind+http(s)://[user:pw@]host[:port][/path][?key=value...]`` -> (options, path), where
        options["url"] is scheme://host:port."""
        options, query = split_output_url(url)
        parts = urllib.parse.urlsplit(options["url"])
        options["url"] = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return {**query, **options}, parts.path

    def validate(self, section: str) -> None:
        """Checks that need several fields; from_dict of each output calls it."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            shown = redact(self.url)
            raise ConfigError(f"{section}.url", f"expected http(s)://host[:port]/..., got {shown!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
        except ValueError:
            raise ConfigError(f"{section}.url", "the port is not a number 0-65535") from None
        if self.tls_ca_file and not os.path.isfile(self.tls_ca_file):
            raise ConfigError(f"{section}.tls_ca_file", f"no such file: {self.tls_ca_file!r}")
        if self.password and not self.username:
            raise ConfigError(f"{section}.username", "required when password is set")
        if self.bearer_token and self.username:
            raise ConfigError(f"{section}.bearer_token", "use either bearer_token or username/password")
        if self.timeout_s <= 0:
            raise ConfigError(f"{section}.timeout_s", "must be greater than 0")


def split_output_url(url: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Split an output URL such as ``loki+https://user:pw@host:3100/path?tenant_id=a`` (the kind
    prefix before "+" is dropped).

    Returns (options, query): options holds ``url`` (plain http(s) URL, credentials removed) and
    ``username``/``password`` when the URL had them; query is the parsed query string, which the
    caller either keeps in the URL (http) or reads as options (loki, elasticsearch).
    """
    scheme, sep, rest = url.partition("://")
    parts = urllib.parse.urlsplit(scheme.rpartition("+")[2] + sep + rest)
    options: dict[str, Any] = {}
    if parts.username:
        options["username"] = urllib.parse.unquote(parts.username)
    if parts.password:
        options["password"] = urllib.parse.unquote(parts.password)
    netloc = parts.netloc.rpartition("@")[2]
    options["url"] = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    return options, dict(urllib.parse.parse_qsl(parts.query))


def redact(url: str) -> str:
    """The URL without credentials or query string (tokens often hide there): safe for logs."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def reason_text(self) -> str:
        snippet = self.body[:_REASON_BODY_CHARS].decode("utf-8", "replace")
        return f"HTTP {self.status}: {snippet}".strip()


class HttpClient:
    """One persistent connection to one endpoint; not thread-safe (each output has one reader)."""

    def __init__(self, options: HttpOptions) -> None:
        self._options = options
        parts = urllib.parse.urlsplit(options.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._base_headers = {"User-Agent": USER_AGENT} | self._auth_headers() | dict(options.headers)
        self._connection: http.client.HTTPConnection | None = None

    def _auth_headers(self) -> dict[str, str]:
        if self._options.bearer_token:
            return {"Authorization": f"Bearer {self._options.bearer_token}"}
        if self._options.username:
            pair = f"{self._options.username}:{self._options.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def _connect(self) -> http.client.HTTPConnection:
        timeout = self._options.timeout_s
        if not self._https:
            return http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        context = ssl.create_default_context(cafile=self._options.tls_ca_file or None)
        if not self._options.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=context)

    def post(self, target: str, body: bytes, content_type: str) -> HttpResponse:
        """POST ``body`` to ``target`` (path + query). Raises OutputError(retryable=True) when the
        server could not be reached or the connection broke."""
        headers = {**self._base_headers, "Content-Type": content_type}
        if self._options.gzip:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        reused = self._connection is not None
        try:
            return self._request(target, body, headers)
        except (OSError, http.client.HTTPException) as err:
            # A reused keep-alive connection the server closed while idle earns one fresh attempt.
            if not (reused and isinstance(err, ConnectionError)):
                raise OutputError(f"{redact(self._options.url)}: {err!r}") from err
        try:
            return self._request(target, body, headers)
        except (OSError, http.client.HTTPException) as err:
            raise OutputError(f"{redact(self._options.url)}: {err!r}") from err

    def _request(self, target: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.request("POST", target, body=body, headers=headers)
            response = self._connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:
            self.close()
        return HttpResponse(response.status, response.headers, payload)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def retry_after_seconds(headers: http.client.HTTPMessage, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    value = headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def result_for_status(response: HttpResponse) -> SendResult:
    """2xx -> DELIVERED; 429/5xx (and 408) -> RETRY with Retry-After; other statuses -> REJECTED."""
    if 200 <= response.status < 300:
        return SendResult(Outcome.DELIVERED)
    if response.status in (408, 429) or response.status >= 500:
        return SendResult(Outcome.RETRY, response.reason_text(), retry_after_seconds(response.headers))
    return SendResult(Outcome.REJECTED, response.reason_text())


class HttpOutputBase(ABC):
    """send() = encode the batch, POST it, interpret the answer. Subclasses provide ``encode`` and may
    override ``interpret`` (Elasticsearch reads per-item results)."""

    def __init__(self, name: str, options: HttpOptions) -> None:
        self.name = name
        self._client = HttpClient(options)
        self._display_url = redact(options.url)
        self._last_ok = True

    @abstractmethod
    def encode(self, records: list[Record]) -> tuple[str, bytes, str]:
        """(target path + query, body, content type) for one batch."""

    def interpret(self, response: HttpResponse, records: list[Record]) -> SendResult:
        return result_for_status(response)

    def send(self, records: list[Record]) -> SendResult:
        if not records:
            return SendResult(Outcome.DELIVERED)
        target, body, content_type = self.encode(records)
        try:
            response = self._client.post(target, body, content_type)
        except OutputError as err:
            self._last_ok = False
            return SendResult(Outcome.RETRY, str(err))
        result = self.interpret(response, records)
        self._last_ok = result.outcome is not Outcome.RETRY
        if result.outcome is not Outcome.DELIVERED or result.rejected:  # the pipeline warns once per outage
            log.debug("%s %s: %s %s", self.name, self._display_url, result.outcome.value, result.reason)
        return result

    def healthcheck(self) -> bool:
        """Whether the last send reached the server and was not told to retry (no extra traffic)."""
        return self._last_ok

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, url={self._display_url!r})"

