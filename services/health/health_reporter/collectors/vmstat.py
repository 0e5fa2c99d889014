"""<proc>/vmstat fields as node_vmstat_<field> (node_exporter's vmstat collector, untyped as there).

Only node_exporter's default field set (its --collector.vmstat.fields) unless the ``fields`` option
gives another regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import CollectorError
from ..models import Sample, untyped
from ..paths import Paths
from .common import BaseCollector, check_regex, read_text

DEFAULT_FIELDS = r"^(oom_kill|pgpg|pswp|pg.*fault).*"


@dataclass(frozen=True)
class VmstatOptions:
    fields: str = DEFAULT_FIELDS

    def __post_init__(self) -> None:
        check_regex(self.fields, "fields")


def parse_vmstat(text: str, pattern: re.Pattern[str]) -> list[tuple[str, float]]:
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            raise CollectorError(f"vmstat: unexpected line {line[:60]!r}")
        if pattern.match(parts[0]):
            try:
                found.append((parts[0], float(parts[1])))
            except ValueError as err:
                raise CollectorError(f"vmstat: {parts[0]}: not a number") from err
    return found


class VmstatCollector(BaseCollector):
    name = "vmstat"
    Options = VmstatOptions

    def __init__(self, paths: Paths, options: Any = None) -> None:
        super().__init__(paths, options)
        self._pattern = re.compile(self.options.fields)
        self._wanted: dict[str, bool] = {}

    def collect(self) -> list[Sample]:
        """Each field name is matched against the pattern once (the kernel's field set is fixed)."""
        samples = []
        for line in read_text(self.paths.in_proc("vmstat")).splitlines():
            parts = line.split()
            if len(parts) != 2:
                raise CollectorError(f"vmstat: unexpected line {line[:60]!r}")
            name = parts[0]
            if name not in self._wanted:
                self._wanted[name] = bool(self._pattern.match(name))
            if self._wanted[name]:
                try:
                    value = float(parts[1])
                except ValueError as err:
                    raise CollectorError(f"vmstat: {name}: not a number") from err
                help_text = f"/proc/vmstat information field {name}."
                samples.append(untyped(f"node_vmstat_{name}", value, help_text))
        return samples
