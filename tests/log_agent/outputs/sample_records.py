"""Records for output tests, with known nanosecond times."""

from __future__ import annotations

from log_agent.models import Record

T0 = 1_764_277_200_123_456_789  # 2025-11-27T21:00:00.123456789Z
T0_TEXT = "2025-11-27T21:00:00.123456789Z"


def make_records(count: int, tag: str = "app.web", **fields: object) -> list[Record]:
    return [Record(tag, T0 + i, {"message": f"line {i}", "seq": i, **fields}) for i in range(count)]
