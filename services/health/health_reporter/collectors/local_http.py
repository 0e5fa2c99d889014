"""Short-timeout HTTP GETs to the sidecars on loopback (stdlib: one request per slow tick needs no more)."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.error
import urllib.request
from typing import Any

from ..errors import CollectorError

# No proxy: these URLs are local, and an HTTP_PROXY meant for the application must not capture them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_BYTES = 1 << 20


# Why a probe failed, as a metric label: a fixed set, so no free text makes a new series (the text stays
# in /status). The dashboard words each one (web/words.py).
REASONS = ("timeout", "refused", "reset", "unreachable", "name_unresolved", "http_4xx", "http_5xx",
           "bad_response")  # fmt: skip


class EndpointDown(CollectorError):
    """The endpoint did not answer 200 in time: a fact to report (up 0), not a collector failure.
    ``reason`` is one of REASONS; the message keeps the details."""

    def __init__(self, message: str, reason: str = "bad_response") -> None:
        super().__init__(message)
        self.reason = reason


def failure_reason(err: BaseException) -> str:
    """The REASONS entry for an exception urllib raised (URLError wraps the socket error in .reason)."""
    if isinstance(err, urllib.error.HTTPError):
        return "http_5xx" if err.code >= 500 else "http_4xx"
    cause = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(cause, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(cause, ConnectionRefusedError):
        return "refused"
    if isinstance(cause, ConnectionResetError | ConnectionAbortedError | http.client.RemoteDisconnected):
        return "reset"
    if isinstance(cause, socket.gaierror):
        return "name_unresolved"
    if isinstance(cause, OSError):
        return "unreachable"
    return "bad_response"


def fetch(url: str, timeout: float) -> bytes:
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.read(MAX_BYTES)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise EndpointDown(f"GET {url}: {getattr(err, 'reason', err)}", failure_reason(err)) from err


def fetch_json(url: str, timeout: float) -> Any:
    body = fetch(url, timeout)
    try:
        return json.loads(body)
    except ValueError as err:
        raise EndpointDown(f"GET {url}: not JSON ({err})") from err
