"""Pure parsers on literal strings (the kernel's and tools' formats)."""

from __future__ import annotations

import pytest
from health_reporter.collectors.clock import STA_NANO, STA_UNSYNC, Timex, timex_samples
from health_reporter.collectors.containers import container_samples, health_status
from health_reporter.collectors.cpu import busy_ratio
from health_reporter.collectors.filefd import parse_file_nr
from health_reporter.collectors.filesystem import data_mount, parse_mounts, real_mounts
from health_reporter.collectors.load import parse_loadavg
from health_reporter.collectors.memory import parse_meminfo
from health_reporter.collectors.processes import parse_proc_stat_counts
from health_reporter.collectors.sidecars import SidecarsOptions, log_agent_samples
from health_reporter.collectors.throttling import decode_throttled, parse_throttled
from health_reporter.collectors.wifi import parse_iw_link, parse_proc_wireless
from health_reporter.errors import CollectorError


def test_loadavg():
    assert parse_loadavg("0.21 0.37 0.39 1/719 19737\n") == (0.21, 0.37, 0.39)
    with pytest.raises(CollectorError, match="loadavg"):
        parse_loadavg("garbage")


def test_meminfo_keeps_node_exporter_names():
    fields = parse_meminfo("MemTotal: 100 kB\nActive(anon):  2 kB\nHugePages_Total:       4\n")
    assert fields == {"MemTotal_bytes": 102400, "Active_anon_bytes": 2048, "HugePages_Total": 4}
    with pytest.raises(CollectorError, match="meminfo"):
        parse_meminfo("MemTotal 12")


def test_file_nr():
    assert parse_file_nr("1184\t0\t9223372036854775807\n") == (1184, 9223372036854775807)


def test_proc_stat_counts():
    assert parse_proc_stat_counts("cpu 1 2\nprocs_running 3\nprocs_blocked 0\n") == {
        "procs_running": 3,
        "procs_blocked": 0,
    }
    with pytest.raises(CollectorError):
        parse_proc_stat_counts("cpu 1 2\n")


def test_mounts_excludes_pseudo_filesystems_and_unescapes():
    mounts = parse_mounts(
        "/dev/root / ext4 rw 0 0\nproc /proc proc rw 0 0\ntmpfs /run tmpfs rw 0 0\n"
        "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n/dev/sda1 /media/my\\040disk vfat ro 0 0\n"
        "tmpfs /dev/shm tmpfs rw 0 0\n/dev/sdb1 /run/credentials/x.service ext4 rw 0 0\n"
    )
    kept = real_mounts(mounts)
    assert [m.mountpoint for m in kept] == ["/", "/run", "/media/my disk"]
    assert kept[2].options == ("ro",)
    assert data_mount(kept, ("/data", "/mnt/data", "/")).mountpoint == "/"


def test_later_mount_hides_earlier_one_at_same_point():
    kept = real_mounts(
        parse_mounts("/dev/a / ext4 rw 0 0\n/dev/b /data ext4 rw 0 0\n/dev/c /data ext4 rw 0 0\n")
    )
    assert [(m.device, m.mountpoint) for m in kept] == [("/dev/a", "/"), ("/dev/c", "/data")]


@pytest.mark.parametrize(
    ("text", "raw"),
    [("0x50005\n", 0x50005), ("50000\n", 0x50000), ("throttled=0x0\n", 0), ("0\n", 0)],
)
def test_parse_throttled(text, raw):
    assert parse_throttled(text) == raw


def test_parse_throttled_rejects_garbage():
    with pytest.raises(CollectorError, match="get_throttled"):
        parse_throttled("VCHI initialization failed")


def test_decode_throttled_bits():
    flags = decode_throttled(0x50005)
    assert {key for key, is_set in flags.items() if is_set} == {
        ("under_voltage", "now"),
        ("throttled", "now"),
        ("under_voltage", "since_boot"),
        ("throttled", "since_boot"),
    }
    assert not any(decode_throttled(0).values())
    assert [key for key, is_set in decode_throttled(0x80008).items() if is_set] == [
        ("soft_temp_limit", "now"),
        ("soft_temp_limit", "since_boot"),
    ]


def test_busy_ratio():
    before = {"user": 10, "system": 10, "idle": 70, "iowait": 10}
    after = {"user": 40, "system": 20, "idle": 120, "iowait": 20}
    assert busy_ratio(before, after) == pytest.approx(40 / 100)
    assert busy_ratio(after, after) is None  # no time passed
    assert busy_ratio(after, before) is None  # counters went back (CPU hot-unplugged / reset)


def test_proc_wireless_and_unsigned_levels():
    text = (
        "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n"
        " face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n"
        " wlan0: 0000   52.  -58.  -256        0      0      0      0     17        0\n"
        "  wlp2: 0000   40   216   0        0      0      0      0     17        0\n"
    )
    links = parse_proc_wireless(text)
    assert [(link.interface, link.quality, link.level_dbm) for link in links] == [
        ("wlan0", 52.0, -58.0),
        ("wlp2", 40.0, -40.0),
    ]


def test_iw_link():
    text = (
        "Connected to 3c:37:86:aa:bb:cc (on wlan0)\n\tSSID: Cafe Guest\n\tfreq: 2437\n"
        "\tsignal: -58 dBm\n\trx bitrate: 65.0 MBit/s\n\ttx bitrate: 72.2 MBit/s MCS 7 short GI\n"
    )
    assert parse_iw_link(text) == ("Cafe Guest", 72_200_000.0)
    assert parse_iw_link("Not connected.\n") == (None, None)


def test_container_health_from_list_fields():
    assert health_status({"Status": "Up 2 hours (healthy)"}) == "healthy"
    assert health_status({"Status": "Up 1 second (health: starting)"}) == "starting"
    assert health_status({"Status": "Up 5 minutes"}) is None
    assert health_status({"Health": {"Status": "unhealthy"}, "Status": "Up"}) == "unhealthy"
    samples = container_samples([{"Id": "0123456789abcdef", "State": "exited", "Status": "Exited (1)"}])
    assert [(s.name, dict(s.labels)) for s in samples] == [
        ("device_container_state_info", {"name": "0123456789ab", "state": "exited"})
    ]


def test_log_agent_metrics_summed_over_outputs():
    text = (
        "# TYPE log_agent_backlog_records gauge\n"
        'log_agent_backlog_records{output="cloud"} 120\nlog_agent_backlog_records{output="local"} 3\n'
        "# TYPE log_agent_records_dropped counter\n"
        'log_agent_records_dropped_total{output="cloud"} 7\n'
        'log_agent_records_dropped_created{output="cloud"} 1.7e9\n'
        "# TYPE log_agent_oldest_unsent_age_seconds gauge\n"
        'log_agent_oldest_unsent_age_seconds{output="cloud"} 42.5\n'
        'log_agent_oldest_unsent_age_seconds{output="local"} 0.5\n'
    )
    samples = {s.name: s.value for s in log_agent_samples(text, SidecarsOptions())}
    assert samples == {
        "device_log_backlog_records": 123,
        "device_log_dropped_records_total": 7,
        "device_log_oldest_unsent_age_seconds": 42.5,
    }
    assert log_agent_samples("# nothing here\n", SidecarsOptions()) == []


def test_clock_verdict_from_timex():
    # node_timex_* come from the timex collector (test_collectors_node_exporter.py); this is the verdict.
    synced = Timex(status=STA_NANO, maxerror=250_000, offset=-1_500_000)
    assert {s.name: s.value for s in timex_samples(synced)} == {"device_clock_synchronized": 1}
    # chrony without rtcsync leaves STA_UNSYNC set while synchronised: maxerror decides (as systemd).
    chrony = {s.name: s.value for s in timex_samples(Timex(status=STA_UNSYNC, maxerror=40_000))}
    assert chrony["device_clock_synchronized"] == 1
    booting = {s.name: s.value for s in timex_samples(Timex(status=STA_UNSYNC, maxerror=16_000_000))}
    assert booting["device_clock_synchronized"] == 0
