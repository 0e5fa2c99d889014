"""The optional HTTP connectivity probe: online means a 2xx answer without a redirect.

A redirect means someone else's captive portal (a hotel network): connected, but not online.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

log = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # urllib passes six arguments
        return None  # urllib then raises HTTPError for the 3xx


class HttpProbe:
    """``ConnectivityProbe`` over ``url``."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def online(self) -> bool:
        try:
            with self._opener.open(self.url, timeout=self.timeout) as response:
                return 200 <= response.status < 300
        except (urllib.error.URLError, OSError, ValueError) as err:
            log.info("connectivity probe %s failed: %s", self.url, err)
            return False
