"""HTTP input: ``POST /logs/<tag>`` on the agent's one HTTP listener (the input mounts its route on
the bottle app the agent serves; it opens no port of its own).

Body: a JSON object (one record), a JSON array of objects, or NDJSON (one object per line), optionally
``Content-Encoding: gzip``. The answer is ``200 {"records": n}`` only once the records are fsynced in
the spool, so a client that got a 2xx can forget them even if the agent is killed right after;
``400`` names what is wrong (``line 3: not a JSON object``), ``413`` when the body or what it
inflates to is over the limit, ``503`` (with Retry-After) when the spool cannot store or the agent's
memory budget is in use. Inflating is bounded (never more than ``max_inflated_bytes`` is produced)
and counted in the agent's memory budget. The listener's own limits (connections, deadlines, body
size) and its token/TLS settings apply: see the http section of CONFIGURATION.md.

Record time: the time the request was received (records keep their own ``time`` field as data).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..confparse import PARSE, SectionConfig, parse_size
from ..errors import BudgetExceeded, ConfigError, SpoolError
from ..processors import Chain, ProcessorSpec, parse_processors
from .emit import Emitter, Stopping
from .report import emitter_report

log = logging.getLogger(__name__)
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(slots=True)
class HttpInputConfig(SectionConfig):
    """``tag_prefix`` is put before the tag from the URL (``app`` + ``/logs/web`` -> ``app.web``)."""

    SECTION: ClassVar[str] = "http"
    name: str = "http"
    path: str = "/logs"
    tag_prefix: str = ""
    max_body_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    max_inflated_bytes: int = field(default=8 * 1024 * 1024, metadata={PARSE: parse_size})
    max_records: int = 10000
    processors: tuple[ProcessorSpec, ...] = field(default=(), metadata={PARSE: parse_processors})

    def validate(self) -> None:
        if not self.path.startswith("/") or self.path.endswith("/"):
            raise ConfigError("http.path", f"expected a path such as /logs, got {self.path!r}")
        if self.path in ("/metrics", "/health"):
            raise ConfigError("http.path", f"{self.path} is the agent's own endpoint")
        for key in ("max_body_bytes", "max_inflated_bytes", "max_records"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"http.{key}", "must be positive")


class BadRequest(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_body(body: bytes, max_records: int) -> list[dict[str, Any]]:
    """JSON object, JSON array of objects, or NDJSON -> records; BadRequest(400) naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest(400, f"body is not UTF-8 (byte {err.start})") from None
    stripped = text.strip()
    if not stripped:
        raise BadRequest(400, "empty body: send a JSON object, an array of objects or NDJSON")
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as err:
        if err.msg != "Extra data":
            raise BadRequest(400, f"body is not JSON: {err.msg} at line {err.lineno} column {err.colno}") \
                from None
        return _ndjson(stripped, max_records)
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise BadRequest(400, f"expected a JSON object or an array of objects, got {type(value).__name__}")
    if len(value) > max_records:
        raise BadRequest(413, f"{len(value)} records is over the limit of {max_records} per request")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRequest(400, f"item {index} is not a JSON object")
    return value


def _ndjson(text: str, max_records: int) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadRequest(400, f"line {number}: not JSON: {err.msg} at column {err.colno}") from None
        if not isinstance(value, dict):
            raise BadRequest(400, f"line {number}: not a JSON object")
        records.append(value)
        if len(records) > max_records:
            raise BadRequest(413, f"more than {max_records} records in one request")
    return records


def inflate(data: bytes, limit: int) -> bytes:
    """gzip -> bytes, producing at most ``limit`` bytes (BadRequest 413 beyond, 400 if not gzip)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as err:
        raise BadRequest(400, f"body is not valid gzip: {err}") from None
    if len(out) > limit:
        raise BadRequest(413, f"body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise BadRequest(400, "body is not valid gzip: truncated")
    return out


class HttpInputStats:
    def __init__(self) -> None:
        self.requests_total = 0
        self.records_total = 0
        self.errors: dict[str, int] = {}  # bad_request, too_large, spool, memory_budget

    def error(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1


class HttpInput:
    def __init__(self, config: HttpInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = HttpInputStats()
        self.emitter: Emitter | None = None
        self._stopping = threading.Event()

    def start(self, sink: Any) -> None:
        self.emitter = Emitter(sink, Chain.build(self.config.processors), self._stopping, self.name)

    def stop(self) -> None:
        self._stopping.set()

    def report(self) -> dict[str, Any]:
        """Counters for /health and /metrics."""
        return {**emitter_report(self.emitter), "requests_total": self.stats.requests_total,
                "errors": dict(self.stats.errors)}

    def mount(self, app: Any) -> None:
        """Add ``POST <path>/<tag>`` to the agent's bottle app."""
        app.route(f"{self.config.path}/<tag>", method="POST", callback=self._post)

    def _post(self, tag: str) -> Any:
        import bottle

        self.stats.requests_total += 1
        try:
            records = self._records(bottle.request)
            if not TAG.match(tag):
                raise BadRequest(400, f"tag {tag!r}: use letters, digits, '_', '.', '-' (at most 128)")
            if self.emitter is None:
                raise SpoolError("the input is not started")
            full_tag = f"{self.config.tag_prefix}.{tag}" if self.config.tag_prefix else tag
            received = time.time_ns()
            self.emitter.emit(full_tag, [(received, record) for record in records], retry=False)
        except BadRequest as err:
            self.stats.error("too_large" if err.status == 413 else "bad_request")
            return _answer(err.status, {"error": str(err)})
        except (SpoolError, Stopping, BudgetExceeded) as err:
            self.stats.error("memory_budget" if isinstance(err, BudgetExceeded) else "spool")
            log.warning("%s: answering 503: %s", self.name, err)
            return _answer(503, {"error": f"cannot store the records now: {err}"}, retry_after="1")
        self.stats.records_total += len(records)
        return _answer(200, {"records": len(records)})

    def _records(self, request: Any) -> list[dict[str, Any]]:
        length = request.content_length
        if length > self.config.max_body_bytes:
            raise BadRequest(413, f"body of {length} bytes is over the limit of {self.config.max_body_bytes}")
        body = request.environ["wsgi.input"].read(self.config.max_body_bytes + 1) if length else b""
        if len(body) > self.config.max_body_bytes:
            raise BadRequest(413, f"body is over the limit of {self.config.max_body_bytes} bytes")
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            budget = getattr(self.emitter.sink if self.emitter else None, "budget", None)
            hold = budget.hold(self.config.max_inflated_bytes) if budget else contextlib.nullcontext()
            with hold:
                body = inflate(body, self.config.max_inflated_bytes)
        elif encoding not in ("", "identity"):
            raise BadRequest(400, f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
        return parse_body(body, self.config.max_records)


def _answer(status: int, document: dict[str, Any], retry_after: str = "") -> Any:
    import bottle

    response = bottle.HTTPResponse(json.dumps(document) + "\n", status=status)
    response.content_type = "application/json"
    if retry_after:
        response.set_header("Retry-After", retry_after)
    return response
