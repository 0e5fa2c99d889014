"""The checks (one module each), built from HEALTH_CHECKS, and the runner that turns their readings into
states, transitions (events) and metrics.

Metrics follow node_exporter's scrape_collector_success idea: ``device_check_measured{check}`` is 0 or 1
for every enabled check, and ``device_check_status{check}`` (0 ok, 1 warning, 2 critical) exists only for
measured checks, so no sentinel value pretends to be a level and ``max(device_check_status)`` stays right.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..models import Level, Sample, gauge
from ..snapshot import Snapshot
from .base import Check, Pending, Reading
from .clock import ClockCheck
from .containers import ContainersCheck
from .disk import DiskCheck
from .log_backlog import LogBacklogCheck
from .memory import MemoryCheck
from .sidecar import SidecarCheck
from .temperature import TemperatureCheck
from .throttling import ThrottlingCheck
from .undervoltage import UndervoltageCheck
from .wifi_signal import WifiSignalCheck

log = logging.getLogger(__name__)
events = logging.getLogger("health_reporter.events")  # bare JSON lines, see web.configure_logging
MEASURED_HELP = "1 when the device reports what the check reads, 0 when not (no WiFi, no sensor...)."
STATUS_HELP = "Check status: 0 ok, 1 warning, 2 critical; absent while the check is not measured."
OVERALL_HELP = "Worst status of the measured checks: 0 ok, 1 warning, 2 critical."

REGISTRY: dict[str, type[Check]] = {
    check.name: check
    for check in (
        DiskCheck,
        MemoryCheck,
        TemperatureCheck,
        UndervoltageCheck,
        ThrottlingCheck,
        ClockCheck,
        WifiSignalCheck,
        LogBacklogCheck,
        SidecarCheck,
        ContainersCheck,
    )
}


def build_checks(overrides: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """Every registered check with its defaults overridden per check; ``enabled: false`` leaves one out."""
    unknown = sorted(set(overrides) - set(REGISTRY))
    if unknown:
        raise ConfigError(f"HEALTH_CHECKS.{unknown[0]}", f"unknown check (known: {', '.join(REGISTRY)})")
    checks = [cls.from_dict(dict(overrides.get(name, {}))) for name, cls in REGISTRY.items()]
    return [check for check in checks if check.settings.enabled]


@dataclass(frozen=True)
class CheckState:
    name: str
    title: str
    level: Level
    value: float | None
    message: str  # what was observed
    since: float  # when the check entered this level
    pending: Pending | None = None

    @property
    def reading(self) -> Level:
        """The worst of the level and what the latest readings point to (a pending rise counts)."""
        return max(self.level, self.pending.level) if self.pending else self.level

    def to_json(self) -> dict[str, Any]:
        # While debouncing the message says so next to the level it still has, so that "ok" beside
        # "clock not synchronised" is never read as a contradiction by an API client either.
        suffix = f" ({self.pending.describe(self.level)})" if self.pending else ""
        return {
            "check": self.name,
            "title": self.title,
            "status": self.level.name.lower(),
            "value": self.value,
            "message": self.message + suffix,
            "since": self.since,
            "pending": self.pending.to_json() if self.pending else None,
        }


@dataclass(frozen=True)
class Transition:
    check: str
    previous: Level
    level: Level
    value: float | None
    message: str
    at: float

    def to_record(self) -> dict[str, Any]:
        return {
            "event": "check_transition",
            "check": self.check,
            "from": self.previous.name.lower(),
            "to": self.level.name.lower(),
            "value": self.value,
            "message": self.message,
            "time": self.at,
        }


class CheckRunner:
    """Evaluates every check once per snapshot; a check that raises keeps its previous state.

    A check's first evaluation is an event only when it finds a problem: start-up (or a device without
    WiFi) must not send ten "unknown -> ok" events."""

    def __init__(self, checks: list[Check], clock: Callable[[], float] = time.time) -> None:
        self._checks = checks
        self._clock = clock
        started = clock()
        self._states = {
            c.name: CheckState(c.name, c.title, Level.UNKNOWN, None, "not evaluated yet", started)
            for c in checks
        }
        self._evaluated: set[str] = set()

    def run(self, snap: Snapshot, slow_fresh: bool = True) -> list[Transition]:
        """``slow_fresh`` False: the slow samples in ``snap`` are repeats, so slow-fed checks keep their
        state instead of counting the same reading again."""
        transitions = []
        now = self._clock()
        for check in self._checks:
            if check.slow_input and not slow_fresh:
                continue
            previous = self._states[check.name]
            try:
                reading = check.evaluate(snap)
            except Exception:  # a buggy check must not stop the others (or the sampler)
                log.exception("check %s failed", check.name)
                continue
            since = previous.since if reading.level == previous.level else now
            self._states[check.name] = _state(check, reading, since)
            first = check.name not in self._evaluated
            self._evaluated.add(check.name)
            if reading.level != previous.level and (not first or reading.level > Level.OK):
                transitions.append(
                    Transition(check.name, previous.level, reading.level, reading.value, reading.message, now)
                )
        for transition in transitions:
            events.info(json.dumps(transition.to_record()))
        return transitions

    @property
    def states(self) -> list[CheckState]:
        return list(self._states.values())

    @property
    def overall(self) -> Level:
        """The worst measured check; unknown only when no check measured anything."""
        return max((state.level for state in self._states.values()), default=Level.UNKNOWN)

    @property
    def worst_reading(self) -> Level:
        """The worst current reading, pending rises included: what the dashboard's header shows, so it
        never says ok while a sidecar is down but not yet confirmed down."""
        return max((state.reading for state in self._states.values()), default=Level.UNKNOWN)

    def samples(self) -> list[Sample]:
        samples = []
        for state in self._states.values():
            measured = state.level != Level.UNKNOWN
            samples.append(gauge("device_check_measured", measured, MEASURED_HELP, check=state.name))
            if measured:
                samples.append(gauge("device_check_status", state.level, STATUS_HELP, check=state.name))
        if self.overall != Level.UNKNOWN:
            samples.append(gauge("device_health_status", self.overall, OVERALL_HELP))
        return samples


def _state(check: Check, reading: Reading, since: float) -> CheckState:
    return CheckState(
        check.name, check.title, reading.level, reading.value, reading.message, since, reading.pending
    )
