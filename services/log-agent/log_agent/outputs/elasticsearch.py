"""elasticsearch output (also OpenSearch): POST /_bulk with NDJSON ``create`` actions.

``create`` because data streams accept nothing else. Each document is the record plus "@timestamp"
(RFC 3339 with nanoseconds, for date_nanos) and "tag", added only when the record has no such key.
Per-item results: 2xx/409 done, 429/5xx retried, other errors rejected (their indexes reach the dead
letter through SendResult.rejected). On a partial retry the output remembers which items of that batch
are done, so resending the same batch does not index them twice.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from ..errors import ConfigError
from ..models import Outcome, Record, SendResult
from .encoding import rfc3339_ns, to_json
from .httpclient import HttpOptions, HttpOutputBase, HttpResponse, result_for_status

_REASONS_SHOWN = 3


@dataclass(frozen=True)
class ElasticsearchOutputConfig(HttpOptions):
    index: str = "log-agent"  # an index, alias or data stream name
    tag_key: str = "tag"  # document key for the record's tag; "" leaves it out
    pipeline: str = ""  # ingest pipeline, sent as ?pipeline=

    def validate(self, section: str) -> None:
        super().validate(section)
        if not self.index or self.index != self.index.lower() or any(c in self.index for c in ' "*\\/<>|,#?'):
            raise ConfigError(f"{section}.index", f"not a valid index name: {self.index!r}")

    SECTION: ClassVar[str] = "elasticsearch"

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``es+http(s)://[user:pw@]host[:port]/<index>[?pipeline=..&gzip=true]``: query = options."""
        options, path = cls.from_api_url(url)
        index = path.strip("/")
        return cls.from_dict({**options, **({"index": index} if index else {})})


@dataclass
class _PartialBatch:
    """Items of one batch already settled while others wait for a retry."""

    digest: bytes
    settled: set[int] = field(default_factory=set)
    rejected: dict[int, str] = field(default_factory=dict)


class ElasticsearchOutput(HttpOutputBase):
    def __init__(self, config: ElasticsearchOutputConfig, name: str = "elasticsearch") -> None:
        super().__init__(name, config)
        self._config = config
        self._action = to_json({"create": {"_index": config.index}}) + "\n"
        query = urllib.parse.urlencode({"pipeline": config.pipeline}) if config.pipeline else ""
        self._target = "/_bulk" + (f"?{query}" if query else "")
        self._partial: _PartialBatch | None = None
        self._in_flight: list[int] = []  # batch indexes of the items in the current request, in order

    def document(self, record: Record) -> str:
        extra = {"@timestamp": rfc3339_ns(record.time_ns)}
        if self._config.tag_key:
            extra[self._config.tag_key] = record.tag
        return to_json({**extra, **record.record})  # the record's own keys win

    def encode(self, records: list[Record]) -> tuple[str, bytes, str]:
        documents = [self.document(r) for r in records]
        digest = hashlib.sha256("\n".join(documents).encode("utf-8")).digest()
        if self._partial is None or self._partial.digest != digest:
            self._partial = _PartialBatch(digest)  # a different batch: forget the old one
        self._in_flight = [i for i in range(len(records)) if i not in self._partial.settled]
        body = "".join(self._action + documents[i] + "\n" for i in self._in_flight)
        return self._target, body.encode("utf-8"), "application/x-ndjson"

    def interpret(self, response: HttpResponse, records: list[Record]) -> SendResult:
        if not 200 <= response.status < 300:
            return result_for_status(response)
        try:
            items = json.loads(response.body)["items"]
        except (ValueError, KeyError, TypeError):
            return SendResult(Outcome.RETRY, f"unreadable _bulk response: {response.reason_text()}")
        if len(items) != len(self._in_flight):
            return SendResult(Outcome.RETRY, f"_bulk answered {len(items)} items for {len(self._in_flight)}")
        assert self._partial is not None
        retry = self._settle(items, self._partial)
        if retry:
            return SendResult(Outcome.RETRY, f"{retry} of {len(records)} items throttled or failed, retrying")
        partial, self._partial = self._partial, None
        return SendResult(Outcome.DELIVERED, _summary(partial.rejected), rejected=sorted(partial.rejected))

    def _settle(self, items: list[dict[str, Any]], partial: _PartialBatch) -> int:
        """Record each item's fate in ``partial``; return how many must be retried."""
        retry = 0
        for index, item in zip(self._in_flight, items, strict=True):
            result = next(iter(item.values()), {}) if isinstance(item, dict) else {}
            status = result.get("status", 500) if isinstance(result, dict) else 500
            if status == 429 or status >= 500:
                retry += 1
                continue
            partial.settled.add(index)
            if not (200 <= status < 300 or status == 409):  # 409: the document already exists
                partial.rejected[index] = _item_error(status, result)
        return retry


def _item_error(status: int, result: dict[str, Any]) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return f"{status} {error.get('type', '')}: {error.get('reason', '')}"
    return f"{status} {error or ''}".strip()


def _summary(rejected: dict[int, str]) -> str:
    if not rejected:
        return ""
    shown = "; ".join(f"item {i}: {reason}" for i, reason in sorted(rejected.items())[:_REASONS_SHOWN])
    return f"{len(rejected)} rejected ({shown})"
