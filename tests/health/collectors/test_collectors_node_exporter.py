"""The collectors that serve node_exporter's series, on fake trees: names, labels, units and the
missing / malformed cases (the real machine against the real node_exporter: test_node_exporter_coverage)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from health_collector_testing import by_name, value
from health_reporter.collectors import build_collectors
from health_reporter.collectors.arp import ArpCollector
from health_reporter.collectors.clock import STA_NANO, Timex
from health_reporter.collectors.conntrack import ConntrackCollector
from health_reporter.collectors.cpufreq import CpuFreqCollector
from health_reporter.collectors.diskio import DiskIoCollector
from health_reporter.collectors.entropy import EntropyCollector
from health_reporter.collectors.hwmon import HwmonCollector
from health_reporter.collectors.netstat import NetstatCollector, NetstatOptions
from health_reporter.collectors.network import NetworkCollector
from health_reporter.collectors.os_release import OsReleaseCollector, parse_os_release
from health_reporter.collectors.power_supply import PowerSupplyCollector
from health_reporter.collectors.pressure import PressureCollector
from health_reporter.collectors.schedstat import SchedstatCollector
from health_reporter.collectors.sockstat import PAGE_SIZE, SockstatCollector
from health_reporter.collectors.softnet import SoftnetCollector
from health_reporter.collectors.stat import StatCollector
from health_reporter.collectors.thermal import ThermalCollector
from health_reporter.collectors.time import TimeCollector
from health_reporter.collectors.timex import TIME_ERROR, TimexCollector, timex_samples
from health_reporter.collectors.udp_queues import UdpQueuesCollector
from health_reporter.collectors.uname import UnameCollector
from health_reporter.collectors.vmstat import VmstatCollector, VmstatOptions
from health_reporter.errors import CollectorError, ConfigError
from health_reporter.models import Kind
from health_reporter.paths import Paths
from health_reporter.registry import CollectorRegistry


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_uname_labels_are_the_syscalls(pi_paths):
    write(pi_paths.in_proc("sys", "kernel", "domainname"), "(none)\n")
    [sample] = UnameCollector(pi_paths).collect()
    uts = os.uname()
    assert sample.name == "node_uname_info" and sample.value == 1 and sample.kind == Kind.GAUGE
    assert dict(sample.labels) == {
        "sysname": uts.sysname, "release": uts.release, "version": uts.version, "machine": uts.machine,
        "nodename": uts.nodename, "domainname": "(none)",
    }  # fmt: skip


BALENA_OS_RELEASE = """\
ID="balena-os"
NAME="balenaOS"
VERSION="2.113.18"
VERSION_ID="2.113.18"
PRETTY_NAME="balenaOS 2.113.18"
# a comment
VARIANT='production'
SUPPORT_END=2027-01-31
"""


def test_os_release_info_version_and_support_end(pi_paths):
    write(pi_paths.on_host("/etc/os-release"), BALENA_OS_RELEASE)
    samples = OsReleaseCollector(pi_paths).collect()
    info = dict(next(s for s in samples if s.name == "node_os_info").labels)
    assert info["id"] == "balena-os" and info["pretty_name"] == "balenaOS 2.113.18"
    assert info["variant"] == "production" and info["build_id"] == "" and info["version_codename"] == ""
    assert list(info) == [
        "build_id", "id", "id_like", "image_id", "image_version", "name", "pretty_name", "variant",
        "variant_id", "version", "version_codename", "version_id",
    ]  # fmt: skip
    versions = by_name(samples, "node_os_version")
    assert versions == {(("id", "balena-os"), ("id_like", ""), ("name", "balenaOS")): pytest.approx(2.113)}
    assert value(samples, "node_os_support_end_timestamp_seconds") == 1801353600


def test_os_release_falls_back_to_usr_lib_and_is_parsed_again_only_when_changed(pi_paths):
    assert OsReleaseCollector(pi_paths).collect() == []  # neither file: nothing to say
    path = write(pi_paths.on_host("/usr/lib/os-release"), 'ID=debian\nVERSION_ID="12"\n')
    collector = OsReleaseCollector(pi_paths)

    def version() -> float:
        [sample] = [s for s in collector.collect() if s.name == "node_os_version"]
        return sample.value

    assert version() == 12
    stat = path.stat()
    path.write_text('ID=debian\nVERSION_ID="13"\n')  # same size: only the mtime tells
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert version() == 12  # cached
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert version() == 13


def test_os_release_quoting():
    parsed = parse_os_release('NAME=\'Raspbian GNU/Linux\'\nA="x \\"y\\""\nBAD LINE\n\n')
    assert parsed == {"NAME": "Raspbian GNU/Linux", "A": 'x "y"'}


def test_cpufreq_in_hertz_with_governors(pi_paths):
    for cpu, current in (("cpu0", "1500000"), ("cpu1", "600000")):
        base = pi_paths.in_sys("devices", "system", "cpu", cpu, "cpufreq")
        write(base / "scaling_cur_freq", current + "\n")
        write(base / "scaling_min_freq", "600000\n")
        write(base / "scaling_max_freq", "1500000\n")
        write(base / "cpuinfo_max_freq", "1500000\n")
        write(base / "scaling_governor", "ondemand\n")
        write(base / "scaling_available_governors", "conservative ondemand userspace powersave performance\n")
    # cpuinfo_cur_freq is root-only on real kernels: absent here, so no node_cpu_frequency_hertz
    pi_paths.in_sys("devices", "system", "cpu", "cpufreq").mkdir(parents=True)  # not a cpuN directory
    samples = CpuFreqCollector(pi_paths).collect()
    assert value(samples, "node_cpu_scaling_frequency_hertz", cpu="0") == 1.5e9
    assert value(samples, "node_cpu_scaling_frequency_hertz", cpu="1") == 6e8
    assert value(samples, "node_cpu_frequency_max_hertz", cpu="1") == 1.5e9
    assert not by_name(samples, "node_cpu_frequency_hertz")
    governors = {s.label("governor"): s.value for s in samples if s.name == "node_cpu_scaling_governor"}
    assert governors == {"conservative": 0, "ondemand": 1, "userspace": 0, "powersave": 0, "performance": 0}


def test_pressure_totals_in_seconds(pi_paths):
    samples = PressureCollector(pi_paths).collect()
    assert {s.name: s.value for s in samples} == {
        "node_pressure_cpu_waiting_seconds_total": 1.234567,
        "node_pressure_io_waiting_seconds_total": 7.654321,
        "node_pressure_io_stalled_seconds_total": 4.0,
        "node_pressure_memory_waiting_seconds_total": 0.025,
        "node_pressure_memory_stalled_seconds_total": 0.012,
    }  # no irq file on this kernel: no irq series
    assert all(s.kind == Kind.COUNTER for s in samples)


def test_pressure_without_psi_is_no_samples(pi_paths):
    for path in pi_paths.in_proc("pressure").iterdir():
        path.unlink()
    assert PressureCollector(pi_paths).collect() == []


def test_vmstat_default_fields_untyped(pi_paths):
    samples = VmstatCollector(pi_paths).collect()
    assert {s.name: s.value for s in samples} == {
        "node_vmstat_pgpgin": 709327, "node_vmstat_pgpgout": 248164, "node_vmstat_pswpin": 0,
        "node_vmstat_pswpout": 0, "node_vmstat_pgfault": 3904213, "node_vmstat_pgmajfault": 1873,
        "node_vmstat_oom_kill": 0,
    }  # fmt: skip
    assert {s.kind for s in samples} == {Kind.UNTYPED}
    other = VmstatCollector(pi_paths, VmstatOptions(fields="^nr_free")).collect()
    assert [s.name for s in other] == ["node_vmstat_nr_free_pages"]


def test_field_options_must_be_regular_expressions():
    with pytest.raises(ConfigError, match=r"vmstat\.fields"):
        build_collectors(Paths(), {"vmstat": {"fields": "("}})
    with pytest.raises(ConfigError, match=r"netstat\.fields"):
        build_collectors(Paths(), {"netstat": {"fields": "[a-"}})


def hwmon_tree(sys_root: Path) -> None:
    """A PC's coretemp chip (device link: platform_coretemp_0) and a fan chip, and two hwmon nodes of
    one device (names must be told apart), the way the kernel lays them out."""
    coretemp = sys_root / "devices" / "platform" / "coretemp.0" / "hwmon" / "hwmon1"
    files = {
        "name": "coretemp", "temp1_input": "45000", "temp1_max": "80000", "temp1_crit": "100000",
        "temp1_crit_alarm": "0", "temp1_label": "Package id 0", "temp2_input": "43000",
    }  # fmt: skip
    for name, text in files.items():
        write(coretemp / name, text + "\n")
    (coretemp / "device").symlink_to("../..")
    fans = sys_root / "devices" / "platform" / "nct6775.656" / "hwmon" / "hwmon2"
    fan_files = {
        "name": "nct6775", "fan1_input": "1200", "fan1_min": "300", "in0_input": "1032",
        "in0_lcrit_alarm": "1", "pwm1": "128", "power1_average": "5500000", "energy1_input": "2000000",
        "beep_enable": "1", "update_interval": "1000",
    }  # fmt: skip
    for name, text in fan_files.items():
        write(fans / name, text + "\n")
    (fans / "device").symlink_to("../..")
    for number in (3, 4):  # one ACPI device with two hwmon nodes, both named "acpitz"
        node = sys_root / "devices" / "virtual" / "thermal" / "thermal_zone0" / "hwmon" / f"hwmon{number}"
        write(node / "name", "acpitz\n")
        write(node / "temp1_input", f"{number}0000\n")
        (node / "device").symlink_to("../..")
    hwmon = sys_root / "class" / "hwmon"
    hwmon.mkdir(parents=True)
    for node in (coretemp, fans, *sorted((sys_root / "devices" / "virtual").rglob("hwmon[34]"))):
        (hwmon / node.name).symlink_to(node)


def test_hwmon_names_units_and_chip_labels_as_node_exporter(tmp_path):
    hwmon_tree(tmp_path / "sys")
    samples = HwmonCollector(Paths(proc=tmp_path, sys=tmp_path / "sys", root=tmp_path)).collect()
    chip = "platform_coretemp_0"
    assert value(samples, "node_hwmon_temp_celsius", chip=chip, sensor="temp1") == 45
    assert value(samples, "node_hwmon_temp_max_celsius", chip=chip, sensor="temp1") == 80
    assert value(samples, "node_hwmon_temp_crit_celsius", chip=chip, sensor="temp1") == 100
    assert value(samples, "node_hwmon_temp_crit_alarm_celsius", chip=chip, sensor="temp1") == 0
    assert value(samples, "node_hwmon_sensor_label", chip=chip, sensor="temp1", label="Package id 0") == 1
    assert value(samples, "node_hwmon_chip_names", chip=chip, chip_name="coretemp") == 1
    fans = "platform_nct6775_656"
    assert value(samples, "node_hwmon_fan_rpm", chip=fans, sensor="fan1") == 1200
    assert value(samples, "node_hwmon_fan_min_rpm", chip=fans, sensor="fan1") == 300
    assert value(samples, "node_hwmon_in_volts", chip=fans, sensor="in0") == pytest.approx(1.032)
    # node_exporter's quirk, kept: an "in" alarm gets the volts unit and scale (the Pi's under-voltage flag)
    assert value(samples, "node_hwmon_in_lcrit_alarm_volts", chip=fans, sensor="in0") == 0.001
    assert value(samples, "node_hwmon_pwm", chip=fans, sensor="pwm1") == 128
    assert value(samples, "node_hwmon_power_average_watt", chip=fans, sensor="power1") == 5.5
    assert value(samples, "node_hwmon_energy_joule_total", chip=fans, sensor="energy1") == 2
    assert value(samples, "node_hwmon_beep_enabled", chip=fans, sensor="beep_enable0") == 1
    assert value(samples, "node_hwmon_update_interval_seconds", chip=fans, sensor="update_interval0") == 1
    # same device, same name file: told apart by the hwmonN directory, as node_exporter does
    zones = {s.label("chip") for s in samples if s.name == "node_hwmon_temp_celsius"} - {chip}
    assert zones == {"thermal_thermal_zone0_hwmon3", "thermal_thermal_zone0_hwmon4"}


def test_hwmon_absent_is_no_samples(tmp_path):
    assert HwmonCollector(Paths(proc=tmp_path, sys=tmp_path, root=tmp_path)).collect() == []


def test_thermal_cooling_devices(pi_paths):
    device = pi_paths.in_sys("class", "thermal", "cooling_device0")
    write(device / "type", "pwm-fan\n")
    write(device / "cur_state", "2\n")
    write(device / "max_state", "4\n")
    samples = ThermalCollector(pi_paths).collect()
    key = (("name", "0"), ("type", "pwm-fan"))
    assert by_name(samples, "node_cooling_device_cur_state") == {key: 2}
    assert by_name(samples, "node_cooling_device_max_state") == {key: 4}


def test_time_zone_and_clocksources(pi_paths):
    source = pi_paths.in_sys("devices", "system", "clocksource", "clocksource0")
    write(source / "available_clocksource", "arch_sys_counter \n")
    write(source / "current_clocksource", "arch_sys_counter\n")
    samples = TimeCollector(pi_paths).collect()
    assert len(by_name(samples, "node_time_zone_offset_seconds")) == 1
    assert (
        value(samples, "node_time_clocksource_current_info", device="0", clocksource="arch_sys_counter") == 1
    )
    assert (
        value(samples, "node_time_clocksource_available_info", device="0", clocksource="arch_sys_counter")
        == 1
    )


def test_timex_as_node_exporter_decodes_it():
    timex = Timex(status=STA_NANO, maxerror=250_000, offset=-1_500_000, freq=65536 * 12, tick=10000, tai=37)
    synced = {s.name: s.value for s in timex_samples(0, timex)}
    assert synced["node_timex_sync_status"] == 1
    assert synced["node_timex_offset_seconds"] == pytest.approx(-0.0015)  # nanoseconds with STA_NANO
    assert synced["node_timex_maxerror_seconds"] == 0.25
    assert synced["node_timex_frequency_adjustment_ratio"] == pytest.approx(1.000012)
    assert synced["node_timex_tick_seconds"] == 0.01 and synced["node_timex_tai_offset_seconds"] == 37
    assert len(synced) == 17
    assert {s.name: s.value for s in timex_samples(TIME_ERROR, Timex())}["node_timex_sync_status"] == 0


def test_timex_on_this_machine():
    samples = TimexCollector(Paths()).collect()
    assert value(samples, "node_timex_tick_seconds") > 0
    assert {s.kind for s in samples if s.name.endswith("_total")} == {Kind.COUNTER}


def test_stat_entropy_conntrack_schedstat(pi_paths):
    stat = {s.name: s.value for s in StatCollector(pi_paths).collect()}
    assert set(stat) == {"node_intr_total", "node_context_switches_total", "node_forks_total"}
    entropy = EntropyCollector(pi_paths).collect()
    assert (
        value(entropy, "node_entropy_available_bits") == value(entropy, "node_entropy_pool_size_bits") == 256
    )
    assert ConntrackCollector(pi_paths).collect() == []  # no netfilter module loaded
    write(pi_paths.in_proc("sys", "net", "netfilter", "nf_conntrack_count"), "12\n")
    write(pi_paths.in_proc("sys", "net", "netfilter", "nf_conntrack_max"), "65536\n")
    conntrack = ConntrackCollector(pi_paths).collect()
    assert value(conntrack, "node_nf_conntrack_entries") == 12
    assert value(conntrack, "node_nf_conntrack_entries_limit") == 65536
    schedstat = "version 15\ntimestamp 4295\ncpu0 0 0 0 0 0 0 2500000000 1000000000 77\ndomain0 f 0 0 0\n"
    write(pi_paths.in_proc("schedstat"), schedstat)
    sched = SchedstatCollector(pi_paths).collect()
    assert value(sched, "node_schedstat_running_seconds_total", cpu="0") == 2.5
    assert value(sched, "node_schedstat_waiting_seconds_total", cpu="0") == 1
    assert value(sched, "node_schedstat_timeslices_total", cpu="0") == 77


def test_netstat_snmp_fields_untyped(pi_paths):
    samples = NetstatCollector(pi_paths).collect()
    names = {s.name: s.value for s in samples}
    assert names["node_netstat_Tcp_CurrEstab"] == 5 and names["node_netstat_Ip_Forwarding"] == 2
    assert names["node_netstat_IpExt_InOctets"] == 48213392 and names["node_netstat_TcpExt_TCPTimeouts"] == 17
    assert names["node_netstat_Udp_NoPorts"] == 47
    assert (
        "node_netstat_Tcp_MaxConn" not in names and "node_netstat_Ip_DefaultTTL" not in names
    )  # not default
    assert {s.kind for s in samples} == {Kind.UNTYPED}
    everything = NetstatCollector(pi_paths, NetstatOptions(fields=".*")).collect()
    assert value(everything, "node_netstat_Tcp_MaxConn") == -1


def test_netstat_mismatched_lines_are_an_error(pi_paths):
    write(pi_paths.in_proc("net", "snmp"), "Tcp: A B\nTcp: 1\n")
    with pytest.raises(CollectorError, match="mismatched"):
        NetstatCollector(pi_paths).collect()


def test_sockstat_softnet_arp_udp_queues(pi_paths):
    sockstat = SockstatCollector(pi_paths).collect()
    assert value(sockstat, "node_sockstat_sockets_used") == 187
    assert value(sockstat, "node_sockstat_TCP_tw") == 2
    assert value(sockstat, "node_sockstat_TCP_mem_bytes") == 3 * PAGE_SIZE
    assert value(sockstat, "node_sockstat_FRAG_memory") == 0
    softnet = SoftnetCollector(pi_paths).collect()
    assert value(softnet, "node_softnet_processed_total", cpu="0") == 0x11A2B
    assert value(softnet, "node_softnet_dropped_total", cpu="1") == 1
    assert value(softnet, "node_softnet_backlog_len", cpu="3") == 0
    assert len(by_name(softnet, "node_softnet_times_squeezed_total")) == 4
    assert by_name(ArpCollector(pi_paths).collect(), "node_arp_entries") == {(("device", "wlan0"),): 2}
    write(pi_paths.in_proc("net", "udp"), "  sl  local_address rem_address   st tx_queue rx_queue tr\n"
          "  0: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000\n"
          "  1: 00000000:14E9 00000000:0000 07 00000000:00000100 00:00000000\n")  # fmt: skip
    queues = UdpQueuesCollector(pi_paths).collect()
    assert by_name(queues, "node_udp_queues") == {
        (("ip", "v4"), ("queue", "rx")): 0x300,
        (("ip", "v4"), ("queue", "tx")): 0x10,
    }  # no udp6 file: IPv6 off


def test_network_every_netdev_field_and_link_attributes(pi_paths):
    wlan0 = pi_paths.in_sys("class", "net", "wlan0")
    write(wlan0 / "carrier", "1\n")
    write(wlan0 / "mtu", "1500\n")
    write(wlan0 / "speed", "-1\n")  # unknown: node_exporter exports -125000 by default
    write(wlan0 / "statistics" / "rx_nohandler", "4\n")
    samples = NetworkCollector(pi_paths).collect()
    assert value(samples, "node_network_receive_multicast_total", device="wlan0") == 1021
    assert value(samples, "node_network_transmit_colls_total", device="wlan0") == 0
    assert (
        len({s.name for s in samples if s.name.startswith(("node_network_receive", "node_network_transmit"))})
        == 17
    )
    assert value(samples, "node_network_carrier", device="wlan0") == 1
    assert value(samples, "node_network_mtu_bytes", device="wlan0") == 1500
    assert value(samples, "node_network_speed_bytes", device="wlan0") == -125000
    assert value(samples, "node_network_receive_nohandler_total", device="wlan0") == 4
    assert not by_name(samples, "node_network_carrier").get((("device", "eth0"),))


def test_diskstats_every_field(pi_paths):
    samples = DiskIoCollector(pi_paths).collect()
    assert value(samples, "node_disk_reads_merged_total", device="mmcblk0") == 6433
    assert value(samples, "node_disk_read_time_seconds_total", device="mmcblk0") == pytest.approx(62.931)
    assert value(samples, "node_disk_io_now", device="mmcblk0") == 0
    assert value(samples, "node_disk_io_time_weighted_seconds_total", device="mmcblk0") == pytest.approx(
        206.343
    )
    assert value(samples, "node_disk_flush_requests_total", device="mmcblk0") == 0
    assert len({s.name for s in samples}) == 17


def test_power_supply_online(pi_paths):
    supply = pi_paths.in_sys("class", "power_supply", "AC")
    write(supply / "online", "1\n")
    write(supply / "type", "Mains\n")
    assert by_name(PowerSupplyCollector(pi_paths).collect(), "node_power_supply_online") == {
        (("power_supply", "AC"),): 1
    }


def test_registry_also_scores_collectors_with_node_exporters_names(pi_paths):
    registry = CollectorRegistry([StatCollector(pi_paths), VmstatCollector(pi_paths)])
    pi_paths.in_proc("vmstat").write_text("garbage\n")
    samples = registry.collect()
    assert by_name(samples, "node_scrape_collector_success") == {
        (("collector", "stat"),): 1,
        (("collector", "vmstat"),): 0,
    }
    assert len(by_name(samples, "node_scrape_collector_duration_seconds")) == 2
