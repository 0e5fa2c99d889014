"""Short-timeout HTTP GETs to the sidecars on loopback (stdlib: one request per slow tick needs no more)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from ..errors import CollectorError

# No proxy: these URLs are local, and an HTTP_PROXY meant for the application must not capture them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_BYTES = 1 << 20


class EndpointDown(CollectorError):
    """The endpoint did not answer 200 in time: a fact to report (up 0), not a collector failure."""


def fetch(url: str, timeout: float) -> bytes:
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.read(MAX_BYTES)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise EndpointDown(f"GET {url}: {getattr(err, 'reason', err)}") from err


def fetch_json(url: str, timeout: float) -> Any:
    body = fetch(url, timeout)
    try:
        return json.loads(body)
    except ValueError as err:
        raise EndpointDown(f"GET {url}: not JSON ({err})") from err
