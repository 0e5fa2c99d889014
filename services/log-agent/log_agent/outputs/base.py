"""The contract of every output: send one batch, say what happened. Retries live in the pipeline."""

from __future__ import annotations

from typing import Protocol

from ..models import Record, SendResult


class Output(Protocol):
    """``send`` must not raise for network trouble: it returns ``SendResult(Outcome.RETRY, reason)``.

    Outputs are built from their config dataclass: ``OutputClass(config)``; each config class offers
    ``from_dict(data)`` (rejects unknown keys with ConfigError) and ``from_url(url)``.
    """

    name: str

    def send(self, records: list[Record]) -> SendResult: ...

    def healthcheck(self) -> bool: ...

    def close(self) -> None: ...
