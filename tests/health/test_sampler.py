"""The sampler's cadences and robustness, the history ring buffer, the dashboard's plots and filters."""

from __future__ import annotations

import time
from collections import Counter

from health_reporter.checks import CheckRunner, build_checks
from health_reporter.collectors.base import Cadence
from health_reporter.history import History
from health_reporter.models import Sample
from health_reporter.sampler import Sampler
from health_reporter.snapshot import Snapshot
from health_reporter.web.plots import HEIGHT, WIDTH, build_plots
from health_reporter.web.view import duration, fmt

from tests.health.helpers import ScriptedSource, gauge, wait_until


class CountingSource(ScriptedSource):
    def __init__(self, fail_every: int = 0) -> None:
        super().__init__()
        self.calls: Counter[Cadence] = Counter()
        self.fail_every = fail_every

    def __call__(self, cadence: Cadence) -> list[Sample]:
        self.calls[cadence] += 1
        if self.fail_every and self.calls[cadence] % self.fail_every == 0:
            raise RuntimeError("a bug outside the collectors' own isolation")
        return super().__call__(cadence)


def run_for(source: CountingSource, fast: float, slow: float, seconds: float) -> Sampler:
    sampler = Sampler(source, CheckRunner(build_checks({})), History(60, fast), fast, slow)
    sampler.start()
    try:
        time.sleep(seconds)
    finally:
        sampler.stop()
    return sampler


def test_slow_collectors_run_on_their_own_slower_cadence() -> None:
    source = CountingSource()
    sampler = run_for(source, fast=0.05, slow=0.25, seconds=1.0)
    fast, slow = source.calls[Cadence.FAST], source.calls[Cadence.SLOW]
    assert fast <= 22 and slow <= 6, source.calls  # about 20 and 4; fewer on a busy machine
    assert slow >= 2 and fast >= 2 * slow, source.calls
    assert len(sampler.history.points()) == fast


def test_a_failing_tick_is_logged_and_sampling_goes_on(caplog) -> None:
    source = CountingSource(fail_every=2)
    sampler = run_for(source, fast=0.05, slow=0.05, seconds=0.5)
    assert source.calls[Cadence.FAST] >= 6 and sampler.ready
    assert "sampling failed" in caplog.text


def test_history_keeps_only_the_last_span() -> None:
    history = History(span_seconds=60, interval_seconds=10)  # 7 points
    for second in range(0, 200, 10):
        history.record(Snapshot(float(second), (gauge("device_cpu_usage_ratio", second / 200),)))
    times = [t for t, _ in history.series("cpu")]
    assert times == [130.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0]
    assert history.series("temperature") == []


def test_plots_scale_into_the_svg_box() -> None:
    history = History(span_seconds=100, interval_seconds=10)
    for second, celsius in ((0, 40.0), (50, 60.0), (100, 50.0)):
        history.record(Snapshot(float(second), (gauge("device_cpu_temperature_celsius", celsius),)))
    plots = {plot.key: plot for plot in build_plots(history, now=100.0)}
    temperature = plots["temperature"]
    points = [tuple(map(float, pair.split(","))) for pair in temperature.points.split()]
    assert [x for x, _ in points] == [0.0, WIDTH / 2, WIDTH]
    assert all(0 <= y <= HEIGHT for _, y in points) and points[1][1] < points[2][1] < points[0][1]
    assert temperature.latest == 50.0 and plots["cpu"].points == ""


def test_filters_read_at_a_glance() -> None:
    assert [fmt(None), fmt(3.0), fmt(2.345), fmt(123.4)] == ["–", "3", "2.3", "123"]
    assert [duration(42), duration(600), duration(3 * 3600 + 120), duration(2 * 86400 + 3600)] == [
        "42 s", "10 min", "3 h 2 min", "2 d 1 h",
    ]  # fmt: skip


def test_stop_is_prompt_even_with_long_intervals() -> None:
    sampler = Sampler(CountingSource(), CheckRunner(build_checks({})), History(60, 10), 3600, 3600)
    sampler.start()
    wait_until(lambda: sampler.ready, 5, "first sample")
    started = time.monotonic()
    sampler.stop()
    assert time.monotonic() - started < 2


class SlowOnlySource(ScriptedSource):
    """Every sample comes from the slow cadence (sidecar probes, throttling...)."""

    def __call__(self, cadence: Cadence) -> list[Sample]:
        return super().__call__(Cadence.FAST) if cadence == Cadence.SLOW else []


def test_slow_fed_checks_count_slow_readings_not_fast_ticks() -> None:
    source = SlowOnlySource(sidecars_up=(True, False), throttled_now=True)
    overrides = {"throttling": {"raise_after": 2}}
    sampler = Sampler(source, CheckRunner(build_checks(overrides)), History(60, 1), 1, 10)
    levels = lambda: {c["check"]: c["status"] for c in sampler.status["checks"]}  # noqa: E731
    sampler.run_once(include_slow=True)  # one failed probe: sidecar raise_after is 2
    for _ in range(5):  # fast ticks repeat that one reading; they must not count as more
        sampler.run_once(include_slow=False)
    assert levels()["sidecar"] == "ok" and levels()["throttling"] == "ok"
    sampler.run_once(include_slow=True)  # the second reading
    assert levels()["sidecar"] == "critical" and levels()["throttling"] == "warning"
    source.values = {}  # recovered; clear_after 3 readings
    sampler.run_once(include_slow=True)
    for _ in range(5):
        sampler.run_once(include_slow=False)
    assert levels()["sidecar"] == "critical"
