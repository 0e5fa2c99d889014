"""The processor registry: kind -> (module, config class, processor class), imported on first use, and
the chain an input runs its records through before they are spooled.

YAML, per input::

    inputs:
      - type: journald
        processors:
          - {type: parse_json, mode: merge}
          - {type: level}
          - {type: grep, exclude: {message: "healthcheck"}}
          - {type: redact, patterns: ["password=\\\\S+"]}
          - {type: rate_limit, rate: 200, key: service}
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..confparse import rekey
from ..errors import ConfigError
from .base import Processor, TimedRecord

# kind -> (module, config class, processor class)
KINDS: dict[str, tuple[str, str, str]] = {
    "parse_json": ("parse_json", "ParseJsonConfig", "ParseJson"),
    "level": ("level", "LevelConfig", "Level"),
    "grep": ("grep", "GrepConfig", "Grep"),
    "redact": ("redact", "RedactConfig", "Redact"),
    "rate_limit": ("rate_limit", "RateLimitConfig", "RateLimit"),
    "docker_partial": ("partial", "DockerPartialConfig", "DockerPartial"),
}


def _classes(kind: str) -> tuple[Any, Any]:
    module_name, config_name, processor_name = KINDS[kind]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, config_name), getattr(module, processor_name)


@dataclass(frozen=True, slots=True)
class ProcessorSpec:
    kind: str
    config: Any


def parse_processors(value: Any, key: str) -> tuple[ProcessorSpec, ...]:
    """A YAML ``processors:`` list -> validated specs; ConfigError naming e.g. ``processors[1].rate``."""
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(item, ProcessorSpec) for item in value):
        return value  # already parsed
    if not isinstance(value, list):
        raise ConfigError(key, "expected a list of processors ({type: <kind>, ...options})")
    specs = []
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(item_key, f"expected a mapping, got {type(item).__name__}")
        options = dict(item)
        kind = options.pop("type", None)
        if kind not in KINDS:
            raise ConfigError(f"{item_key}.type", f"unknown processor {kind!r} (known: {', '.join(KINDS)})")
        config_class, _ = _classes(kind)
        try:
            specs.append(ProcessorSpec(kind, config_class.from_dict(options)))
        except ConfigError as err:
            raise rekey(err, item_key) from err
    return tuple(specs)


class Chain:
    """The processors of one input, in order. ``dropped()`` sums what each removed on purpose."""

    def __init__(self, processors: Iterable[Processor]) -> None:
        self.processors = tuple(processors)
        # Processors keep state (rate limit buckets, pieces of split lines): one batch at a time, as
        # the HTTP input calls from several server threads.
        self._lock = threading.Lock()

    @classmethod
    def build(cls, specs: Iterable[ProcessorSpec]) -> Chain:
        processors = []
        for index, spec in enumerate(specs):
            _, processor_class = _classes(spec.kind)
            processors.append(processor_class(spec.config, name=f"{spec.kind}.{index}"))
        return cls(processors)

    def __bool__(self) -> bool:
        return bool(self.processors)

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        with self._lock:
            for processor in self.processors:
                if not records:
                    break
                records = processor(records)
        return records

    def dropped(self) -> dict[tuple[str, str], int]:
        """(processor name, reason) -> records dropped, for metrics."""
        return {(p.name, reason): count for p in self.processors
                for reason, count in p.stats.dropped.items()}
