"""stdout output: JSON lines on the agent's stdout (or stderr), the default when no output is
configured, so `docker logs` shows what would be shipped."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal, Self

from ..confparse import dataclass_from_dict
from ..errors import ConfigError
from ..models import Outcome, Record, SendResult
from .encoding import json_line


@dataclass(frozen=True)
class StdoutOutputConfig:
    stream: Literal["stdout", "stderr"] = "stdout"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return dataclass_from_dict(cls, data, "stdout")

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``stdout:`` or ``stderr:``."""
        scheme = url.partition(":")[0]
        if scheme not in ("stdout", "stderr"):
            raise ConfigError("stdout.stream", f"expected stdout: or stderr:, got {url!r}")
        return cls(stream=scheme)


class StdoutOutput:
    def __init__(self, config: StdoutOutputConfig | None = None, name: str = "stdout") -> None:
        self.name = name
        self._config = config or StdoutOutputConfig()
        self._last_ok = True

    def send(self, records: list[Record]) -> SendResult:
        # Looked up per call so a replaced sys.stdout (tests, reopened streams) is honoured.
        stream = sys.stdout if self._config.stream == "stdout" else sys.stderr
        try:
            stream.write("".join(json_line(r) for r in records))
            stream.flush()
        except OSError as err:  # a closed pipe: the container runtime is not reading
            self._last_ok = False
            return SendResult(Outcome.RETRY, f"{self._config.stream}: {err}")
        self._last_ok = True
        return SendResult(Outcome.DELIVERED)

    def healthcheck(self) -> bool:
        return self._last_ok

    def close(self) -> None:
        """Nothing to release: the stream belongs to the process."""
