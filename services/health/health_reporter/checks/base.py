"""What every check shares: settings parsed from a dict, hysteresis, and the reading it produces.

Two kinds of check:
- ``ThresholdCheck``: a number against warn/critical thresholds. The level rises as soon as a threshold is
  crossed and drops only once the value is back past ``threshold - hysteresis`` (Netdata's "warn > 80 while
  warning, else > 90" idea), so a value hovering at a threshold does not produce a storm of events.
- ``ConditionCheck``: a discrete condition (under-voltage, sidecar down...). The level rises after
  ``raise_after`` consecutive samples and drops after ``clear_after`` consecutive better samples.

Either kind is ``unknown`` while the device does not report what it reads (no WiFi, no sensor, not a Pi,
collector failing): at once, without debouncing, since there is nothing to debounce.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from ..errors import ConfigError
from ..models import Level
from ..snapshot import Snapshot

LEVEL_NAMES = {level.name.lower(): level for level in Level}
NOT_MEASURED = "not measured on this device"


@dataclass(frozen=True, slots=True)
class Pending:
    """A condition check waiting out its debounce: the level the readings point to, how many consecutive
    readings it needs and how many it has so far. Shown as its own state ("pending"), never as the old
    level's colour beside the new reading's words."""

    level: Level
    needed: int
    so_far: int

    def describe(self, current: Level) -> str:
        target = self.level.name.lower() if self.level > current else f"back to {self.level.name.lower()}"
        return f"{target} after {self.needed} samples, {self.so_far} so far"

    def to_json(self) -> dict[str, object]:
        return {"status": self.level.name.lower(), "after": self.needed, "so_far": self.so_far}


@dataclass(frozen=True)
class Reading:
    """A check's verdict on one snapshot. ``value`` is None for conditions and when nothing was measured;
    ``message`` is what was observed, ``pending`` set while a condition's level waits to follow it."""

    level: Level
    value: float | None
    message: str
    pending: Pending | None = None


@dataclass(frozen=True)
class Settings:
    """Base of every check's settings; ``from_dict`` rejects unknown keys naming them."""

    enabled: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Self:
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, raw in data.items():
            if key not in known:
                raise ConfigError(f"{where}.{key}", f"unknown key (known: {', '.join(sorted(known))})")
            kwargs[key] = _coerce(raw, type(known[key].default), f"{where}.{key}")
        try:
            return cls(**kwargs)
        except ValueError as err:
            raise ConfigError(where, str(err)) from err


def _coerce(raw: Any, kind: type, where: str) -> Any:
    if kind is bool and isinstance(raw, bool):
        return raw
    if kind is Level and str(raw).lower() in LEVEL_NAMES:
        return LEVEL_NAMES[str(raw).lower()]
    if kind in (int, float) and isinstance(raw, int | float) and not isinstance(raw, bool):
        number = _finite(raw)
        # An int field (raise_after) takes 3 or 3.0, never 1.9 quietly truncated to 1.
        if number is not None and (kind is float or number.is_integer()):
            return kind(raw)
    raise ConfigError(where, f"expected {_describe(kind)}, got {raw!r}")


def _finite(raw: float) -> float | None:
    """``raw`` as a float, None for NaN, inf or an int too big for a float: NaN compares false with every
    threshold and inf never trips one, so either would silently disable a check."""
    try:
        number = float(raw)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _describe(kind: type) -> str:
    return {Level: "warning or critical", int: "a whole number", float: "a finite number"}.get(
        kind, kind.__name__
    )


@dataclass(frozen=True)
class ThresholdSettings(Settings):
    warn: float = 0.0
    critical: float = 0.0
    hysteresis: float = 0.0

    def __post_init__(self) -> None:
        if self.hysteresis < 0:
            raise ValueError("hysteresis must not be negative")


@dataclass(frozen=True)
class ConditionSettings(Settings):
    level: Level = Level.WARNING  # the level the condition raises
    raise_after: int = 1  # consecutive samples before the level rises
    clear_after: int = 3  # consecutive better samples before it drops

    def __post_init__(self) -> None:
        if self.raise_after < 1 or self.clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")
        if self.level <= Level.OK:
            raise ValueError("level must be warning or critical")


class Check(ABC):
    """One health check. Stateful: ``evaluate`` is called once per sample, in order."""

    name: ClassVar[str]
    title: ClassVar[str]
    settings_type: ClassVar[type[Settings]]
    # Read from slow-cadence collectors: evaluated only on ticks where those ran, so raise_after and
    # clear_after count readings, not the fast ticks that merely repeat the last slow samples.
    slow_input: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.level = Level.OK

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(cls.settings_type.from_dict(data, f"HEALTH_CHECKS.{cls.name}"))

    @abstractmethod
    def evaluate(self, snap: Snapshot) -> Reading: ...

    def not_measured(self) -> Reading:
        self.level = Level.UNKNOWN
        return Reading(Level.UNKNOWN, None, NOT_MEASURED)


class ThresholdCheck(Check):
    """Subclasses say what number to read; ``higher_is_worse`` False for e.g. WiFi signal in dBm."""

    higher_is_worse: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    settings: ThresholdSettings

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        assert isinstance(settings, ThresholdSettings)
        warn, critical = settings.warn, settings.critical
        if not (warn <= critical if self.higher_is_worse else warn >= critical):
            worse = "above" if self.higher_is_worse else "below"
            raise ConfigError(f"HEALTH_CHECKS.{self.name}", f"critical must be at or {worse} warn")

    @abstractmethod
    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        """(value, what was measured) or None when the device does not report it."""

    def evaluate(self, snap: Snapshot) -> Reading:
        measured = self.measure(snap)
        if measured is None:
            return self.not_measured()
        value, subject = measured
        self.level = self.next_level(self.level, value)
        return Reading(self.level, value, f"{subject} {self.format(value)}")

    def next_level(self, current: Level, value: float) -> Level:
        sign = 1.0 if self.higher_is_worse else -1.0  # compare as "bigger is worse"
        worse = sign * value
        thresholds = {Level.WARNING: sign * self.settings.warn, Level.CRITICAL: sign * self.settings.critical}
        raw = max((lvl for lvl, limit in thresholds.items() if worse >= limit), default=Level.OK)
        level = max(current, raw)
        while level > raw and worse < thresholds[level] - self.settings.hysteresis:
            level = Level(level - 1)
        return level

    def format(self, value: float) -> str:
        if self.unit == "%":  # the value is a 0-1 ratio
            return f"{value:.0%}"
        return f"{round(value, 1):g}{self.unit}"


class ConditionCheck(Check):
    """Subclasses return the level the current sample would deserve; debouncing happens here."""

    settings: ConditionSettings

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._streak_level = Level.OK
        self._streak = 0

    @abstractmethod
    def assess(self, snap: Snapshot) -> tuple[Level, str] | None:
        """(level this sample deserves, why), or None when the device does not report the condition."""

    def evaluate(self, snap: Snapshot) -> Reading:
        assessed = self.assess(snap)
        if assessed is None:
            self._streak_level, self._streak = Level.UNKNOWN, 0
            return self.not_measured()
        wanted, message = assessed
        # Measured again after "unknown": start from ok; a problem still needs raise_after samples.
        self.level = max(self.level, Level.OK)
        self._streak = self._streak + 1 if wanted == self._streak_level else 1
        self._streak_level = wanted
        needed = self.settings.raise_after if wanted > self.level else self.settings.clear_after
        if wanted != self.level and self._streak >= needed:
            self.level = wanted
        pending = Pending(wanted, needed, self._streak) if wanted != self.level else None
        return Reading(self.level, None, message, pending)


class ListCheck(ConditionCheck):
    """A condition that holds while anything is listed (sidecars down, unhealthy containers...)."""

    what: ClassVar[str]  # plural noun phrase for the message: "sidecars down: log-agent"
    reported_by: ClassVar[str]  # the metric whose absence means "not measured on this device"

    @abstractmethod
    def listed(self, snap: Snapshot) -> list[str]: ...

    def assess(self, snap: Snapshot) -> tuple[Level, str] | None:
        if not snap.find(self.reported_by):
            return None
        names = sorted(self.listed(snap))
        if not names:
            return Level.OK, f"no {self.what}"
        return self.settings.level, f"{self.what}: {', '.join(names)}"
