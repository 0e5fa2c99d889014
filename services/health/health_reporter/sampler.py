"""The one background sampler: collects on a fast and a slow cadence, evaluates the checks, feeds the
history, telemetry and autoheal, and publishes an immutable snapshot that HTTP handlers only read.

HTTP never triggers a collection (Glances #1665: collecting per API call cost ~45 % CPU on a Pi Zero).
Slow collectors (temperatures, sidecar and engine HTTP calls) run every ``slow_interval``; their last
samples are merged into every fast snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .autoheal import Autoheal, EngineRestarter
from .checks import CheckRunner, build_checks
from .collectors import build_collectors
from .collectors.base import Cadence
from .config import Config
from .history import History
from .models import Sample, gauge
from .registry import CollectorRegistry
from .snapshot import EMPTY, Snapshot, summary

if TYPE_CHECKING:  # imported when enabled: fluent-logger and msgpack cost ~1 MiB the default needs anyway
    from .telemetry import Telemetry

log = logging.getLogger(__name__)

Source = Callable[[Cadence], list[Sample]]
CPU_HELP = "CPU seconds the last collection of this cadence took."


@dataclass(frozen=True)
class Published:
    """What one tick leaves for the readers."""

    snapshot: Snapshot
    status: dict[str, Any]
    monotonic: float  # when it was published


class Sampler:
    def __init__(
        self,
        source: Source,
        checks: CheckRunner,
        history: History,
        fast_interval: float,
        slow_interval: float,
        telemetry: Telemetry | None = None,
        autoheal: Autoheal | None = None,
    ) -> None:
        self._source = source
        self._checks = checks
        self._history = history
        self._fast_interval = fast_interval
        self._slow_interval = slow_interval
        self._telemetry = telemetry
        self._autoheal = autoheal
        self._slow_samples: list[Sample] = []
        self._published: Published | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self.last_cpu_seconds = {Cadence.FAST: 0.0, Cadence.SLOW: 0.0}

    # -- readers (any thread) ------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        published = self._published
        return EMPTY if published is None else published.snapshot

    @property
    def status(self) -> dict[str, Any] | None:
        published = self._published
        return None if published is None else published.status

    @property
    def history(self) -> History:
        return self._history

    @property
    def ready(self) -> bool:
        return self._published is not None

    def seconds_since_last_sample(self) -> float:
        published = self._published
        since = self._started if published is None else published.monotonic
        return time.monotonic() - since

    def alive(self) -> bool:
        """The loop still runs: a sample was published within three fast intervals (plus one slow run)."""
        limit = 3 * self._fast_interval + self._slow_interval
        return self._thread.is_alive() and self.seconds_since_last_sample() < limit

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._telemetry is not None:
            self._telemetry.start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._telemetry is not None:
            self._telemetry.stop()

    def _loop(self) -> None:
        next_slow = next_tick = time.monotonic()
        while not self._stop.is_set():
            slow_due = time.monotonic() >= next_slow
            if slow_due:
                next_slow = _next_slot(next_slow, self._slow_interval)
            try:
                self.run_once(include_slow=slow_due)
            except Exception:  # keep sampling; /healthz turns red if this repeats
                log.exception("sampling failed")
            next_tick = _next_slot(next_tick, self._fast_interval)
            self._stop.wait(max(0.0, next_tick - time.monotonic()))

    # -- one tick --------------------------------------------------------------------------------
    def run_once(self, include_slow: bool = True) -> Snapshot:
        fast = self._collect(Cadence.FAST)
        if include_slow:
            self._slow_samples = self._collect(Cadence.SLOW)
        base = Snapshot(time.time(), tuple(fast + self._slow_samples))
        transitions = self._checks.run(base, slow_fresh=include_slow)
        device = summary(base)
        overall = self._checks.overall.name.lower()
        if self._telemetry is not None:
            for transition in transitions:
                self._telemetry.event(transition.to_record())
            levels = {state.name: state.level.name.lower() for state in self._checks.states}
            self._telemetry.on_sample(device, overall, levels)
        if self._autoheal is not None:
            self._autoheal.on_sample(base)
        snap = base.extended(tuple(self._own_samples()))
        self._history.record(snap)
        status = {
            **device,
            "status": overall,
            "worst_reading": self._checks.worst_reading.name.lower(),
            "checks": [state.to_json() for state in self._checks.states],
            "time": snap.taken_at,
        }
        self._published = Published(snap, status, time.monotonic())
        return snap

    def _collect(self, cadence: Cadence) -> list[Sample]:
        started = time.thread_time()
        samples = self._source(cadence)
        self.last_cpu_seconds[cadence] = time.thread_time() - started
        return samples

    def _own_samples(self) -> list[Sample]:
        samples = self._checks.samples()
        for extra in (self._telemetry, self._autoheal):
            if extra is not None:
                samples.extend(extra.samples())
        samples.extend(
            gauge("device_sample_cpu_seconds", seconds, CPU_HELP, cadence=str(cadence))
            for cadence, seconds in self.last_cpu_seconds.items()
        )
        return samples


def _next_slot(previous: float, interval: float) -> float:
    """The next tick on the fixed grid; ticks missed while the device was busy or suspended are skipped
    rather than run back to back."""
    now = time.monotonic()
    following = previous + interval
    return following if following > now else now + interval


def sampler_from_config(config: Config) -> Sampler:
    """The production wiring: every collector, check, telemetry and (if enabled) autoheal. Not started."""
    collectors = CollectorRegistry(
        build_collectors(config.paths, config.options_for_collectors()),
        enabled=config.collectors_enabled or None,
        disabled=config.disabled_collectors,
    )
    telemetry = None
    if config.telemetry.enabled:
        from .telemetry import Telemetry

        telemetry = Telemetry(config.telemetry)
    autoheal = None
    if config.autoheal.enabled:
        on_event = telemetry.event if telemetry is not None else (lambda record: None)
        autoheal = Autoheal(config.autoheal, EngineRestarter(config.engine_socket), on_event)
    return Sampler(
        collectors.collect,
        CheckRunner(build_checks(config.checks)),
        History(config.history_minutes * 60, config.fast_interval_seconds),
        config.fast_interval_seconds,
        config.slow_interval_seconds,
        telemetry,
        autoheal,
    )
