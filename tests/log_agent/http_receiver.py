"""A local HTTP server for output tests: records every request exactly (method, target, headers, raw
body) and answers what the test scripts: 200 by default, or queued replies such as 429 with
Retry-After, 503, a dropped connection, or an Elasticsearch _bulk answer with per-item statuses.

    with HttpReceiver() as receiver:
        receiver.script(Reply(429, headers={"Retry-After": "7"}), Reply(200))
        ...POST to receiver.url...
        request = receiver.requests[0]
        request.header("Content-Encoding"), request.data (gunzipped), request.json()

Binds 127.0.0.1 on port 0; HTTP/1.1 with keep-alive, so clients that reuse connections are exercised;
optionally HTTPS with a given certificate.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str  # path + query, as sent
    headers: list[tuple[str, str]]  # in order, duplicates kept
    body: bytes  # raw, as on the wire

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def data(self) -> bytes:
        """The body after Content-Encoding (gzip) is undone."""
        return gzip.decompress(self.body) if self.header("Content-Encoding") == "gzip" else self.body

    def json(self) -> Any:
        return json.loads(self.data)

    def ndjson(self) -> list[Any]:
        text = self.data.decode("utf-8")
        assert text.endswith("\n"), "NDJSON body must end with a newline"
        return [json.loads(line) for line in text.splitlines()]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False  # close the socket without answering
    close_after: bool = False  # answer, then close the keep-alive connection without saying so
    delay_s: float = 0.0


Responder = Callable[[RecordedRequest], Reply]


def bulk_reply(statuses: list[int]) -> Responder:
    """An Elasticsearch _bulk answer: item i gets statuses[i] (errors get an error object)."""

    def status_of(index: int, document: dict[str, Any], count: int) -> int:
        assert count == len(statuses), f"{count} actions, scripted {len(statuses)}"
        return statuses[index]

    return bulk_reply_by(status_of)


def bulk_reply_by(status_of: Callable[[int, dict[str, Any], int], int]) -> Responder:
    """A _bulk answer whose item statuses come from status_of(index, document, item count)."""

    def respond(request: RecordedRequest) -> Reply:
        documents = request.ndjson()[1::2]
        statuses = [status_of(i, doc, len(documents)) for i, doc in enumerate(documents)]
        items = []
        for status in statuses:
            result: dict[str, Any] = {"_index": "x", "status": status}
            if status >= 300:
                kind = "es_rejected_execution_exception" if status == 429 else "mapper_parsing_exception"
                result["error"] = {"type": kind, "reason": f"scripted {status}"}
            items.append({"create": result})
        body = {"took": 1, "errors": any(s >= 300 for s in statuses), "items": items}
        return Reply(200, json.dumps(body).encode())

    return respond


class HttpReceiver:
    """``tls=(cert_file, key_file)`` serves HTTPS instead of HTTP."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: list[Reply | Responder] = []
        self.default: Reply | Responder = Reply()  # the answer when nothing is scripted
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._scheme = "https" if tls else "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}"

    def script(self, *replies: Reply | Responder) -> None:
        """Answer the next requests with these, in order; afterwards ``default`` again."""
        with self._lock:
            self._script.extend(replies)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} requests, got {len(self.requests)}"
                self._arrived.wait(left)
            return list(self.requests)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            scripted = self._script.pop(0) if self._script else self.default
        return scripted if isinstance(scripted, Reply) else scripted(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = RecordedRequest(self.command, self.path, list(self.headers.items()), body)
                reply = receiver._next_reply(request)
                time.sleep(reply.delay_s)
                if reply.drop_connection:
                    self.close_connection = True
                    return
                try:
                    self._answer(reply)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (its timeout); nothing to answer

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                self.close_connection = reply.close_after

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests assert on self.requests instead."""

        return Handler

    def start(self) -> HttpReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
