"""How records become JSON for every output: one envelope, nanosecond RFC 3339 time, safe for any value
a Forward client may send (msgpack bin, ext types)."""

from __future__ import annotations

import base64
import functools
import json
import time
from typing import Any

from ..models import Record


@functools.lru_cache(maxsize=256)
def _utc_second(seconds: int) -> str:
    # Records of one batch mostly share a few seconds; strftime per record was the encoders' hot spot.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def rfc3339_ns(time_ns: int) -> str:
    """2026-11-27T21:13:33.123456789Z: nanoseconds kept (Elasticsearch date_nanos, Loki, humans)."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return f"{_utc_second(seconds)}.{nanos:09d}Z"


def _json_default(value: Any) -> Any:
    # msgpack bin arrives as bytes: text when it is UTF-8, else base64 so nothing is lost.
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode("ascii")}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def to_json(value: Any) -> str:
    """Compact JSON that never raises for odd values (bytes, ext types, sets)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def envelope(record: Record) -> dict[str, Any]:
    """The shape of one record in http, file and stdout output: {"time", "tag", "record"}."""
    return {"time": rfc3339_ns(record.time_ns), "tag": record.tag, "record": record.record}


def json_line(record: Record) -> str:
    """One line of JSON-lines output, newline included."""
    return to_json(envelope(record)) + "\n"
