"""The contract of every output: send one batch, say what happened. Retries live in the pipeline."""

from __future__ import annotations

from typing import Protocol

from ..models import Record, SendResult


class Output(Protocol):
    """``send`` must not raise for network trouble: it returns ``SendResult(Outcome.RETRY, reason)``.

    Outputs are built from their config dataclass: ``OutputClass(config)``; each config class offers
    ``from_dict(data)`` (rejects unknown keys with ConfigError) and ``from_url(url)``.

    ``send`` gets Records decoded at the edge by the delivery worker. An output that speaks msgpack
    may also offer ``send_chunks(chunks: list[Chunk]) -> SendResult``: the worker then hands it the
    spooled entry bytes (identity spliced in) and decodes nothing (the Forward output does).
    """

    name: str

    def send(self, records: list[Record]) -> SendResult: ...

    def healthcheck(self) -> bool: ...

    def close(self) -> None: ...
