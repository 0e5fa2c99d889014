"""rate_limit: a token bucket per source (the value of ``key``, e.g. ``service``; without a key, the
whole input is one source). Records beyond the rate are dropped and counted per source, and one
warning per interval says how many, so a chatty app cannot fill the spool and starve the others.

Memory is bounded: at most ``max_sources`` buckets are kept (least recently seen evicted first).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ..confparse import SectionConfig
from ..errors import ConfigError
from .base import ProcessorStats, TimedRecord, as_text, field_path, lookup

log = logging.getLogger(__name__)
_LOG_EVERY_SECONDS = 10.0


@dataclass(slots=True)
class RateLimitConfig(SectionConfig):
    """``rate`` records per second per source, with bursts up to ``burst`` (default: one second's)."""

    SECTION: ClassVar[str] = "rate_limit"
    rate: float = 100.0
    burst: float = 0.0
    key: str = ""
    max_sources: int = 1000

    def validate(self) -> None:
        if self.rate <= 0:
            raise ConfigError("rate_limit.rate", "must be positive")
        if self.max_sources <= 0:
            raise ConfigError("rate_limit.max_sources", "must be positive")


class RateLimit:
    def __init__(self, config: RateLimitConfig, name: str = "rate_limit",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.stats = ProcessorStats()
        self.dropped_by_source: dict[str, int] = {}  # bounded like the buckets
        self._rate = config.rate
        self._burst = config.burst or config.rate
        self._path = field_path(config.key) if config.key else ()
        self._max_sources = config.max_sources
        self._clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()  # source -> [tokens, updated]
        self._unlogged = 0
        self._logged_at = clock()

    def _source(self, record: dict) -> str:
        if not self._path:
            return ""
        return as_text(lookup(record, self._path)) or ""

    def _take(self, source: str, now: float) -> bool:
        bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = [self._burst, now]
            if len(self._buckets) > self._max_sources:
                evicted, _ = self._buckets.popitem(last=False)
                self.dropped_by_source.pop(evicted, None)
        else:
            self._buckets.move_to_end(source)
            bucket[0] = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return True
        return False

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        now = self._clock()
        kept = []
        for item in records:
            source = self._source(item[1])
            if self._take(source, now):
                kept.append(item)
            else:
                self.dropped_by_source[source] = self.dropped_by_source.get(source, 0) + 1
                self._unlogged += 1
        dropped = len(records) - len(kept)
        if dropped:
            self.stats.drop("rate_limited", dropped)
        if self._unlogged and now - self._logged_at >= _LOG_EVERY_SECONDS:
            log.warning("%s: dropped %d records over the rate limit (%g/s) in the last %.0f s",
                        self.name, self._unlogged, self._rate, now - self._logged_at)
            self._unlogged, self._logged_at = 0, now
        return kept
