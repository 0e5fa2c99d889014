"""The optional Forward v1 handshake: HELO (server), PING (client), PONG (server). Pure, no I/O.

Both sides prove they know ``shared_key`` without sending it: PING carries
sha512_hex(salt + client_hostname + nonce + key), PONG carries the same over the server's hostname, so
the client authenticates the server too (mutual).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError
from .decode import normalize
from .encode import pack


def digest(*parts: str | bytes) -> str:
    """sha512 hex over the concatenation of the parts (str parts as UTF-8)."""
    hasher = hashlib.sha512()
    for part in parts:
        hasher.update(part.encode("utf-8") if isinstance(part, str) else part)
    return hasher.hexdigest()


def random_token() -> str:
    return os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class Helo:
    nonce: str | bytes  # Fluentd sends random bytes (bin); digests use the raw bytes
    auth_salt: str | bytes  # empty: no username/password required
    keepalive: bool = True

    def encode(self) -> bytes:
        return pack(["HELO", {"nonce": self.nonce, "auth": self.auth_salt, "keepalive": self.keepalive}])


@dataclass(frozen=True, slots=True)
class Ping:
    hostname: str
    shared_key_salt: str | bytes
    shared_key_digest: str
    username: str
    password_digest: str

    @classmethod
    def create(
        cls, helo: Helo, hostname: str, shared_key: str, username: str = "", password: str = ""
    ) -> Ping:
        salt = random_token()
        password_digest = digest(helo.auth_salt, username, password) if helo.auth_salt else ""
        return cls(hostname, salt, digest(salt, hostname, helo.nonce, shared_key), username, password_digest)

    def encode(self) -> bytes:
        return pack(
            [
                "PING",
                self.hostname,
                self.shared_key_salt,
                self.shared_key_digest,
                self.username,
                self.password_digest,
            ]
        )

    def verify(self, helo: Helo, shared_key: str, users: dict[str, str]) -> str:
        """Return "" when the client proved the key (and password, when users are configured),
        otherwise the reason to put in PONG."""
        expected = digest(self.shared_key_salt, self.hostname, helo.nonce, shared_key)
        if not hmac.compare_digest(expected, self.shared_key_digest):
            return "shared_key mismatch"
        if users:
            password = users.get(self.username)
            if password is None:
                return "username/password mismatch"
            expected = digest(helo.auth_salt, self.username, password)
            if not hmac.compare_digest(expected, self.password_digest):
                return "username/password mismatch"
        return ""


@dataclass(frozen=True, slots=True)
class Pong:
    auth_ok: bool
    reason: str
    hostname: str
    shared_key_digest: str

    @classmethod
    def create(cls, helo: Helo, ping: Ping, reason: str, hostname: str, shared_key: str) -> Pong:
        if reason:  # never prove the key to a client that did not prove it first
            return cls(False, reason, hostname, "")
        return cls(True, "", hostname, digest(ping.shared_key_salt, hostname, helo.nonce, shared_key))

    def encode(self) -> bytes:
        return pack(["PONG", self.auth_ok, self.reason, self.hostname, self.shared_key_digest])

    def verify(self, helo: Helo, ping: Ping, shared_key: str) -> None:
        """Client side: raise ProtocolError unless the server accepted us and proved the key."""
        if not self.auth_ok:
            raise ProtocolError(f"server refused authentication: {self.reason or 'no reason given'}")
        expected = digest(ping.shared_key_salt, self.hostname, helo.nonce, shared_key)
        if not hmac.compare_digest(expected, self.shared_key_digest):
            raise ProtocolError("server PONG digest mismatch: it does not know the shared_key")


def _fields(message: Any, name: str, count: int) -> list[Any]:
    message = normalize(message)
    if not isinstance(message, list) or len(message) != count or message[0] != name:
        raise ProtocolError(f"expected a {name} message of {count} elements")
    return message[1:]


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string")
    return value


def _salt(value: Any, what: str) -> str | bytes:
    """Nonces and salts may be str or bin (Fluentd and Fluent Bit send random bytes)."""
    if not isinstance(value, str | bytes):
        raise ProtocolError(f"{what} must be a string or binary")
    return value


def parse_helo(message: Any) -> Helo:
    (options,) = _fields(message, "HELO", 2)
    if not isinstance(options, dict):
        raise ProtocolError("HELO options must be a map")
    return Helo(
        _salt(options.get("nonce"), "HELO nonce"),
        _salt(options.get("auth", ""), "HELO auth"),
        bool(options.get("keepalive", True)),
    )


def parse_ping(message: Any) -> Ping:
    hostname, salt, key_digest, username, password_digest = _fields(message, "PING", 6)
    return Ping(
        _text(hostname, "PING hostname"),
        _salt(salt, "PING shared_key_salt"),
        _text(key_digest, "PING shared_key digest"),
        _text(username, "PING username"),
        _text(password_digest, "PING password digest"),
    )


def parse_pong(message: Any) -> Pong:
    auth_ok, *rest = _fields(message, "PONG", 5)
    if not isinstance(auth_ok, bool):
        raise ProtocolError("PONG auth_result must be a boolean")
    reason, hostname, key_digest = (_text(value, "PONG field") for value in rest)
    return Pong(auth_ok, reason, hostname, key_digest)
