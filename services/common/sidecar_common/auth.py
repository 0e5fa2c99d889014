"""HTTP authentication for every sidecar endpoint that is reachable beyond this machine.

``HttpAuth`` accepts a bearer token (``Authorization: Bearer <token>``) and/or HTTP Basic users.
Basic-auth passwords are stored as given, "plain": there is no bcrypt here on purpose (a device-local
secret read from a root-only file or a container secret; a slow hash would cost a CPU-second per request
on a small device and a new dependency). Keep them in files (``*_FILE`` settings, see ``read_secret``),
never in argv or a child's environment. A users file has one ``name:password`` per line; ``#`` starts
a comment line (``parse_users``).

Every comparison is constant-time (``hmac.compare_digest`` over the whole candidate list, no early exit
on the user name either), and no credential is ever logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sidecar_common.errors import ConfigError
from sidecar_common.http.listen import Listen

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class HttpAuth:
    """Who may call: a bearer token and/or Basic users (name -> plain password). Empty = nobody."""

    bearer_token: str = ""
    basic_users: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "basic_users", MappingProxyType(dict(self.basic_users)))

    def configured(self) -> bool:
        return bool(self.bearer_token or self.basic_users)

    def check(self, environ: Mapping[str, Any]) -> bool:
        """True when the request's Authorization header carries a valid token or user:password."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer" and self.bearer_token:
            return _equal(credentials, self.bearer_token)
        if scheme == "basic" and self.basic_users:
            return self._check_basic(credentials)
        return False

    def _check_basic(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        # Compare against every user so the time does not tell which names exist.
        matched = False
        for known_user, known_password in self.basic_users.items():
            matched |= _equal(user, known_user) & _equal(password, known_password)
        return matched


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_auth(app: WsgiApp, auth: HttpAuth | None, realm: str) -> WsgiApp:
    """``app`` behind ``auth``: anything else gets 401 with ``WWW-Authenticate``. ``None`` (or an
    ``HttpAuth`` with nothing configured) returns ``app`` unchanged: the caller decided (see
    ``require_auth_beyond_loopback``) that this listener needs none."""
    if auth is None or not auth.configured():
        return app
    challenges = []
    if auth.basic_users:
        challenges.append(("WWW-Authenticate", f'Basic realm="{_quoted(realm)}", charset="UTF-8"'))
    if auth.bearer_token:
        challenges.append(("WWW-Authenticate", f'Bearer realm="{_quoted(realm)}"'))
    body = b"authentication required\n"

    def authenticated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if auth.check(environ):
            return app(environ, start_response)
        start_response("401 Unauthorized", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *challenges,
        ])
        return [body]

    return authenticated


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def read_secret(value: str, file: str, key: str) -> str:
    """The secret from ``file`` when given (it wins over ``value``), else ``value``.

    One trailing newline is stripped (what ``echo`` and editors add). An unreadable file raises
    ``ConfigError(key, ...)``; so does an empty file (a mistake, never "no password"). Neither the
    secret nor the file's contents appear in the message.
    """
    if not file:
        return value
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise ConfigError(key, f"cannot read the secret file {file}: {reason}") from None
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    if not text:
        raise ConfigError(key, f"the secret file {file} is empty")
    return text


def parse_users(text: str, key: str) -> dict[str, str]:
    """``name:password`` lines (blank lines and ``#`` comment lines ignored) -> {name: password}."""
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, password = line.partition(":")
        name = name.strip()
        if not sep or not name or not password:
            raise ConfigError(key, f"line {number}: expected name:password")  # never echo the line
        if name in users:
            raise ConfigError(key, f"line {number}: user {name!r} given twice")
        users[name] = password
    return users


def require_auth_beyond_loopback(listen: Listen, auth: HttpAuth | None, key: str) -> None:
    """Refuse (``ConfigError(key, ...)``) a listener other machines can reach when no auth is set."""
    if listen.is_loopback() or (auth is not None and auth.configured()):
        return
    raise ConfigError(key, f"{listen} is reachable from other machines: configure authentication "
                           "(a bearer token or basic users) or listen on 127.0.0.1 or a unix: socket")
