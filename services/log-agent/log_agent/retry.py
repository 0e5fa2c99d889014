"""How every output retries: exponential backoff with full jitter, capped, unlimited by default."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import ClassVar

from .confparse import PARSE, SectionConfig, parse_duration, parse_size
from .errors import ConfigError


@dataclass
class RetryConfig(SectionConfig):
    """Retry/backoff of every output, batch size, dead-letter file, and the SIGTERM flush deadline."""

    SECTION: ClassVar[str] = "retry"
    initial_backoff: float = field(default=0.5, metadata={PARSE: parse_duration})
    max_backoff: float = field(default=60.0, metadata={PARSE: parse_duration})
    multiplier: float = 2.0
    max_attempts: int = 0  # 0: retry forever; otherwise the batch goes to the dead-letter file
    batch_records: int = 5000  # with batch_bytes: one send (and one cursor write) per ~1 MiB
    batch_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    dead_letter_path: str = ""  # "": <spool.dir>/dead-letter.jsonl
    dead_letter_max_bytes: int = field(default=16 * 1024 * 1024, metadata={PARSE: parse_size})
    flush_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})  # < docker stop's 10 s

    def validate(self) -> None:
        if self.initial_backoff <= 0:
            raise ConfigError("retry.initial_backoff", "must be > 0")
        if self.max_backoff < self.initial_backoff:
            raise ConfigError("retry.max_backoff", "must be >= initial_backoff")
        if self.multiplier < 1:
            raise ConfigError("retry.multiplier", "must be >= 1")
        if self.max_attempts < 0:
            raise ConfigError("retry.max_attempts", "must be >= 0 (0 retries forever)")
        if self.batch_records < 1:
            raise ConfigError("retry.batch_records", "must be >= 1")
        if self.batch_bytes < 1024:
            raise ConfigError("retry.batch_bytes", "must be >= 1024")

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, initial * multiplier**(attempt-1))); a Retry-After wins."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** min(attempt - 1, 64))
        delay = rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.max_backoff)
        return delay
