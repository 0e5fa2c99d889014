"""The bottle app over a sampler fed with hand-made samples: status, probes, history, dashboard."""

from __future__ import annotations

from health_reporter.checks import CheckRunner, build_checks
from health_reporter.collectors.base import Cadence
from health_reporter.history import History
from health_reporter.models import Sample, note
from health_reporter.sampler import Sampler
from health_reporter.web import create_app

from tests.health.helpers import ScriptedSource, WsgiClient, gauge, info, wait_until

STATUS_FIELDS = {
    "cpu_usage", "memory_usage", "memory_total", "storage_usage", "storage_total", "cpu_temp",
    "is_undervolted", "throttling", "wifi", "sidecars", "checks", "status",
}  # fmt: skip


def make(source: ScriptedSource, interval: float = 10) -> tuple[Sampler, WsgiClient]:
    sampler = Sampler(source, CheckRunner(build_checks({})), History(3600, interval), interval, interval)
    return sampler, WsgiClient(create_app(sampler))


def test_before_the_first_sample_probes_say_not_ready() -> None:
    _, client = make(ScriptedSource())
    assert client.get("/readyz").status_code == 503
    assert client.get("/status").get_json() == {"status": "starting", "message": "first sample not taken yet"}
    page = client.get("/")
    assert page.status_code == 200 and b"first sample has not been taken yet" in page.data


def test_status_is_the_supervisor_summary_plus_checks() -> None:
    sampler, client = make(ScriptedSource(cpu=0.42, temp=77, undervoltage_now=True, unhealthy=("db",)))
    sampler.run_once()
    assert client.get("/readyz").status_code == 200
    status = client.get("/status").get_json()
    assert set(status) >= STATUS_FIELDS
    assert (status["cpu_usage"], status["cpu_temp"], status["is_undervolted"]) == (42, 77, True)
    assert (status["memory_usage"], status["memory_total"]) == (1638, 4096)
    assert (status["storage_usage"], status["storage_total"]) == (16384, 32768)
    assert status["storage_mountpoint"] == "/data"
    assert status["throttling"]["under_voltage"] == {"now": True, "since_boot": True}
    assert status["wifi"]["ssid"] == "Workshop" and status["wifi"]["signal_dbm"] == -60
    assert status["sidecars"]["log-agent"]["backlog_records"] == 12
    assert status["sidecars"]["log-agent"]["backlog_bytes"] is None  # records reported: no bytes
    assert status["sidecars"]["wifi-connect"] == {
        "up": True, "error": None, "reason": None, "state": "connected",
    }  # fmt: skip
    checks = {check["check"]: check["status"] for check in status["checks"]}
    assert checks["undervoltage"] == "critical" and checks["temperature"] == "warning"
    assert checks["containers"] == "warning" and checks["disk"] == "ok"
    assert status["status"] == "critical"


def test_status_wifi_is_the_weakest_link_like_the_check_and_the_plot() -> None:
    def two_links(cadence: Cadence) -> list[Sample]:
        weak_second = [
            gauge("device_wifi_signal_dbm", -82, interface="wlan1"),
            info("device_wifi_info", interface="wlan1", ssid="Yard"),
        ]
        return ScriptedSource()(cadence) + (weak_second if cadence == Cadence.FAST else [])

    sampler, client = make(two_links)  # type: ignore[arg-type]
    sampler.run_once()
    status = client.get("/status").get_json()
    assert (status["wifi"]["interface"], status["wifi"]["ssid"], status["wifi"]["signal_dbm"]) == (
        "wlan1", "Yard", -82,
    )  # fmt: skip
    check = next(check for check in status["checks"] if check["check"] == "wifi_signal")
    assert (check["value"], check["message"]) == (-82, "wlan1 signal -82 dBm")
    assert client.get("/history").get_json()["wifi_signal"]["points"][-1][1] == -82


def test_history_and_dashboard_show_the_last_hour() -> None:
    source = ScriptedSource(cpu=0.1)
    sampler, client = make(source)
    for cpu in (0.1, 0.5, 0.9):
        source.values = {"cpu": cpu}
        sampler.run_once()
    history = client.get("/history").get_json()
    assert [round(v) for _, v in history["cpu"]["points"]] == [10, 50, 90]
    assert history["wifi_signal"]["unit"] == "dBm" and len(history["temperature"]["points"]) == 3
    page = client.get("/").get_data(as_text=True)
    assert page.count("<polyline") == 6 and 'data-check="undervoltage" data-status="ok"' in page
    assert "http://" not in page.replace('href="/', "")  # self-contained: no external resources
    assert client.get("/nope").get_json()["error"] == "Not Found"


def test_the_log_backlog_shows_in_records_or_else_in_bytes() -> None:
    sampler, client = make(ScriptedSource(log_backlog=12, log_backlog_bytes=8192))
    sampler.run_once()
    page = client.get("/").get_data(as_text=True)
    assert "backlog 12 records" in page and 'data-series="log_backlog"' in page
    assert 'data-series="log_backlog_bytes"' not in page

    sampler, client = make(ScriptedSource(log_backlog=None, log_backlog_bytes=3 * 1024 * 1024))
    sampler.run_once()
    log_agent = client.get("/status").get_json()["sidecars"]["log-agent"]
    assert (log_agent["backlog_records"], log_agent["backlog_bytes"]) == (None, 3 * 1024 * 1024)
    assert client.get("/history").get_json()["log_backlog_bytes"]["unit"] == "bytes"
    page = client.get("/").get_data(as_text=True)
    assert "backlog 3.0 MiB" in page and "Log backlog: <strong>3.0 MiB</strong>" in page
    assert 'data-series="log_backlog_bytes"' in page and 'data-series="log_backlog"' not in page


def test_a_check_not_measured_is_unknown_and_grey() -> None:
    sampler, client = make(ScriptedSource(wifi_dbm=None))
    sampler.run_once()
    status = client.get("/status").get_json()
    wifi = next(check for check in status["checks"] if check["check"] == "wifi_signal")
    assert (wifi["status"], wifi["message"]) == ("unknown", "not measured on this device")
    assert status["status"] == "ok"  # the measured checks are fine; unknown does not count
    page = client.get("/").get_data(as_text=True)
    card = 'data-check="wifi_signal" data-status="unknown" data-shown="unknown"><span class="dot unknown">'
    assert card in page and '<span class="state unknown">Not measured</span>' in page
    assert ".unknown { background: var(--unknown); }" in page


def test_healthz_follows_the_sampler_thread() -> None:
    sampler, client = make(ScriptedSource(), interval=0.05)
    assert client.get("/healthz").status_code == 503  # not started
    sampler.start()
    try:
        wait_until(lambda: client.get("/healthz").status_code == 200, 5, "a live sampler")
        assert client.get("/healthz").get_json()["alive"] is True
    finally:
        sampler.stop()
    assert client.get("/healthz").status_code == 503


def test_dashboard_and_status_word_what_is_unknown_down_or_pending() -> None:
    """Not a Pi (no throttling), log-agent down with a long error, clock not synchronised yet."""
    error = "GET http://127.0.0.1:24220/metrics: connection refused " + "x" * 200

    def device(cadence: Cadence) -> list[Sample]:
        samples = ScriptedSource(sidecars_up=(True, False), clock_synced=False)(cadence)
        samples = [s for s in samples if not s.name.startswith(("device_throttled", "device_undervolted"))]
        reason = info("device_sidecar_error_info", sidecar="log-agent", reason="refused")
        return [*samples, reason, note("device_sidecar_error", sidecar="log-agent", error=error)]

    sampler, client = make(device)  # type: ignore[arg-type]
    sampler.run_once()
    status = client.get("/status").get_json()
    clock = next(check for check in status["checks"] if check["check"] == "clock")
    pending = "clock not synchronised (warning after 6 samples, 1 so far)"
    assert (clock["status"], clock["message"]) == ("ok", pending)
    assert clock["pending"] == {"status": "warning", "after": 6, "so_far": 1}
    page = client.get("/").get_data(as_text=True)
    assert "throttling not measured" in page and "not throttled" not in page
    tile = page[page.index('data-sidecar="log-agent"') :]
    tile = tile[: tile.index("</details>")]
    assert ">down<" in tile and "down: not running (connection refused)" in tile
    assert f"<details><summary>Details</summary><code>{error}</code>" in tile  # all of it, one tap away
    power = page[page.index(">Power<") : page.index('id="clock"')]
    assert "clock" not in power and "not measured on this device" in power
    assert "not synchronised yet" in page[page.index('id="clock"') :]
    # The clock check waits out its debounce: its own state, never ok's colour beside the new reading.
    card = page[page.index('data-check="clock"') :]
    card = card[: card.index("</div></div>")]
    assert 'data-status="ok" data-shown="pending"><span class="dot pending">' in card
    assert '<span class="state pending">Pending</span><br>clock not synchronised' in card
    assert "Warning if it persists (1 of 6 samples)" in card
    # The header shows the worst current reading: the sidecar check's pending critical, named.
    assert status["status"] == "ok" and status["worst_reading"] == "critical"
    assert '<span class="badge critical" id="overall">Critical</span>' in page
    assert "not confirmed yet: Sidecars up" in page


def test_sizes_read_in_gb_above_10_gb() -> None:
    sampler, client = make(ScriptedSource())
    sampler.run_once()
    page = client.get("/").get_data(as_text=True)
    storage = page[page.index('id="storage"') :]
    assert '>16.0 GB</div><div class="sub">of 32.0 GB<' in storage  # 32 GiB /data
    assert '>1638 MB</div><div class="sub">of 4096 MB<' in page  # 4 GiB of RAM stays in MB
