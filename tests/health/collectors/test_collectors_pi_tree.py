"""Every host collector against a fake Raspberry Pi /proc, /sys and root (tests/health/fixtures/pi)."""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from health_collector_testing import by_name, value
from health_reporter.collectors import build_collectors
from health_reporter.collectors.clock import ClockCollector, ClockOptions
from health_reporter.collectors.cpu import CpuCollector
from health_reporter.collectors.diskio import DiskIoCollector
from health_reporter.collectors.filefd import FileFdCollector
from health_reporter.collectors.filesystem import (
    FilesystemCollector,
    FilesystemOptions,
    GuardedStat,
    is_network_fs,
)
from health_reporter.collectors.load import LoadCollector
from health_reporter.collectors.memory import MemoryCollector
from health_reporter.collectors.network import NetworkCollector
from health_reporter.collectors.processes import ProcessesCollector
from health_reporter.collectors.time import TimeCollector
from health_reporter.collectors.uptime import UptimeCollector
from health_reporter.collectors.wifi import WifiCollector, WifiOptions
from health_reporter.errors import CollectorError
from health_reporter.registry import CollectorRegistry


def test_cpu_counters_then_usage_from_the_next_reading(pi_paths):
    collector = CpuCollector(pi_paths)
    first = collector.collect()
    # /proc/stat counts USER_HZ ticks; psutil turns them into seconds.
    assert value(first, "node_cpu_seconds_total", cpu="2", mode="idle") == pytest.approx(5789.00)
    assert len(by_name(first, "node_cpu_seconds_total")) == 4 * 8
    assert not by_name(first, "device_cpu_usage_ratio")  # nothing to compare with yet

    stat = pi_paths.in_proc("stat")
    # 100 more ticks on every core: core 0 busy for 75 of them, the others for 25.
    lines = stat.read_text().splitlines()
    lines[1] = "cpu0 23085 301 8012 575225 1402 0 802 0 0 0"
    for index, line in ((2, lines[2]), (3, lines[3]), (4, lines[4])):
        fields = line.split()
        fields[1] = str(int(fields[1]) + 25)
        fields[4] = str(int(fields[4]) + 75)
        lines[index] = " ".join(fields)
    stat.write_text("\n".join(lines) + "\n")

    second = collector.collect()
    assert value(second, "device_cpu_core_usage_ratio", cpu="0") == pytest.approx(0.75)
    assert value(second, "device_cpu_core_usage_ratio", cpu="3") == pytest.approx(0.25)
    assert value(second, "device_cpu_usage_ratio") == pytest.approx((0.75 + 3 * 0.25) / 4)


def test_load(pi_paths):
    samples = LoadCollector(pi_paths).collect()
    assert [(s.name, s.value) for s in samples] == [
        ("node_load1", 0.52),
        ("node_load5", 0.58),
        ("node_load15", 0.59),
    ]


def test_memory_every_field(pi_paths):
    samples = MemoryCollector(pi_paths).collect()
    assert value(samples, "node_memory_MemTotal_bytes") == 3884084 * 1024
    assert value(samples, "node_memory_MemAvailable_bytes") == 3339196 * 1024
    assert value(samples, "node_memory_SwapFree_bytes") == 102396 * 1024
    assert value(samples, "node_memory_Active_anon_bytes") == 2364 * 1024
    assert value(samples, "node_memory_HugePages_Total") == 0
    assert len(samples) == 36


def test_filesystems_real_mounts_only_and_data_partition(pi_paths):
    samples = FilesystemCollector(pi_paths).collect()
    sizes = by_name(samples, "node_filesystem_size_bytes")
    assert sorted(dict(labels)["mountpoint"] for labels in sizes) == [
        "/",
        "/boot",
        "/media/usb stick",
        "/mnt/data",
        "/run",
    ]
    assert all(size > 0 for size in sizes.values())  # statvfs under the fake root (the test's tmp filesystem)
    assert (
        value(samples, "node_filesystem_readonly", device="/dev/mmcblk0p1", mountpoint="/boot", fstype="vfat")
        == 1
    )
    assert (
        value(samples, "node_filesystem_readonly", device="/dev/mmcblk0p2", mountpoint="/", fstype="ext4")
        == 0
    )
    assert by_name(samples, "device_data_filesystem_info") == {
        (("device", "/dev/sda1"), ("mountpoint", "/mnt/data")): 1
    }


def test_filesystem_data_mount_is_configurable_and_falls_back_to_self_mounts(pi_paths):
    shutil.rmtree(pi_paths.in_proc("1"))  # no pid: host
    collector = FilesystemCollector.from_options(pi_paths, {"data_mounts": ["/srv", "/"]})
    samples = collector.collect()
    assert by_name(samples, "device_data_filesystem_info") == {
        (("device", "/dev/mmcblk0p2"), ("mountpoint", "/")): 1
    }
    assert collector.options == FilesystemOptions(data_mounts=("/srv", "/"))


def test_filesystem_mount_missing_from_root_is_skipped(pi_paths):
    shutil.rmtree(pi_paths.on_host("/mnt/data"))
    samples = FilesystemCollector(pi_paths).collect()
    assert "/mnt/data" not in {s.label("mountpoint") for s in samples if s.name.startswith("node_filesystem")}


def test_diskio_skips_ram_loop_and_partitions_of_sd_disks(pi_paths):
    samples = DiskIoCollector(pi_paths).collect()
    devices = {s.label("device") for s in samples}
    assert devices == {"mmcblk0", "mmcblk0p1", "mmcblk0p2", "sda"}
    assert value(samples, "node_disk_read_bytes_total", device="mmcblk0") == 1418654 * 512
    assert value(samples, "node_disk_writes_completed_total", device="mmcblk0") == 9917
    assert value(samples, "node_disk_io_time_seconds_total", device="mmcblk0") == pytest.approx(64.876)


def test_network_counters_and_link_state(pi_paths):
    samples = NetworkCollector(pi_paths).collect()
    assert value(samples, "node_network_receive_bytes_total", device="wlan0") == 48213392
    assert value(samples, "node_network_transmit_drop_total", device="wlan0") == 3
    assert value(samples, "node_network_receive_drop_total", device="wlan0") == 12
    assert by_name(samples, "node_network_up") == {
        (("device", "eth0"),): 0,
        (("device", "lo"),): 0,
        (("device", "wlan0"),): 1,
    }


def test_uptime_and_filefd(pi_paths):
    uptime = UptimeCollector(pi_paths).collect()
    assert value(uptime, "node_boot_time_seconds") == 1795000000
    assert value(TimeCollector(pi_paths).collect(), "node_time_seconds") > 1795000000
    filefd = FileFdCollector(pi_paths).collect()
    assert value(filefd, "node_filefd_allocated") == 1184
    assert value(filefd, "node_filefd_maximum") == float(9223372036854775807)


def test_processes_counted_without_iterating(pi_paths):
    samples = ProcessesCollector(pi_paths).collect()
    assert value(samples, "node_procs_running") == 3
    assert value(samples, "node_procs_blocked") == 1
    assert value(samples, "device_processes") == 3  # the numeric entries of the fake /proc


def test_wifi_signal_and_quality_without_iw_or_wifi_connect(pi_paths):
    collector = WifiCollector(pi_paths, WifiOptions(iw="", wifi_connect_url=""))
    samples = collector.collect()
    assert value(samples, "device_wifi_signal_dbm", interface="wlan0") == -58
    assert value(samples, "device_wifi_link_quality_ratio", interface="wlan0") == pytest.approx(52 / 70)
    assert not by_name(samples, "device_wifi_info")  # no SSID source configured


def test_iw_adds_the_bitrate_and_the_ssid(pi_paths, tmp_path):
    fake = tmp_path / "iw"  # a stand-in for Debian's iw (no WiFi hardware here), same output format
    fake.write_text(
        '#!/bin/sh\n[ "$*" = "dev wlan0 link" ] || exit 1\n'
        "printf 'Connected to 3c:37:86:aa:bb:cc (on wlan0)\\n\\tSSID: Workshop\\n"
        "\\ttx bitrate: 72.2 MBit/s MCS 7 short GI\\n'\n"
    )
    fake.chmod(0o755)
    samples = WifiCollector(pi_paths, WifiOptions(iw=str(fake), wifi_connect_url="")).collect()
    assert value(samples, "device_wifi_bitrate_bits_per_second", interface="wlan0") == 72_200_000
    assert by_name(samples, "device_wifi_info") == {(("interface", "wlan0"), ("ssid", "Workshop")): 1}
    assert value(samples, "device_wifi_signal_dbm", interface="wlan0") == -58  # from /proc either way
    without_iw = WifiCollector(pi_paths, WifiOptions(iw="", wifi_connect_url="")).collect()
    assert not by_name(without_iw, "device_wifi_bitrate_bits_per_second")


def test_wifi_interface_down_or_absent(pi_paths):
    pi_paths.in_sys("class", "net", "wlan0", "operstate").write_text("down\n")
    assert WifiCollector(pi_paths, WifiOptions(iw="", wifi_connect_url="")).collect() == []
    pi_paths.in_proc("net", "wireless").unlink()  # no wireless extensions at all: no WiFi, no failure
    assert WifiCollector(pi_paths, WifiOptions(iw="", wifi_connect_url="")).collect() == []


def test_clock_falls_back_to_timesyncd_marker(pi_paths):
    collector = ClockCollector(pi_paths, ClockOptions(use_adjtimex=False))
    assert [(s.name, s.value) for s in collector.collect()] == [("device_clock_synchronized", 0)]
    pi_paths.on_host("/run/systemd/timesync/synchronized").touch()
    assert [(s.name, s.value) for s in collector.collect()] == [("device_clock_synchronized", 1)]
    shutil.rmtree(pi_paths.on_host("/run/systemd"))
    with pytest.raises(CollectorError, match="adjtimex unavailable"):
        collector.collect()


def test_missing_proc_files_fail_with_the_path(pi_paths):
    pi_paths.in_proc("meminfo").unlink()
    with pytest.raises(CollectorError, match="meminfo"):
        MemoryCollector(pi_paths).collect()
    pi_paths.in_proc("loadavg").unlink()
    pi_paths.in_proc("loadavg").mkdir()  # a directory where a file is expected: EISDIR, even for root
    with pytest.raises(CollectorError, match="loadavg"):
        LoadCollector(pi_paths).collect()


def test_the_metric_name_contract_on_a_pi(pi_paths):
    """Every host metric name H2's checks, /status and dashboard read is there on a Pi."""
    options = {
        "sidecars": {"wifi_connect_url": "", "log_agent_url": ""},
        "wifi": {"wifi_connect_url": "", "iw": ""},
        "throttling": {"vcgencmd": ""},
    }
    registry = CollectorRegistry(build_collectors(pi_paths, options))
    registry.collect()
    names = {s.name for s in registry.collect()}
    contract = {
        "node_cpu_seconds_total",  # the usage ratios need /proc/stat to move: see the cpu test
        "node_load1", "node_load5", "node_load15",
        "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes", "node_memory_SwapTotal_bytes",
        "node_memory_SwapFree_bytes",
        "node_filesystem_size_bytes", "node_filesystem_free_bytes", "node_filesystem_avail_bytes",
        "node_filesystem_files", "node_filesystem_files_free", "node_filesystem_readonly",
        "device_data_filesystem_info",
        "node_disk_read_bytes_total", "node_disk_written_bytes_total", "node_disk_reads_completed_total",
        "node_disk_writes_completed_total", "node_disk_io_time_seconds_total",
        "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
        "node_network_receive_packets_total", "node_network_transmit_packets_total",
        "node_network_receive_errs_total", "node_network_transmit_errs_total",
        "node_network_receive_drop_total", "node_network_transmit_drop_total", "node_network_up",
        "node_hwmon_temp_celsius", "node_thermal_zone_temp", "device_cpu_temperature_celsius",
        "device_throttled_raw", "device_throttled", "device_undervolted",
        "node_boot_time_seconds", "node_time_seconds", "device_clock_synchronized",
        "node_filefd_allocated", "node_filefd_maximum",
        "node_procs_running", "node_procs_blocked", "device_processes",
        "device_wifi_signal_dbm", "device_wifi_link_quality_ratio",
        "device_collector_success", "device_collector_duration_seconds",
    }  # fmt: skip
    assert contract - names == set()
    assert registry.last_errors == {}


def test_filesystem_stat_error_is_a_device_error_not_a_failure(pi_paths):
    shutil.rmtree(pi_paths.on_host("/mnt"))
    pi_paths.on_host("/mnt").write_text("a file where a directory should be\n")  # statvfs: ENOTDIR
    samples = FilesystemCollector(pi_paths).collect()
    errors = {s.label("mountpoint"): s.value for s in samples if s.name == "node_filesystem_device_error"}
    assert errors == {"/": 0, "/boot": 0, "/media/usb stick": 0, "/mnt/data": 1, "/run": 0}
    assert not [
        s for s in samples if s.name == "node_filesystem_size_bytes" and s.label("mountpoint") == "/mnt/data"
    ]


def test_guarded_stat_marks_a_hanging_mount_stuck_until_it_returns(tmp_path):
    release = threading.Event()
    calls = []

    def hanging_statvfs(path):  # stands in for a statvfs blocked on a dead NFS server
        calls.append(path)
        release.wait(10)
        return os.statvfs(path)

    guarded = GuardedStat(hanging_statvfs, timeout=0.05)
    assert guarded(str(tmp_path)) is None
    assert guarded(str(tmp_path)) is None and len(calls) == 1  # stuck: not called again
    release.set()
    deadline = time.monotonic() + 5
    while guarded(str(tmp_path)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert guarded(str(tmp_path)).f_blocks > 0 and len(calls) >= 2


def test_guarded_stat_passes_errors_through(tmp_path):
    with pytest.raises(FileNotFoundError):
        GuardedStat()(str(tmp_path / "absent"))
    assert is_network_fs("nfs4") and is_network_fs("fuse.sshfs") and not is_network_fs("ext4")
