"""A small WSGI test client (the subset of Flask's the web tests use) for the bottle apps: it calls the app
directly, no server, no sockets; Host ``localhost`` and client address 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import io
import json as jsonlib
import sys
from urllib.parse import urlencode, urlsplit

from requests.structures import CaseInsensitiveDict


class TestResponse:
    __test__ = False  # not a pytest class

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = CaseInsensitiveDict(headers)
        self.header_list = headers
        self.data = body

    @property
    def mimetype(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip()

    @property
    def text(self) -> str:
        return self.data.decode()

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.text if as_text else self.data

    def get_json(self) -> object:
        return jsonlib.loads(self.data)


class WsgiClient:
    def __init__(self, app, remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.remote_addr = remote_addr

    def open(self, path: str, method: str = "GET", *, data: object = None, json: object = None,
             headers: dict[str, str] | None = None, content_type: str | None = None,
             chunked: bool = False) -> TestResponse:
        parts = urlsplit(path)
        body, kind = _encode_body(data, json)
        environ = {
            "REQUEST_METHOD": method.upper(), "SCRIPT_NAME": "", "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.remote_addr, "HTTP_HOST": "localhost",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if chunked:
            environ["HTTP_TRANSFER_ENCODING"] = "chunked"
            framed = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            environ["wsgi.input"] = io.BytesIO(framed + b"0\r\n\r\n")
        elif body or method.upper() in ("POST", "PUT"):
            environ["CONTENT_LENGTH"] = str(len(body))
        if content_type or kind:
            environ["CONTENT_TYPE"] = content_type or kind
        for name, value in (headers or {}).items():
            key = name.upper().replace("-", "_")
            environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        captured: dict[str, object] = {}

        def start_response(status, response_headers, exc_info=None):
            captured["status"], captured["headers"] = status, response_headers

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if method.upper() == "HEAD":
            payload = b""
        return TestResponse(captured["status"], captured["headers"], payload)

    def get(self, path: str, **kwargs) -> TestResponse:
        return self.open(path, "GET", **kwargs)

    def post(self, path: str, **kwargs) -> TestResponse:
        return self.open(path, "POST", **kwargs)

    def options(self, path: str, **kwargs) -> TestResponse:
        return self.open(path, "OPTIONS", **kwargs)


def _encode_body(data: object, json: object) -> tuple[bytes, str | None]:
    if json is not None:
        return jsonlib.dumps(json).encode(), "application/json"
    if isinstance(data, dict):
        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    if isinstance(data, str):
        return data.encode(), None
    return data or b"", None
