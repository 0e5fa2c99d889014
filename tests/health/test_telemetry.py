"""Telemetry through the real fluent-logger to a strict Fluent Forward receiver on loopback."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest
from health_reporter.checks import CheckRunner, build_checks
from health_reporter.config import TelemetryConfig
from health_reporter.history import History
from health_reporter.sampler import Sampler
from health_reporter.snapshot import summary
from health_reporter.telemetry import QUEUE_LIMIT, Telemetry, compact, moved

from tests.health.helpers import ScriptedSource, free_port, snapshot, wait_until
from tests.log_agent.forward_receiver import ForwardReceiver


def make_sampler(port: int, source: ScriptedSource, **telemetry: object) -> tuple[Sampler, Telemetry]:
    telemetry = {"metrics_min_interval_seconds": 0, **telemetry}  # these tests send records back to back
    config = TelemetryConfig(fluent_port=port, tag_prefix="device.health", timeout_seconds=1.0, **telemetry)
    sender = Telemetry(config)
    sampler = Sampler(source, CheckRunner(build_checks({})), History(60, 1), 1, 1, telemetry=sender)
    sender.start()
    return sampler, sender


@pytest.fixture
def receiver() -> Iterator[ForwardReceiver]:
    with ForwardReceiver() as running:
        yield running


def tags(receiver: ForwardReceiver) -> list[str]:
    return [event.tag for event in receiver.events]


def record(status: str = "ok", **values: object) -> dict:
    return compact(summary(snapshot(**values)), status)


def test_a_field_must_move_a_whole_bucket_from_the_last_sent_value() -> None:
    assert moved(None, record())  # nothing sent yet
    assert not moved(record(cpu=0.21), record(cpu=0.39))  # 18 points: less than the 20 % bucket
    assert moved(record(cpu=0.21), record(cpu=0.41))
    assert not moved(record(temp=59.9), record(temp=60.1))  # across a boundary, but only 0.2 C
    assert moved(record(temp=57), record(temp=62)) and moved(record(temp=62), record(temp=57))
    assert moved(record("ok"), record("warning"))
    assert moved(record(wifi_dbm=-60), record(wifi_dbm=None))  # the link went away
    def backlog(size: int) -> dict:
        return record(log_backlog=None, log_backlog_bytes=size)  # an agent reporting bytes only

    assert not moved(backlog(100), backlog(900_000)) and moved(backlog(100), backlog(2 << 20))


def test_jittering_values_send_few_metrics_records(receiver: ForwardReceiver) -> None:
    """An hour at 10 s ticks of cpu and temperature jittering across bucket boundaries."""
    now = [0.0]
    config = TelemetryConfig(fluent_port=receiver.port, tag_prefix="device.health", heartbeat_minutes=60)
    sender = Telemetry(config, clock=lambda: now[0])
    sender.start()
    try:
        for tick in range(360):
            now[0] = tick * 10.0
            jitter = tick % 2
            sender.on_sample(summary(snapshot(cpu=0.39 + 0.02 * jitter, temp=59.9 + 0.2 * jitter)), "ok", {})
        for tick in range(360, 420):  # then a real swing every tick: the per-minute cap holds it
            now[0] = tick * 10.0
            sender.on_sample(summary(snapshot(cpu=0.1 + 0.8 * (tick % 2))), "ok", {})
    finally:
        sender.stop()  # sends what is queued first
    wait_until(lambda: len(receiver.events) >= 12, 10, "10 metrics records and 2 heartbeats")
    events = zip(receiver.events, receiver.records(), strict=True)
    cpu_sent = [record["cpu_usage"] for event, record in events if event.tag.endswith(".metrics")]
    assert cpu_sent[0] == 39 and cpu_sent[1] == 10  # nothing for the hour of jitter
    # the 10-minute swing of 60 ticks: at most one record a minute (9: the minute that finds the value back
    # where it was last sent sends nothing), not 60
    assert len(cpu_sent) == 1 + 9 and len(receiver.events) == 12
    assert receiver.violations == []


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ({"log_backlog": 12, "log_backlog_bytes": 4096}, (12, None)),  # records win when both are there
        ({"log_backlog": None, "log_backlog_bytes": 4096}, (None, 4096)),  # an agent without records
        ({"log_backlog": None, "log_backlog_bytes": None}, (None, None)),
    ],
)
def test_backlog_in_records_with_a_fallback_to_bytes(reported: dict, expected: tuple) -> None:
    record = compact(summary(snapshot(**reported)), "ok")
    assert (record["log_backlog_records"], record["log_backlog_bytes"]) == expected


def test_metrics_on_bucket_change_heartbeat_and_transition_events(receiver: ForwardReceiver) -> None:
    source = ScriptedSource(cpu=0.21, temp=55)
    sampler, sender = make_sampler(receiver.port, source)
    try:
        sampler.run_once()  # first sample: metrics + heartbeat
        source.values = {"cpu": 0.30, "temp": 56}  # same buckets: nothing new
        sampler.run_once()
        source.values = {"cpu": 0.30, "temp": 78}  # temperature bucket and check change
        sampler.run_once()
        assert receiver.wait_for_events(4, timeout=10), receiver.events
    finally:
        sampler.stop()
    assert receiver.violations == []
    assert tags(receiver) == ["device.health.metrics", "device.health.heartbeat", "device.health.event",
                              "device.health.metrics"]  # fmt: skip
    first, heartbeat, event, second = receiver.records()
    assert first["cpu_usage"] == 21 and first["cpu_temp"] == 55 and first["status"] == "ok"
    assert (first["memory_total"], first["storage_total"], first["wifi_signal_dbm"]) == (4096, 32768, -60)
    assert heartbeat["checks"]["temperature"] == "ok" and heartbeat["uptime_seconds"] == 3700
    assert event["event"] == "check_transition" and event["check"] == "temperature"
    assert (event["from"], event["to"]) == ("ok", "warning")
    assert second["cpu_temp"] == 78 and second["status"] == "warning"
    assert sender.sent == 4 and sender.unsent == 0


def test_a_heartbeat_every_heartbeat_minutes_on_the_injected_clock(receiver: ForwardReceiver) -> None:
    now = [1000.0]
    config = TelemetryConfig(fluent_port=receiver.port, tag_prefix="device.health", heartbeat_minutes=2)
    sender = Telemetry(config, clock=lambda: now[0])
    steady = summary(snapshot())  # the same buckets every time: no metrics record after the first
    sender.start()
    try:
        for seconds_later in (0, 30, 119.9, 120, 150, 239.9):
            now[0] = 1000.0 + seconds_later
            sender.on_sample(steady, "ok", {"disk": "ok"})
        assert receiver.wait_for_events(3, timeout=10), receiver.events
        now[0] = 1000.0 + 240  # two heartbeat periods after the first
        sender.on_sample(steady, "warning", {"disk": "warning"})
        assert receiver.wait_for_events(5, timeout=10), receiver.events
    finally:
        sender.stop()
    assert tags(receiver) == ["device.health.metrics", "device.health.heartbeat", "device.health.heartbeat",
                              "device.health.metrics", "device.health.heartbeat"]  # fmt: skip
    records = zip(receiver.events, receiver.records(), strict=True)
    heartbeats = [record for event, record in records if event.tag.endswith(".heartbeat")]
    assert [h["checks"] for h in heartbeats] == [{"disk": "ok"}, {"disk": "ok"}, {"disk": "warning"}]
    assert receiver.violations == []


def test_unreachable_agent_is_counted_and_sampling_goes_on() -> None:
    port = free_port()  # nobody listens yet
    source = ScriptedSource(cpu=0.1)
    sampler, sender = make_sampler(port, source)
    receiver = ForwardReceiver()
    try:
        for cpu in (0.1, 0.5, 0.9):
            source.values = {"cpu": cpu}
            sampler.run_once()
        wait_until(lambda: sender.failed_sends == 4, 10, "four failed sends")
        assert sampler.ready and sampler.status["cpu_usage"] == 90
        published = {s.name: s.value for s in sampler.run_once().samples}
        assert published["device_telemetry_failed_sends_total"] == 4
        assert published["device_telemetry_unsent_records"] == 4
        assert published["device_telemetry_sent_records_total"] == 0
        receiver.port = port
        receiver.start()  # the agent comes back: fluent-logger sends what it kept, then the new record
        source.values = {"cpu": 0.1}
        sampler.run_once()
        assert receiver.wait_for_events(5, timeout=10), receiver.events
        wait_until(lambda: sender.sent == 5, 5, "five records counted as sent")
        assert sender.unsent == 0 and sender.dropped == 0
        assert [r["cpu_usage"] for r in receiver.records()] == [10, 10, 50, 90, 10]  # [1] is the heartbeat
        assert receiver.violations == []
    finally:
        sampler.stop()
        receiver.stop()


def test_records_beyond_the_buffer_are_dropped_and_counted() -> None:
    source = ScriptedSource(cpu=0.0)
    sampler, sender = make_sampler(free_port(), source, buffer_bytes=400)
    try:
        for step in range(6):
            source.values = {"cpu": step * 0.2}  # every sample a new bucket
            sampler.run_once()
        wait_until(lambda: sender.failed_sends == 7, 10, "seven failed sends")
        assert sender.dropped > 0
        assert sender.dropped + sender.unsent == 7
    finally:
        sampler.stop()


def test_counters_stay_exact_when_several_threads_drop_records() -> None:
    """The sampler thread and autoheal both enqueue; a full queue counts drops under the lock."""
    sender = Telemetry(TelemetryConfig(fluent_port=free_port()))  # not started: the queue fills up
    threads, per_thread = 8, 3000
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke lost updates
    try:
        workers = [
            threading.Thread(target=lambda: [sender.event({"n": n}) for n in range(per_thread)])
            for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
    finally:
        sys.setswitchinterval(previous_interval)
        sender.stop()
    assert sender.unsent == QUEUE_LIMIT
    assert sender.dropped == threads * per_thread - QUEUE_LIMIT
    dropped = {s.name: s.value for s in sender.samples()}["device_telemetry_dropped_records_total"]
    assert dropped == sender.dropped
