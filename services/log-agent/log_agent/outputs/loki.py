"""loki output: Loki push API JSON (POST /loki/api/v1/push).

Records are grouped into streams by a few low-cardinality labels (the tag, the device identity);
per-line fields stay in the line or go to structured metadata. Values are ["<ns as string>", "<line>"]
sorted by time within each stream, because older Loki versions reject out-of-order entries.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, Self

from ..errors import ConfigError
from ..models import Record
from .encoding import to_json
from .httpclient import HttpOptions, HttpOutputBase

PUSH_PATH = "/loki/api/v1/push"
TAG_FIELD = "$tag"  # in labels/structured_metadata: the record's tag rather than a record field
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _default_labels() -> dict[str, str]:
    # the tag tells apps apart (one stream per app and device); never BALENA_SERVICE_NAME, which is
    # the agent's own service and would merge every app into one stream
    return {"tag": TAG_FIELD, "device": "device.uuid"}


@dataclass(frozen=True)
class LokiOutputConfig(HttpOptions):
    # label name -> "$tag" or a dotted record path ("device.uuid"); records without the field omit it.
    labels: dict[str, str] = field(default_factory=_default_labels)
    static_labels: dict[str, str] = field(default_factory=lambda: {"job": "log-agent"})
    # name -> "$tag" or record path, sent as the optional third element of each value.
    structured_metadata: dict[str, str] = field(default_factory=dict)
    line_format: Literal["json", "message"] = "json"  # message = record["message"] or ["log"] as is
    tenant_id: str = ""  # X-Scope-OrgID for multi-tenant Loki

    def validate(self, section: str) -> None:
        super().validate(section)
        for key in ("labels", "static_labels"):
            for name in getattr(self, key):
                if not _LABEL_NAME.match(name):
                    raise ConfigError(f"{section}.{key}.{name}", "not a valid Loki label name")
        if not self.static_labels and TAG_FIELD not in self.labels.values():
            raise ConfigError(f"{section}.labels", "needs a static label or '$tag' so no stream is empty")

    SECTION: ClassVar[str] = "loki"

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``loki+http(s)://[user:pw@]host[:port][/prefix][?tenant_id=..&gzip=true]``: query = options."""
        options, path = cls.from_api_url(url)
        return cls.from_dict({**options, "url": options["url"] + path})


def field_value(record: Record, path: str) -> Any:
    """``$tag`` or a dotted path into the record map; None when absent."""
    if path == TAG_FIELD:
        return record.tag
    value: Any = record.record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return to_json(value)


def _pick(record: Record, mapping: dict[str, str]) -> dict[str, str]:
    picked = {name: field_value(record, path) for name, path in mapping.items()}
    return {name: _as_text(value) for name, value in picked.items() if value is not None}


class LokiOutput(HttpOutputBase):
    def __init__(self, config: LokiOutputConfig, name: str = "loki") -> None:
        if config.tenant_id:
            config = replace(config, headers={**config.headers, "X-Scope-OrgID": config.tenant_id})
        super().__init__(name, config)
        self._config = config
        path = urllib.parse.urlsplit(config.url).path.rstrip("/")
        self._target = path if path.endswith(PUSH_PATH) else path + PUSH_PATH

    def _line(self, record: Record) -> str:
        if self._config.line_format == "message":
            for key in ("message", "log"):
                if isinstance(record.record.get(key), str | bytes):
                    return _as_text(record.record[key])
        return to_json(record.record)

    def _value(self, record: Record) -> list[Any]:
        value: list[Any] = [str(record.time_ns), self._line(record)]
        metadata = _pick(record, self._config.structured_metadata)
        if metadata:
            value.append(metadata)
        return value

    def streams(self, records: list[Record]) -> list[dict[str, Any]]:
        """Group by label set (first-seen order), each stream's values sorted by time (stable)."""
        grouped: dict[tuple[tuple[str, str], ...], list[Record]] = {}
        for record in records:
            labels = {**self._config.static_labels, **_pick(record, self._config.labels)}
            grouped.setdefault(tuple(sorted(labels.items())), []).append(record)
        return [
            {"stream": dict(key), "values": [self._value(r) for r in sorted(group, key=lambda r: r.time_ns)]}
            for key, group in grouped.items()
        ]

    def encode(self, records: list[Record]) -> tuple[str, bytes, str]:
        body = to_json({"streams": self.streams(records)}).encode("utf-8")
        return self._target, body, "application/json"

