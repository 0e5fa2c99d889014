"""A minimal Docker/balena engine API client over its Unix socket (http.client on AF_UNIX).
Also usable by autoheal for POST /containers/<id>/restart."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from ..errors import CollectorError


class EngineError(CollectorError):
    """The engine socket exists but the request failed (refused, timeout, non-2xx, not JSON)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class EngineClient:
    def __init__(self, socket_path: str, timeout: float = 3.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(self, method: str, path: str) -> Any:
        """The decoded JSON body (None for an empty one); EngineError on any failure."""
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            connection.request(method, path, headers={"Host": "docker"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as err:
            raise EngineError(f"{method} {path} on {self.socket_path}: {err}") from err
        finally:
            connection.close()
        if not 200 <= response.status < 300:
            raise EngineError(f"{method} {path} on {self.socket_path}: HTTP {response.status} {body[:200]!r}")
        try:
            return json.loads(body) if body.strip() else None
        except ValueError as err:
            raise EngineError(f"{method} {path}: answer is not JSON") from err

    def containers(self) -> list[dict[str, Any]]:
        answer = self.request("GET", "/containers/json?all=1")
        if not isinstance(answer, list):
            raise EngineError("GET /containers/json: expected a list")
        return answer
