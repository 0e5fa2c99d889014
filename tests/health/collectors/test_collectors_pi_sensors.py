"""Temperatures and Raspberry Pi throttling on the fake sysfs: present, varied, missing and unreadable."""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pytest
from health_collector_testing import FIXTURES, by_name, tree_paths, value
from health_reporter.collectors.hwmon import HwmonCollector
from health_reporter.collectors.thermal import ThermalCollector
from health_reporter.collectors.throttling import ThrottlingCollector, ThrottlingOptions
from health_reporter.errors import CollectorError

GET_THROTTLED = "devices/platform/soc/soc:firmware/get_throttled"


def throttling(paths):
    return ThrottlingCollector(paths, ThrottlingOptions(vcgencmd=""))


def test_thermal_hwmon_zone_and_normalised_cpu_temperature(pi_paths):
    samples = ThermalCollector(pi_paths).collect()
    hwmon = HwmonCollector(pi_paths).collect()
    assert value(hwmon, "node_hwmon_temp_celsius", chip="cpu_thermal", sensor="temp1") == pytest.approx(
        48.686
    )
    assert value(samples, "node_thermal_zone_temp", zone="0", type="cpu-thermal") == pytest.approx(48.686)
    assert value(samples, "device_cpu_temperature_celsius") == pytest.approx(48.686)


def test_cpu_temperature_from_thermal_zone_when_hwmon_is_absent(pi_paths):
    # Older Pi kernels: no thermal-hwmon bridge, only the zone (node_exporter #1722).
    shutil.rmtree(pi_paths.in_sys("class", "hwmon"))
    pi_paths.in_sys("class", "thermal", "thermal_zone0", "temp").write_text("61230\n")
    samples = ThermalCollector(pi_paths).collect()
    assert not by_name(samples, "node_hwmon_temp_celsius")
    assert value(samples, "device_cpu_temperature_celsius") == pytest.approx(61.23)


def test_missing_sensors_give_no_samples_not_a_failure(pi_paths):
    shutil.rmtree(pi_paths.in_sys("class"))
    shutil.rmtree(pi_paths.in_sys("devices"))
    assert ThermalCollector(pi_paths).collect() == []
    assert throttling(pi_paths).collect() == []


def test_zone_without_a_reading_is_skipped(pi_paths):
    zone = pi_paths.in_sys("class", "thermal", "thermal_zone1")
    zone.mkdir()
    (zone / "type").write_text("iwlwifi_1\n")  # no temp file: e.g. a WiFi card that is down
    samples = ThermalCollector(pi_paths).collect()
    assert list(by_name(samples, "node_thermal_zone_temp")) == [(("type", "cpu-thermal"), ("zone", "0"))]


def test_sensor_path_that_is_a_directory_fails_the_collector(pi_paths):
    sensor = pi_paths.in_sys("class", "hwmon", "hwmon0", "temp1_input")
    sensor.unlink()
    sensor.mkdir()
    with pytest.raises(CollectorError, match="temp1_input"):
        ThermalCollector(pi_paths).collect()


@pytest.mark.parametrize(
    ("word", "expected_on"),
    [
        ("0", set()),
        (
            "50005",
            {
                ("under_voltage", "now"),
                ("throttled", "now"),
                ("under_voltage", "since_boot"),
                ("throttled", "since_boot"),
            },
        ),
        ("50000", {("under_voltage", "since_boot"), ("throttled", "since_boot")}),
    ],
)
def test_get_throttled_from_sysfs(pi_paths, word, expected_on):
    pi_paths.in_sys(GET_THROTTLED).write_text(word + "\n")
    samples = throttling(pi_paths).collect()
    assert value(samples, "device_throttled_raw") == int(word, 16)
    flags = {
        (s.label("condition"), s.label("period")) for s in samples if s.name == "device_throttled" and s.value
    }
    assert flags == expected_on
    assert len(by_name(samples, "device_throttled")) == 8
    assert value(samples, "device_undervolted") == (1 if ("under_voltage", "now") in expected_on else 0)


def test_get_throttled_under_a_soc_at_address_directory(pi_paths):
    # Newer device trees name the bus soc@107c000000 (Pi 5).
    old = pi_paths.in_sys("devices", "platform", "soc")
    old.rename(old.with_name("soc@107c000000"))
    pi_paths.in_sys("devices/platform/soc@107c000000/soc:firmware").rename(
        pi_paths.in_sys("devices/platform/soc@107c000000/soc@107c000000:firmware")
    )
    pi_paths.in_sys("devices/platform/soc@107c000000/soc@107c000000:firmware/get_throttled").write_text(
        "50005\n"
    )
    assert value(throttling(pi_paths).collect(), "device_throttled_raw") == 0x50005


def test_hwmon_under_voltage_alarm_when_get_throttled_is_absent(pi_paths):
    shutil.rmtree(pi_paths.in_sys("devices"))
    assert [(s.name, s.value) for s in throttling(pi_paths).collect()] == [("device_undervolted", 0)]
    pi_paths.in_sys("class", "hwmon", "hwmon1", "in0_lcrit_alarm").write_text("1\n")
    assert [(s.name, s.value) for s in throttling(pi_paths).collect()] == [("device_undervolted", 1)]


def test_vcgencmd_when_sysfs_has_no_word(pi_paths, tmp_path):
    shutil.rmtree(pi_paths.in_sys("devices"))
    fake = tmp_path / "vcgencmd"  # a stand-in for the Pi userland tool, same output format
    fake.write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo throttled=0x50000\n')
    fake.chmod(0o755)
    samples = ThrottlingCollector(pi_paths, ThrottlingOptions(vcgencmd=str(fake))).collect()
    assert value(samples, "device_throttled_raw") == 0x50000


def _collect_as_nobody(collector) -> object:
    """Run collector.collect() in a forked child that dropped root, so file modes apply (root ignores
    chmod 000); returns the samples or the exception it raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            try:
                result: object = collector.collect()
            except Exception as err:
                result = err
            os.write(write_end, pickle.dumps(result))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges in a child")
def test_unreadable_sensor_is_eacces_failure():
    base = Path(tempfile.mkdtemp(prefix="health-eacces-"))  # /tmp, so nobody can traverse to it
    try:
        base.chmod(0o755)
        shutil.copytree(FIXTURES / "pi", base / "pi")
        paths = tree_paths(base / "pi")
        paths.in_sys("class", "hwmon", "hwmon0", "temp1_input").chmod(0o000)
        paths.in_sys(GET_THROTTLED).chmod(0o000)
        thermal = _collect_as_nobody(ThermalCollector(paths))
        assert isinstance(thermal, CollectorError)
        assert "Permission denied" in str(thermal) and "temp1_input" in str(thermal)
        throttled = _collect_as_nobody(throttling(paths))
        assert isinstance(throttled, CollectorError) and "get_throttled" in str(throttled)
    finally:
        shutil.rmtree(base)
