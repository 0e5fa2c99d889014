r"""How records become JSON for every output: one envelope, nanosecond RFC 3339 time, safe for any value
a Forward client may send. The scheme (the same in the dead-letter file):

- msgpack str that is not valid UTF-8 was decoded with ``surrogateescape`` (protocol/entries.py):
  each bad byte 0xXY is written as the JSON escape ``\udcXY`` (a lone low surrogate; Python's
  ``json.loads(...).encode("utf-8", "surrogateescape")`` gives the original bytes back);
- msgpack bin: text when it is UTF-8, else ``{"base64": "..."}``; as a map key (no objects allowed
  there) text when UTF-8, else the ``\udcXY`` form above;
- other keys (int, float, bool, nil) as JSON does; ext types and anything else as their repr();
- nesting deeper than 200 levels is cut: the deeper value becomes its repr() (truncated).
"""

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


_MAX_DEPTH = 200
_REPR_CHARS = 1000


def _safe(value: Any, depth: int = 0) -> Any:
    """A copy JSON can encode: keys made text, too-deep values cut (only used when dumps failed)."""
    if isinstance(value, dict | list | tuple) and depth >= _MAX_DEPTH:
        return repr(value)[:_REPR_CHARS]
    if isinstance(value, dict):
        return {_safe_key(key): _safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(item, depth + 1) for item in value]
    return value


def _safe_key(key: Any) -> Any:
    if isinstance(key, bytes):
        return key.decode("utf-8", "surrogateescape")
    if key is None or isinstance(key, str | int | float | bool):
        return key
    return repr(key)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def to_json(value: Any) -> str:
    """Compact JSON that never raises for odd values (bytes keys and values, ext types, sets, lone
    surrogates, absurd nesting): the result always encodes as UTF-8."""
    try:
        text = _dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = _dumps(_safe(value))
    if text.isascii():  # a flag check: the common case costs nothing more
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from non-UTF-8 str: write them as \udcXY escapes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def envelope(record: Record) -> dict[str, Any]:
    """The shape of one record in http, file and stdout output: {"time", "tag", "record"}."""
    return {"time": rfc3339_ns(record.time_ns), "tag": record.tag, "record": record.record}


def json_line(record: Record) -> str:
    """One line of JSON-lines output, newline included."""
    return to_json(envelope(record)) + "\n"
