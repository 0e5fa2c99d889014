"""Authentication in front of the app: sidecar_common's HttpAuth (bearer token, basic users with plain
passwords, constant-time) plus the bcrypt-hashed users of an exporter-toolkit web config file.

bcrypt is checked with the C library's crypt(3) (libxcrypt, in every Debian and in the python:*-slim
images; ``$2a$``/``$2b$``/``$2y$``), through ctypes: no new dependency. A check costs what the hash's cost
factor says (~50 ms at cost 10 here), so, as exporter-toolkit does, a successful check is remembered (by
a SHA-256 of user, password and hash, in RAM, at most CACHE_SIZE entries) and a scrape every 15 s pays
it once. Unknown users are checked against a dummy hash so the time does not tell which names exist.

/healthz and /readyz stay open: they say only whether the sampler runs, and Docker's HEALTHCHECK must
reach them without credentials.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sidecar_common.auth import HttpAuth

from ..web_access import WebAccess

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
CACHE_SIZE = 64
# A valid bcrypt hash of a random password: unknown users cost the same as known ones.
_DUMMY_HASH = "$2y$10$KwWOTgsGgX3Qw/8GzE4w9.Oz8b4x3XvXlAjzQXOg5mNEXW.OJw8x2"


class BcryptUsers:
    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)
        self._lock = threading.Lock()  # crypt(3) returns a static buffer
        self._verified: dict[bytes, None] = {}
        self._crypt = _libcrypt() if users else None

    def check(self, header: str) -> bool:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic" or self._crypt is None:
            return False
        try:
            user, sep, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeError, ValueError):
            return False
        hashed = self._users.get(user, _DUMMY_HASH)
        key = hashlib.sha256("\0".join((user, password, hashed)).encode()).digest()
        with self._lock:
            if key in self._verified:
                return sep == ":" and user in self._users
            computed = self._crypt(password.encode(), hashed.encode()) or b""
            ok = hmac.compare_digest(computed, hashed.encode()) and user in self._users and sep == ":"
            if ok:
                if len(self._verified) >= CACHE_SIZE:
                    self._verified.pop(next(iter(self._verified)))
                self._verified[key] = None
            return ok


def _libcrypt() -> Callable[[bytes, bytes], bytes | None]:
    import ctypes  # only with bcrypt users: ctypes.util costs 0.4 MiB the other configurations never need
    import ctypes.util

    library = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    crypt = library.crypt
    crypt.restype = ctypes.c_char_p
    crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    return crypt


def protect(app: WsgiApp, access: WebAccess, realm: str = "health-reporter") -> WsgiApp:
    """``app`` behind the configured credentials; unchanged when none are configured (loopback)."""
    plain = HttpAuth(bearer_token=access.bearer_token, basic_users=access.basic_users)
    hashed = BcryptUsers(access.bcrypt_users)
    if not plain.configured() and not access.bcrypt_users:
        return app  # loopback without credentials, or client certificates only (checked by TLS)
    challenges = []
    if access.basic_users or access.bcrypt_users:
        challenges.append(("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'))
    if access.bearer_token:
        challenges.append(("WWW-Authenticate", f'Bearer realm="{realm}"'))
    body = b"authentication required\n"

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") in OPEN_PATHS or plain.check(environ):
            return app(environ, start_response)
        if hashed.check(environ.get("HTTP_AUTHORIZATION", "")):
            return app(environ, start_response)
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        start_response("401 Unauthorized", headers + challenges)
        return [body]

    return guarded
