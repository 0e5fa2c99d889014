"""CollectorRegistry: isolation, timing, cadence and the enabled/disabled settings."""

from __future__ import annotations

import logging
import re
import time

import pytest
from health_reporter.collectors import REGISTRY, build_collectors
from health_reporter.collectors.base import Cadence
from health_reporter.errors import CollectorError, ConfigError
from health_reporter.models import Sample
from health_reporter.paths import Paths
from health_reporter.registry import CollectorRegistry


class Canned:
    """A policy-level stand-in: the registry only sees the Collector protocol."""

    def __init__(self, name: str, cadence: Cadence = Cadence.FAST, error: Exception | None = None) -> None:
        self.name = name
        self.cadence = cadence
        self.error = error

    def collect(self) -> list[Sample]:
        if self.error is not None:
            raise self.error
        time.sleep(0.01)
        return [Sample(f"test_{self.name}_value", 1.0)]


def per_collector(samples: list[Sample], metric: str) -> dict[str, float]:
    return {s.label("collector"): s.value for s in samples if s.name == metric}


def test_a_failing_collector_scores_zero_while_the_others_report(caplog):
    registry = CollectorRegistry(
        [
            Canned("before"),
            Canned("broken", error=CollectorError("cannot read /sys/x: Permission denied")),
            Canned("after"),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="health_reporter.registry"):
        samples = registry.collect(Cadence.FAST)
    assert {s.name for s in samples if s.name.startswith("test_")} == {
        "test_before_value",
        "test_after_value",
    }
    assert per_collector(samples, "device_collector_success") == {"before": 1, "broken": 0, "after": 1}
    durations = per_collector(samples, "device_collector_duration_seconds")
    assert durations["before"] >= 0.01 and durations["broken"] < 0.01
    assert "broken" in caplog.text and "Permission denied" in caplog.text
    assert registry.last_errors == {"broken": "CollectorError: cannot read /sys/x: Permission denied"}


def test_an_unexpected_exception_is_contained_and_logged_once(caplog):
    registry = CollectorRegistry(
        [Canned("buggy", error=ZeroDivisionError("division by zero")), Canned("fine")]
    )
    with caplog.at_level(logging.DEBUG, logger="health_reporter.registry"):
        registry.collect()
        registry.collect()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is not None  # repeats go to debug
    assert per_collector(registry.collect(), "device_collector_success") == {"buggy": 0, "fine": 1}


def test_recovery_clears_the_error():
    flaky = Canned("flaky", error=OSError(5, "Input/output error"))
    registry = CollectorRegistry([flaky])
    registry.collect()
    flaky.error = None
    assert per_collector(registry.collect(), "device_collector_success") == {"flaky": 1}
    assert registry.last_errors == {}


def test_cadence_selects_collectors():
    registry = CollectorRegistry([Canned("cheap"), Canned("costly", Cadence.SLOW)])
    assert set(per_collector(registry.collect(Cadence.FAST), "device_collector_success")) == {"cheap"}
    assert set(per_collector(registry.collect(Cadence.SLOW), "device_collector_success")) == {"costly"}
    assert set(per_collector(registry.collect(), "device_collector_success")) == {"cheap", "costly"}


def test_enabled_and_disabled():
    collectors = [Canned("a"), Canned("b"), Canned("c")]
    assert CollectorRegistry(collectors, enabled=["a", "b"], disabled=["b"]).names == ["a"]
    assert CollectorRegistry(collectors, disabled=["c"]).names == ["a", "b"]
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTORS: unknown collector\(s\) nope"):
        CollectorRegistry(collectors, enabled=["nope"])
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTORS_DISABLED: unknown collector\(s\) zap"):
        CollectorRegistry(collectors, disabled=["zap"])


def test_build_collectors_rejects_unknown_names_and_options():
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTOR_OPTIONS: unknown collector\(s\) gpu"):
        build_collectors(Paths(), {"gpu": {}})
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTORS: unknown collector\(s\) tpu"):
        build_collectors(Paths(), names=["cpu", "tpu"])
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTOR_OPTIONS\.filesystem\.mountpoints"):
        build_collectors(Paths(), {"filesystem": {"mountpoints": ["/"]}})
    with pytest.raises(ConfigError, match=r"^HEALTH_COLLECTOR_OPTIONS\.cpu\.interval"):
        build_collectors(Paths(), {"cpu": {"interval": 1}})
    assert [c.name for c in build_collectors(Paths(), names=["load", "cpu"])] == ["load", "cpu"]


def test_every_collector_is_registered_with_a_cadence():
    collectors = build_collectors(Paths())
    assert [c.name for c in collectors] == list(REGISTRY)
    slow = {c.name for c in collectors if c.cadence == Cadence.SLOW}
    assert slow == {
        "thermal",
        "throttling",
        "processes",
        "wifi",
        "sidecars",
        "containers",
        "hwmon",
        "power_supply",
        "uname",
        "os",
        "sockstat",
        "conntrack",
        "arp",
        "udp_queues",
        "uptime",
    }


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("containers", {"timeout": 0}, "containers.timeout: must be a number of seconds"),
        ("wifi", {"timeout": "2"}, "wifi.timeout: must be a number of seconds"),
        ("sidecars", {"timeout": 99}, "sidecars.timeout: must be a number of seconds"),
        ("throttling", {"timeout": True}, "throttling.timeout: must be a number of seconds"),
        ("filesystem", {"data_mounts": "/data"}, "filesystem.data_mounts: must be a list of mount points"),
        ("filesystem", {"data_mounts": 5}, "filesystem.data_mounts: must be a list of mount points, got 5"),
        ("filesystem", {"data_mounts": {"a": 1}}, "filesystem.data_mounts: must be a list of mount points"),
        ("filesystem", {"data_mounts": ["data"]}, "filesystem.data_mounts: must be a list of absolute"),
        ("wifi", {"wifi_connect_url": "localhost:8081"}, "wifi.wifi_connect_url: must be an http"),
        ("wifi", {"iw": 5}, "wifi.iw: must be a string, got 5"),
        ("wifi", {"iw": None}, "wifi.iw: must be a string, got None"),
        ("throttling", {"vcgencmd": ["vcgencmd"]}, "throttling.vcgencmd: must be a string"),
        ("containers", {"socket": 2375}, "containers.socket: must be a string, got 2375"),
        ("sidecars", {"log_backlog_metric": 1}, "sidecars.log_backlog_metric: must be a non-empty string"),
        ("sidecars", {"log_dropped_metric": ""}, "sidecars.log_dropped_metric: must be a non-empty string"),
        ("sidecars", {"log_oldest_metric": None}, "sidecars.log_oldest_metric: must be a non-empty"),
        ("clock", {"use_adjtimex": "no"}, "clock.use_adjtimex: must be true or false"),
    ],
)
def test_bad_option_values_name_the_collector(name, options, message):
    """Each message names the variable and the key the user set: HEALTH_COLLECTOR_OPTIONS.<name>.<key>."""
    with pytest.raises(ConfigError, match="^" + re.escape(f"HEALTH_COLLECTOR_OPTIONS.{message}")):
        build_collectors(Paths(), {name: options})
