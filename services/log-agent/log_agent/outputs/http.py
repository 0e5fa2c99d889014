"""http output: POST each batch as a JSON array or as NDJSON to any HTTP(S) endpoint.

Each record is the envelope {"time": RFC 3339 with nanoseconds, "tag": ..., "record": {...}}.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Literal, Self

from ..models import Record
from .encoding import envelope, json_line, to_json
from .httpclient import HttpOptions, HttpOutputBase

_CONTENT_TYPES = {"json": "application/json", "ndjson": "application/x-ndjson"}


@dataclass(frozen=True)
class HttpOutputConfig(HttpOptions):
    format: Literal["json", "ndjson"] = "json"  # json = one array per batch; ndjson = one line per record

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``http(s)://[user:password@]host[:port]/path?query``; the query stays part of the target."""
        return cls.from_dict({"url": url})


class HttpOutput(HttpOutputBase):
    def __init__(self, config: HttpOutputConfig, name: str = "http") -> None:
        super().__init__(name, config)
        self._config = config
        parts = urllib.parse.urlsplit(config.url)
        self._target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))

    def encode(self, records: list[Record]) -> tuple[str, bytes, str]:
        if self._config.format == "ndjson":
            body = "".join(json_line(r) for r in records)
        else:
            body = to_json([envelope(r) for r in records])
        return self._target, body.encode("utf-8"), _CONTENT_TYPES[self._config.format]
