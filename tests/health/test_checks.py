"""Check policy: thresholds with hysteresis, debounced conditions, settings validation, transitions."""

from __future__ import annotations

import pytest
from health_reporter.checks import REGISTRY, CheckRunner, build_checks
from health_reporter.checks.base import ThresholdCheck
from health_reporter.checks.disk import DiskCheck, DiskSettings
from health_reporter.checks.sidecar import SidecarCheck, SidecarSettings
from health_reporter.checks.temperature import TemperatureCheck, TemperatureSettings
from health_reporter.checks.undervoltage import UndervoltageCheck, UndervoltageSettings
from health_reporter.checks.wifi_signal import WifiSignalCheck, WifiSignalSettings
from health_reporter.errors import ConfigError
from health_reporter.models import Level
from health_reporter.snapshot import Snapshot

from tests.health.helpers import snapshot, snapshot_without

OK, WARN, CRIT, UNKNOWN = Level.OK, Level.WARNING, Level.CRITICAL, Level.UNKNOWN
PI_FIRMWARE = ("device_throttled", "device_throttled_raw", "device_undervolted")


def levels(check: ThresholdCheck, key: str, values: list[float]) -> list[Level]:
    return [check.evaluate(snapshot(**{key: v})).level for v in values]


def test_temperature_rises_at_once_and_clears_only_below_threshold_minus_hysteresis() -> None:
    check = TemperatureCheck(TemperatureSettings(warn=75, critical=80, hysteresis=3))
    temps = [70, 75, 74, 72.5, 71.9, 81, 79, 77.5, 76.9, 71]
    assert levels(check, "temp", temps) == [OK, WARN, WARN, WARN, OK, CRIT, CRIT, CRIT, WARN, OK]


def test_critical_falls_straight_to_ok_when_the_value_drops_far() -> None:
    check = DiskCheck(DiskSettings(warn=0.8, critical=0.9, hysteresis=0.02))
    assert levels(check, "disk_used_ratio", [0.95, 0.5]) == [CRIT, OK]


def test_wifi_signal_lower_is_worse() -> None:
    check = WifiSignalCheck(WifiSignalSettings())  # warn -75, critical -85, hysteresis 3
    dbm = [-60, -76, -73, -71, -86, -83, -81]
    assert levels(check, "wifi_dbm", dbm) == [OK, WARN, WARN, OK, CRIT, CRIT, WARN]


@pytest.mark.parametrize(
    ("check", "missing"),
    [
        ("wifi_signal", ("device_wifi_signal_dbm",)),
        ("temperature", ("device_cpu_temperature_celsius",)),
        ("disk", ("device_data_filesystem_info",)),
        ("memory", ("node_memory_MemAvailable_bytes",)),
        ("log_backlog", ("device_log_oldest_unsent_age_seconds",)),
        ("undervoltage", PI_FIRMWARE),
        ("throttling", PI_FIRMWARE),
        ("clock", ("device_clock_synchronized",)),
        ("sidecar", ("device_sidecar_up",)),
        ("containers", ("device_container_state_info", "device_container_healthy")),
    ],
)
def test_what_the_device_does_not_report_is_unknown_not_ok(check: str, missing: tuple[str, ...]) -> None:
    reading = REGISTRY[check].from_dict({}).evaluate(snapshot_without(*missing))
    assert (reading.level, reading.value, reading.message) == (UNKNOWN, None, "not measured on this device")


def test_a_check_measured_again_leaves_unknown_at_once_but_problems_still_wait() -> None:
    check = SidecarCheck(SidecarSettings(raise_after=2, clear_after=3))
    gone, up, down = snapshot_without("device_sidecar_up"), snapshot(), snapshot(sidecars_up=(False, True))
    assert [check.evaluate(s).level for s in (down, down, gone, up, gone, down, down)] == [
        OK, CRIT, UNKNOWN, OK, UNKNOWN, OK, CRIT,
    ]  # fmt: skip
    temperature = TemperatureCheck(TemperatureSettings())
    no_sensor = snapshot_without("device_cpu_temperature_celsius")
    assert [temperature.evaluate(s).level for s in (snapshot(temp=90), no_sensor, snapshot(temp=77))] == [
        CRIT, UNKNOWN, WARN,
    ]  # fmt: skip


def test_the_log_backlog_check_reads_the_oldest_unsent_age_whatever_unit_the_backlog_has() -> None:
    old = {"log_age": 700.0}
    with_records = snapshot(log_backlog=5, **old)
    bytes_only = snapshot(log_backlog=None, log_backlog_bytes=4096, **old)
    for snap in (with_records, bytes_only):
        reading = REGISTRY["log_backlog"].from_dict({}).evaluate(snap)
        assert (reading.level, reading.value) == (WARN, 700.0)


def test_condition_is_debounced_both_ways() -> None:
    check = SidecarCheck(SidecarSettings(raise_after=2, clear_after=3))
    down, up = {"sidecars_up": (True, False)}, {"sidecars_up": (True, True)}
    sequence = [down, up, down, down, up, up, down, up, up, up]
    got = [check.evaluate(snapshot(**s)).level for s in sequence]
    assert got == [OK, OK, OK, CRIT, CRIT, CRIT, CRIT, CRIT, CRIT, OK]
    assert "log-agent" in check.evaluate(snapshot(**down)).message


def test_undervoltage_now_is_critical_and_since_boot_a_warning() -> None:
    check = UndervoltageCheck(UndervoltageSettings(clear_after=1))
    assert check.evaluate(snapshot(undervoltage_now=True)).level == CRIT
    assert check.evaluate(snapshot(undervoltage_since_boot=True)).level == WARN
    quiet = UndervoltageCheck(UndervoltageSettings(since_boot=False))
    assert quiet.evaluate(snapshot(undervoltage_since_boot=True)).level == OK


@pytest.mark.parametrize(
    ("check", "values", "expected"),
    [
        ("memory", {"mem_used_ratio": 0.97}, CRIT),
        ("throttling", {"throttled_now": True}, WARN),
        ("containers", {"unhealthy": ("db",)}, WARN),
        ("log_backlog", {"log_age": 4000}, CRIT),
        ("disk", {"disk_used_ratio": 0.85}, WARN),
    ],
)
def test_each_check_sees_its_condition(check: str, values: dict, expected: Level) -> None:
    assert REGISTRY[check].from_dict({}).evaluate(snapshot(**values)).level == expected


def test_clock_waits_for_several_unsynchronised_samples() -> None:
    check = REGISTRY["clock"].from_dict({"raise_after": 2})
    got = [check.evaluate(snapshot(clock_synced=False)).level for _ in range(3)]
    assert got == [OK, WARN, WARN]


def test_runner_reports_transitions_overall_and_metrics() -> None:
    now = iter(range(100, 200))
    runner = CheckRunner(build_checks({"temperature": {"warn": 70, "critical": 90}}), clock=lambda: next(now))
    assert runner.run(snapshot()) == []
    transitions = runner.run(snapshot(temp=72))
    assert [(t.check, t.previous, t.level) for t in transitions] == [("temperature", OK, WARN)]
    record = transitions[0].to_record()
    assert record["event"] == "check_transition" and record["from"] == "ok" and record["to"] == "warning"
    assert runner.overall == WARN
    statuses = {s.label("check"): s.value for s in runner.samples() if s.name == "device_check_status"}
    assert statuses["temperature"] == 1.0 and statuses["disk"] == 0.0
    assert [s.value for s in runner.samples() if s.name == "device_health_status"] == [1.0]


def test_unknown_checks_do_not_count_in_the_overall_and_have_no_status_metric() -> None:
    runner = CheckRunner(build_checks({}))
    no_wifi = snapshot_without("device_wifi_signal_dbm", temp=77)
    assert [t.check for t in runner.run(no_wifi)] == ["temperature"]  # start-up: only problems are events
    states = {state.name: state for state in runner.states}
    assert states["wifi_signal"].to_json()["status"] == "unknown" and runner.overall == WARN
    measured = {s.label("check"): s.value for s in runner.samples() if s.name == "device_check_measured"}
    statuses = {s.label("check"): s.value for s in runner.samples() if s.name == "device_check_status"}
    assert measured["wifi_signal"] == 0 and measured["temperature"] == 1 and len(measured) == 10
    assert set(statuses) == set(measured) - {"wifi_signal"} and statuses["temperature"] == 1
    transitions = runner.run(snapshot(temp=77))  # WiFi comes back: unknown -> ok is an event now
    assert [(t.check, t.previous, t.level) for t in transitions] == [("wifi_signal", UNKNOWN, OK)]


def test_a_device_that_reports_nothing_is_unknown_overall() -> None:
    runner = CheckRunner(build_checks({}))
    assert runner.run(Snapshot(0.0, ())) == []
    assert runner.overall == UNKNOWN
    assert not [s for s in runner.samples() if s.name in ("device_check_status", "device_health_status")]


def test_a_check_that_raises_keeps_its_state_and_spares_the_others() -> None:
    class Broken(TemperatureCheck):
        def measure(self, snap: Snapshot) -> tuple[float, str] | None:
            raise RuntimeError("bug")

    runner = CheckRunner([Broken(TemperatureSettings(warn=1, critical=2)), *build_checks({})[:1]])
    runner.run(snapshot(disk_used_ratio=0.95))
    assert [s.level for s in runner.states] == [UNKNOWN, CRIT]  # never evaluated: unknown, not ok


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"disk": {"wran": 0.5}}, "HEALTH_CHECKS.disk.wran: unknown key"),
        ({"dsik": {}}, "HEALTH_CHECKS.dsik: unknown check"),
        ({"disk": {"warn": "lots"}}, "HEALTH_CHECKS.disk.warn: expected a finite number"),
        ({"disk": {"warn": float("nan")}}, "HEALTH_CHECKS.disk.warn: expected a finite number, got nan"),
        ({"temperature": {"critical": float("inf")}}, "HEALTH_CHECKS.temperature.critical: expected a fin"),
        ({"memory": {"hysteresis": 10**400}}, "HEALTH_CHECKS.memory.hysteresis: expected a finite number"),
        ({"clock": {"raise_after": 1.9}}, "HEALTH_CHECKS.clock.raise_after: expected a whole number, got 1"),
        ({"sidecar": {"clear_after": float("inf")}}, "HEALTH_CHECKS.sidecar.clear_after: expected a whole"),
        ({"sidecar": {"clear_after": True}}, "HEALTH_CHECKS.sidecar.clear_after: expected a whole number"),
        ({"disk": {"warn": 0.9, "critical": 0.8}}, "HEALTH_CHECKS.disk: critical must be at or above warn"),
        ({"wifi_signal": {"warn": -90}}, "HEALTH_CHECKS.wifi_signal: critical must be at or below warn"),
        ({"sidecar": {"level": "ok"}}, "HEALTH_CHECKS.sidecar: level must be warning or critical"),
        ({"clock": {"level": "unknown"}}, "HEALTH_CHECKS.clock: level must be warning or critical"),
        ({"clock": {"raise_after": 0}}, "HEALTH_CHECKS.clock: raise_after and clear_after must be at"),
        ({"memory": {"hysteresis": -1}}, "HEALTH_CHECKS.memory: hysteresis must not be negative"),
    ],
)
def test_bad_settings_name_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        build_checks(overrides)


def test_whole_floats_are_accepted_for_counts_and_ints_for_thresholds() -> None:
    checks = build_checks({"clock": {"raise_after": 3.0}, "temperature": {"warn": 70}})
    settings = {check.name: check.settings for check in checks}
    assert settings["clock"].raise_after == 3 and isinstance(settings["clock"].raise_after, int)
    assert settings["temperature"].warn == 70.0 and isinstance(settings["temperature"].warn, float)


def test_a_check_can_be_disabled() -> None:
    names = [check.name for check in build_checks({"wifi_signal": {"enabled": False}})]
    assert "wifi_signal" not in names and "disk" in names
