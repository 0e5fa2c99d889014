"""The pipeline with a real spool, the real Forward input and output, and the test Forward receiver.

The scripted output below is a fake on purpose: it drives the retry/dead-letter policy through exact
sequences of outcomes, which no real server would produce on demand.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from fluent import sender
from log_agent.__main__ import build_parts
from log_agent.config import AgentConfig
from log_agent.deadletter import DeadLetterFile
from log_agent.delivery import Route
from log_agent.errors import ConfigError
from log_agent.inputs.base import EntrySink
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig
from log_agent.metrics import Metrics
from log_agent.models import Outcome, Record, SendResult
from log_agent.outputs.forward import ForwardOutput, ForwardOutputConfig
from log_agent.pipeline import Pipeline, PipelineParts
from log_agent.protocol import packed_forward
from log_agent.protocol.entries import chunks_from_records
from log_agent.redact import redact
from log_agent.retry import RetryConfig
from log_agent.spool import Spool, SpoolConfig

from tests.log_agent.agent_process import wait_for
from tests.log_agent.forward_receiver import ForwardReceiver
from tests.log_agent.inputs.forward_helpers import read_reply

MiB = 1024 * 1024
T0 = 1_700_000_000
FAST_RETRY = {"initial_backoff": "10ms", "max_backoff": "50ms", "flush_timeout": 5}


class ScriptedOutput:
    """Answers send() with the given outcomes in turn, then DELIVERED; remembers what it got."""

    def __init__(self, name: str, script: list[SendResult] | None = None) -> None:
        self.name = name
        self.script = list(script or [])
        self.batches: list[list[Record]] = []
        self.closed = False

    def send(self, records: list[Record]) -> SendResult:
        self.batches.append(records)
        return self.script.pop(0) if self.script else SendResult(Outcome.DELIVERED)

    def healthcheck(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def delivered_ids(self) -> list[int]:
        return [r.record["id"] for batch in self.batches for r in batch]


def store(sink: EntrySink, records: list[Record]) -> None:
    """Hand records to an input sink as an input does: chunks of entry bytes, durably."""
    for chunk in chunks_from_records(records):
        sink(chunk.tag, chunk.entries, chunk.count, durable=True)


def make_records(count: int, tag: str = "app.web", start: int = 0) -> list[Record]:
    return [Record(tag, time.time_ns(), {"id": i}) for i in range(start, start + count)]



@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    with Spool(SpoolConfig.from_dict({"dir": str(tmp_path / "spool"), "max_bytes": "8MiB"})) as opened:
        yield opened


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def pipeline(spool: Spool, metrics: Metrics, tmp_path: Path) -> Iterator[Pipeline]:
    dead_letter = DeadLetterFile(tmp_path / "dead-letter.jsonl", 1024 * 1024)
    running = Pipeline(spool, metrics, lambda records: records, dead_letter)
    yield running
    running.stop(flush_timeout=1)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def forward_parts(receiver: ForwardReceiver, *, name: str = "central", **retry: object) -> PipelineParts:
    output_config = ForwardOutputConfig.from_dict(
        {"host": "127.0.0.1", "port": receiver.port, "ack_timeout": 2, "name": name})
    forward_input = ForwardInput(ForwardInputConfig.from_dict({"listen": "127.0.0.1:0", "heartbeat": False}))
    return PipelineParts([forward_input], [Route(ForwardOutput(output_config))],
                         RetryConfig.from_dict({**FAST_RETRY, **retry}))


def test_fluent_logger_to_receiver_through_the_spool(pipeline: Pipeline, metrics: Metrics,
                                                     tmp_path: Path) -> None:
    with ForwardReceiver() as receiver:
        parts = forward_parts(receiver)
        pipeline.start(parts)
        host, port = parts.inputs[0].address
        client = sender.FluentSender("app", host=host, port=port)
        for i in range(50):
            assert client.emit("web", {"id": i})
        client.close()
        assert receiver.wait_for_events(50, timeout=10)
        assert sorted(r["id"] for r in receiver.records()) == list(range(50))
        assert receiver.violations == []
        assert {event.tag for event in receiver.events} == {"app.web"}
        assert wait_for(lambda: value(metrics, "log_agent_records_out_total", output="central") == 50)
        assert value(metrics, "log_agent_records_in_total", input="forward") == 50
        health = pipeline.housekeep_once()
        assert health["outputs"]["central"]["state"] == "ok"
        assert pipeline.last_health is not None and pipeline.last_health["status"] == "ok"


@pytest.mark.parametrize("compressed", [False, True], ids=["forward", "compressed-packed"])
def test_a_chunk_larger_than_a_small_spool_is_acked_and_delivered(metrics: Metrics, tmp_path: Path,
                                                                  compressed: bool) -> None:
    # forward.max_frame_bytes (8 MiB) allows a 2 MB chunk; a 1 MiB spool stores it in pieces, and
    # making room never drops the frame's own earlier pieces (a compressed one is inflated piece by
    # piece: several sink calls, one batch for the cap)
    config = SpoolConfig.from_dict({"dir": str(tmp_path / "spool"), "max_bytes": "1MiB"})
    entries = [[T0 + i, {"id": i, "msg": "x" * 1000}] for i in range(2000)]
    if compressed:
        frame = packed_forward("app.big", [(T0 * 10**9 + i, body) for i, (_, body) in enumerate(entries)],
                               chunk="big-chunk-1", compress=True)
    else:
        frame = msgpack.packb(["app.big", entries, {"chunk": "big-chunk-1"}], use_bin_type=True)
        assert len(frame) > 2_000_000
    with Spool(config) as small_spool, ForwardReceiver() as receiver:
        running = Pipeline(small_spool, metrics, lambda records: records,
                           DeadLetterFile(tmp_path / "dl.jsonl", MiB))
        parts = forward_parts(receiver)
        running.start(parts)
        try:
            with socket.create_connection(parts.inputs[0].address, timeout=10) as conn:
                conn.sendall(frame)
                assert read_reply(conn, timeout=15) == {"ack": "big-chunk-1"}
            assert receiver.wait_for_events(2000, timeout=20)
            assert sorted(r["id"] for r in receiver.records()) == list(range(2000))
            assert small_spool.stats().dropped.get("central", 0) == 0
        finally:
            running.stop(flush_timeout=1)


def test_receiver_outage_is_retried_and_nothing_is_lost(pipeline: Pipeline, spool: Spool,
                                                        metrics: Metrics) -> None:
    with ForwardReceiver() as receiver:
        parts = forward_parts(receiver)
        pipeline.start(parts)
        sink = pipeline.sink_for("test")
        store(sink, make_records(10))
        assert receiver.wait_for_events(10)
        assert wait_for(lambda: spool.stats().backlog_bytes["central"] == 0)  # acked and committed
        receiver.stop()
        store(sink, make_records(30, start=10))
        assert wait_for(lambda: value(metrics, "log_agent_output_errors_total", output="central") >= 2)
        health = pipeline.housekeep_once()
        assert health["outputs"]["central"]["state"] == "retrying"
        assert health["outputs"]["central"]["backlog_bytes"] > 0
        assert health["status"] == "degraded"
        receiver.start()
        assert receiver.wait_for_events(40, timeout=10)
        assert sorted(r["id"] for r in receiver.records()) == list(range(40))
        assert wait_for(lambda: spool.stats().backlog_bytes["central"] == 0)


def test_retry_then_delivered_commits_once(pipeline: Pipeline, spool: Spool, metrics: Metrics) -> None:
    output = ScriptedOutput("scripted", [SendResult(Outcome.RETRY, "503"), SendResult(Outcome.RETRY, "503")])
    pipeline.start(PipelineParts([], [Route(output)], RetryConfig.from_dict(FAST_RETRY)))
    store(pipeline.sink_for("test"), make_records(5))
    assert wait_for(lambda: len(output.batches) == 3)
    assert [len(batch) for batch in output.batches] == [5, 5, 5]
    assert wait_for(lambda: value(metrics, "log_agent_records_out_total", output="scripted") == 5)
    assert value(metrics, "log_agent_records_retried_total", output="scripted") == 10
    assert value(metrics, "log_agent_output_errors_total", output="scripted") == 2
    assert wait_for(lambda: spool.stats().backlog_bytes["scripted"] == 0)
    health = pipeline.housekeep_once()["outputs"]["scripted"]
    assert health["state"] == "ok" and health["last_error"] == ""  # recovered: no stale error
    assert health["last_error_time"] is not None  # but when the last one was stays visible


def test_rejections_go_to_the_dead_letter_file(pipeline: Pipeline, metrics: Metrics, tmp_path: Path) -> None:
    output = ScriptedOutput("es", [
        SendResult(Outcome.REJECTED, "400 bad request token=abc123"),
        SendResult(Outcome.DELIVERED, "mapping error", rejected=[1]),
    ])
    pipeline.start(PipelineParts([], [Route(output)], RetryConfig.from_dict(FAST_RETRY)))
    sink = pipeline.sink_for("test")
    store(sink, make_records(2))
    assert wait_for(lambda: len(output.batches) == 1)
    store(sink, make_records(3, start=10))
    assert wait_for(lambda: value(metrics, "log_agent_records_dead_lettered_total", output="es") == 3)
    lines = [json.loads(line) for line in (tmp_path / "dead-letter.jsonl").read_text().splitlines()]
    assert [line["record"]["id"] for line in lines] == [0, 1, 11]
    assert lines[0]["reason"] == "400 bad request token=***"
    assert {line["output"] for line in lines} == {"es"}
    assert value(metrics, "log_agent_records_out_total", output="es") == 2


def test_max_attempts_gives_up_into_the_dead_letter_file(pipeline: Pipeline, metrics: Metrics,
                                                         tmp_path: Path) -> None:
    output = ScriptedOutput("flaky", [SendResult(Outcome.RETRY, "timeout")] * 3)
    retry = RetryConfig.from_dict({**FAST_RETRY, "max_attempts": 3})
    pipeline.start(PipelineParts([], [Route(output)], retry))
    store(pipeline.sink_for("test"), make_records(4))
    assert wait_for(lambda: value(metrics, "log_agent_records_dead_lettered_total", output="flaky") == 4)
    assert "gave up after 3 attempts" in (tmp_path / "dead-letter.jsonl").read_text()
    assert len(output.batches) == 3


def test_output_exceptions_are_retried_not_fatal(pipeline: Pipeline, metrics: Metrics) -> None:
    class Exploding(ScriptedOutput):
        def send(self, records: list[Record]) -> SendResult:
            if not self.batches:
                self.batches.append([])
                raise RuntimeError("bug")
            return super().send(records)

    output = Exploding("buggy")
    pipeline.start(PipelineParts([], [Route(output)], RetryConfig.from_dict(FAST_RETRY)))
    store(pipeline.sink_for("test"), make_records(3))
    assert wait_for(lambda: value(metrics, "log_agent_records_out_total", output="buggy") == 3)


def test_routes_send_only_matching_tags_and_skip_the_rest(pipeline: Pipeline, spool: Spool) -> None:
    web = ScriptedOutput("web")
    db = ScriptedOutput("db")
    routes = [Route(web, lambda tag: tag.startswith("app.web")), Route(db, lambda tag: tag == "app.db")]
    pipeline.start(PipelineParts([], routes, RetryConfig.from_dict(FAST_RETRY)))
    sink = pipeline.sink_for("test")
    store(sink, make_records(3, "app.web") + make_records(2, "app.db", start=100) + make_records(1, "other"))
    assert wait_for(lambda: spool.stats().backlog_bytes == {"web": 0, "db": 0})
    assert web.delivered_ids() == [0, 1, 2]
    assert db.delivered_ids() == [100, 101]


def test_reload_mid_stream_loses_and_duplicates_nothing(pipeline: Pipeline, spool: Spool) -> None:
    first = ScriptedOutput("main")
    pipeline.start(PipelineParts([], [Route(first)], RetryConfig.from_dict(FAST_RETRY)))
    sink = pipeline.sink_for("test")
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            store(sink, make_records(20, start=i))
            i += 20
        produced.append(i)

    produced: list[int] = []
    producer = threading.Thread(target=produce)
    producer.start()
    replacements = []
    for _ in range(3):
        time.sleep(0.15)
        replacement = ScriptedOutput("main")
        replacements.append(replacement)
        pipeline.reload(PipelineParts([], [Route(replacement)], RetryConfig.from_dict(FAST_RETRY)))
    time.sleep(0.15)  # the last output gets records too
    stop.set()
    producer.join(timeout=10)
    assert wait_for(lambda: spool.stats().backlog_bytes["main"] == 0)
    delivered = first.delivered_ids() + [i for r in replacements for i in r.delivered_ids()]
    assert delivered == list(range(produced[0]))
    assert first.closed
    assert replacements[-1].delivered_ids()  # the last one got data after the swap


def test_stop_flushes_the_backlog_then_returns(pipeline: Pipeline, spool: Spool) -> None:
    slow = ScriptedOutput("slow", [SendResult(Outcome.RETRY, "busy")] * 3)
    pipeline.start(PipelineParts([], [Route(slow)], RetryConfig.from_dict(FAST_RETRY)))
    store(pipeline.sink_for("test"), make_records(7))
    pipeline.stop(flush_timeout=5)
    assert slow.delivered_ids()[-7:] == list(range(7))
    assert spool.stats().backlog_bytes["slow"] == 0


def test_stop_gives_up_at_the_deadline_and_keeps_the_batch(pipeline: Pipeline, spool: Spool) -> None:
    down = ScriptedOutput("down", [SendResult(Outcome.RETRY, "down")] * 1000)
    pipeline.start(PipelineParts([], [Route(down)], RetryConfig.from_dict(FAST_RETRY)))
    store(pipeline.sink_for("test"), make_records(3))
    started = time.monotonic()
    during: list[str] = []
    threading.Timer(0.2, lambda: during.append(pipeline.housekeep_once()["status"])).start()
    pipeline.stop(flush_timeout=0.5)
    assert time.monotonic() - started < 3
    assert spool.stats().backlog_bytes["down"] > 0
    assert during == ["stopping"]  # /health while the SIGTERM flush runs


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    config = RetryConfig.from_dict({"initial_backoff": 1, "max_backoff": 8})
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (10, 8)]:
        delays = [config.backoff(attempt, None, rng) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # spread over the whole range
    assert config.backoff(1, 5.0, rng) == 5.0
    assert config.backoff(1, 100.0, rng) == 8.0


@pytest.mark.parametrize(("data", "key"), [
    ({"retries": 3}, "retry.retries"),
    ({"initial_backoff": "soon"}, "retry.initial_backoff"),
    ({"initial_backoff": 2, "max_backoff": 1}, "retry.max_backoff"),
    ({"max_attempts": -1}, "retry.max_attempts"),
])
def test_bad_retry_config_names_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        RetryConfig.from_dict(data)
    assert error.value.key == key


def test_redact_hides_credentials() -> None:
    assert redact("POST https://user:s3cret@logs.example/x") == "POST https://***@logs.example/x"
    assert redact('{"password": "hunter2"}') == '{"password": ***'
    assert redact("Authorization: Bearer xyz") == "Authorization: ***"


def test_configured_secret_values_never_reach_health_or_dead_letters(pipeline: Pipeline,
                                                                      tmp_path: Path) -> None:
    config = AgentConfig.from_sources({"forward": {"shared_key": "in-k3y"}, "outputs": [
        {"name": "es", "url": "es+https://u:p%40ss@es:9200/logs", "headers": {"X-Api-Key": "hdr-v4lue"}},
        {"name": "loki", "url": "loki+https://loki", "bearer_token": "t0ken-xyz"},
        {"name": "fw", "url": "forward://h?shared_key=fw-k3y"},
    ]}, {})
    secrets = config.secrets()
    assert set(secrets) == {"in-k3y", "p@ss", "t0ken-xyz", "hdr-v4lue", "fw-k3y"}
    # servers and libraries echo what they were sent, in words no key=value pattern catches
    echoed = "rejected hdr-v4lue for t0ken-xyz from https://es/?p=p%40ss (fw-k3y in-k3y)"
    output = ScriptedOutput("es", [SendResult(Outcome.RETRY, echoed), SendResult(Outcome.REJECTED, echoed)])
    pipeline.start(PipelineParts([], [Route(output)], RetryConfig.from_dict(FAST_RETRY), secrets))
    store(pipeline.sink_for("test"), make_records(1))
    dead_letter = tmp_path / "dead-letter.jsonl"
    assert wait_for(lambda: dead_letter.exists() and dead_letter.read_text())
    health = json.dumps(pipeline.housekeep_once())
    assert "rejected *** for *** from https://es/?p=*** (*** ***)" in health
    for secret in secrets:
        assert secret not in dead_letter.read_text() and secret not in health
    assert "p%40ss" not in dead_letter.read_text() + health


def test_build_parts_hands_the_secrets_to_the_pipeline() -> None:
    config = AgentConfig.from_sources({}, {"LOG_AGENT_OUTPUT": "http://u:pw-1@h/x"})
    assert build_parts(config).secrets == ("pw-1",)


def test_a_failing_dead_letter_file_is_counted_and_never_stops_the_output(spool: Spool, metrics: Metrics,
                                                                           tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    dead_letter = DeadLetterFile(blocker / "dead-letter.jsonl", 1024 * 1024)  # every write fails
    running = Pipeline(spool, metrics, lambda records: records, dead_letter)
    output = ScriptedOutput("strict", [SendResult(Outcome.REJECTED, "400")])
    retry = RetryConfig.from_dict({**FAST_RETRY, "max_attempts": 2})
    running.start(PipelineParts([], [Route(output)], retry))
    try:
        store(running.sink_for("test"), make_records(2))
        assert wait_for(lambda: spool.stats().backlog_bytes["strict"] == 0)  # counted, not retried forever
        health = running.housekeep_once()["outputs"]["strict"]
        assert health["dead_letter_failures"] == 2 and "not-a-directory" in health["last_error"]
        lost = metrics.registry.get_sample_value("log_agent_records_dead_letter_failed_total",
                                                 {"output": "strict"})
        assert lost == 2
        store(running.sink_for("test"), make_records(3, start=10))  # the output goes on
        assert wait_for(lambda: len(output.batches) == 2 and len(output.batches[1]) == 3, timeout=10)
        assert wait_for(lambda: spool.stats().backlog_bytes["strict"] == 0)
    finally:
        running.stop(flush_timeout=1)


def test_reload_that_removes_an_output_releases_what_it_held(pipeline: Pipeline, spool: Spool,
                                                            metrics: Metrics) -> None:
    kept = ScriptedOutput("kept")
    removed = ScriptedOutput("removed", [SendResult(Outcome.RETRY, "down")] * 999)
    pipeline.start(PipelineParts([], [Route(kept), Route(removed)], RetryConfig.from_dict(FAST_RETRY)))
    store(pipeline.sink_for("test"), make_records(50))
    assert wait_for(lambda: spool.stats().backlog_bytes["kept"] == 0)
    assert spool.stats().backlog_bytes["removed"] > 0
    up_labels = {"output": "removed"}
    assert wait_for(lambda: metrics.registry.get_sample_value("log_agent_output_up", up_labels) == 0)
    pipeline.reload(PipelineParts([], [Route(ScriptedOutput("kept"))], RetryConfig.from_dict(FAST_RETRY)))
    assert set(spool.stats().backlog_bytes) == {"kept"}
    assert removed.closed
    # its series are gone, not frozen at their last values (output_up 0 forever)
    exported = {sample.labels.get("output")
                for metric in metrics.registry.collect() for sample in metric.samples}
    assert "removed" not in exported and "kept" in exported


class SaturatedInput:
    """Stands for a connection-oriented input (the health policy only reads its stats)."""

    name = "forward"

    def __init__(self) -> None:
        self.connections_active = 64
        self.errors: dict[str, int] = {}
        self.stats = self

    def start(self, sink: object) -> None:
        """Nothing to bind."""

    def stop(self) -> None:
        """Nothing to close."""


def test_refused_clients_make_health_degraded_and_are_exported(pipeline: Pipeline, metrics: Metrics) -> None:
    saturated = SaturatedInput()
    pipeline.start(PipelineParts([saturated], [], RetryConfig.from_dict(FAST_RETRY)))
    assert pipeline.housekeep_once()["status"] == "ok"
    saturated.errors = {"too_many_connections": 3, "evicted_idle": 5}
    health = pipeline.housekeep_once()
    assert health["status"] == "degraded"
    assert health["inputs"]["forward"]["refusing_clients"] is True
    assert value(metrics, "log_agent_input_connections", input="forward") == 64
    assert value(metrics, "log_agent_input_connection_errors_total",
                 input="forward", reason="too_many_connections") == 3
    assert value(metrics, "log_agent_input_connection_errors_total",
                 input="forward", reason="evicted_idle") == 5
    assert pipeline.housekeep_once()["status"] == "ok"  # no refusal since the last round: recovered


def test_a_burst_from_many_connections_at_the_cap_still_lets_the_output_deliver(metrics: Metrics,
                                                                                tmp_path: Path) -> None:
    """fluent-logger clients flooding a 1 MiB spool: threads stay bounded, the output keeps a fair share,
    and every record is accounted for (in == out + dropped + backlog)."""
    config = SpoolConfig.from_dict({"dir": str(tmp_path / "spool"), "max_bytes": "1MiB"})
    with Spool(config) as small_spool:
        running = Pipeline(small_spool, metrics, lambda records: records,
                           DeadLetterFile(tmp_path / "dead-letter.jsonl", MiB))
        forward = ForwardInput(ForwardInputConfig.from_dict(
            {"listen": "127.0.0.1:0", "heartbeat": False, "max_connections": 8}))
        output = ScriptedOutput("fast")
        running.start(PipelineParts([forward], [Route(output)], RetryConfig.from_dict(FAST_RETRY)))
        host, port = forward.address
        threads_before = threading.active_count()
        peak_threads = 0
        until = time.monotonic() + 2.0

        def flood(n: int) -> None:
            client = sender.FluentSender("app", host=host, port=port, timeout=2)
            while time.monotonic() < until:
                client.emit("burst", {"client": n, "msg": "x" * 400})
            client.close()

        clients = [threading.Thread(target=flood, args=(n,)) for n in range(24)]
        for thread in clients:
            thread.start()
        while any(thread.is_alive() for thread in clients):
            peak_threads = max(peak_threads, threading.active_count() - threads_before - len(clients))
            time.sleep(0.05)
        running.stop(flush_timeout=5)
        records_in = value(metrics, "log_agent_records_in_total", input="forward")
        delivered = sum(len(batch) for batch in output.batches)
        stats = small_spool.stats()
    assert peak_threads <= 2 * 8 + 2  # connection threads are bounded by max_connections (evicting)
    assert records_in > 0 and delivered >= 0.1 * records_in, (delivered, records_in)
    assert records_in == delivered + stats.dropped.get("fast", 0) + stats.backlog_records["fast"]
