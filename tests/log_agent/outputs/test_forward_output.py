"""ForwardOutput against the strict test receiver: acks, gzip, handshake, TLS, and every failure -> RETRY."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from log_agent.errors import ConfigError
from log_agent.models import Outcome, Record
from log_agent.outputs.forward import ForwardOutput, ForwardOutputConfig

from tests.log_agent.forward_receiver import ForwardReceiver, make_self_signed_cert

NS = 1_000_000_000
T_NS = 1_700_000_000 * NS + 123_456_789


def batch(count: int, tag: str = "app", start: int = 0) -> list[Record]:
    return [Record(tag, T_NS + n, {"n": start + n, "msg": f"line {start + n}"}) for n in range(count)]


@pytest.fixture
def receiver() -> Iterator[ForwardReceiver]:
    with ForwardReceiver() as running:
        yield running


def output_for(receiver: ForwardReceiver, **settings: object) -> ForwardOutput:
    host, port = receiver.address
    return ForwardOutput(ForwardOutputConfig.from_dict({"host": host, "port": port, **settings}))


@pytest.fixture
def output(receiver: ForwardReceiver) -> Iterator[ForwardOutput]:
    out = output_for(receiver, ack_timeout=5)
    yield out
    out.close()


def test_batches_are_delivered_as_strict_packed_forward_with_acks(
    receiver: ForwardReceiver, output: ForwardOutput
) -> None:
    records = batch(50) + batch(5, tag="other", start=50)
    assert output.send(records).outcome is Outcome.DELIVERED
    assert output.send(batch(3, start=55)).outcome is Outcome.DELIVERED
    assert receiver.connections == 1  # one persistent connection
    assert receiver.violations == []
    assert [(e.tag, e.time_ns, e.record["n"]) for e in receiver.events[:55]] == [
        (r.tag, r.time_ns, r.record["n"]) for r in records
    ]  # nanoseconds survive (EventTime), order within a tag is kept
    assert [option["size"] for option in receiver.options] == [50, 5, 3]
    assert len({option["chunk"] for option in receiver.options}) == 3
    assert output.last_ack_seconds is not None


def test_gzip_compressed_packed_forward(receiver: ForwardReceiver) -> None:
    output = output_for(receiver, gzip=True)
    try:
        assert output.send(batch(200)).outcome is Outcome.DELIVERED
    finally:
        output.close()
    assert receiver.violations == []
    assert receiver.options[0]["compressed"] == "gzip"
    assert [e.record["n"] for e in receiver.events] == list(range(200))


def test_without_require_ack_no_chunk_is_sent_and_the_connection_stays(receiver: ForwardReceiver) -> None:
    output = output_for(receiver, require_ack=False)
    try:
        for start in range(0, 30, 10):
            assert output.send(batch(10, start=start)).outcome is Outcome.DELIVERED
        assert receiver.wait_for_events(30)
    finally:
        output.close()
    assert all("chunk" not in option for option in receiver.options)
    assert receiver.connections == 1
    assert [e.record["n"] for e in receiver.events] == list(range(30))


def test_missing_ack_is_retry_and_the_resend_is_acked(receiver: ForwardReceiver) -> None:
    output = output_for(receiver, ack_timeout=0.5)
    receiver.drop_acks = True
    result = output.send(batch(2))
    assert result.outcome is Outcome.RETRY
    assert "ack timeout" in result.reason or "TimeoutError" in result.reason
    receiver.drop_acks = False
    assert output.send(batch(2)).outcome is Outcome.DELIVERED  # at-least-once: a duplicate, no loss
    assert [e.record["n"] for e in receiver.events] == [0, 1, 0, 1]
    output.close()


def test_slow_receiver_within_and_beyond_the_ack_timeout(receiver: ForwardReceiver) -> None:
    output = output_for(receiver, ack_timeout=0.6)
    receiver.ack_delay = 0.1
    assert output.send(batch(1)).outcome is Outcome.DELIVERED
    receiver.ack_delay = 0.8
    assert output.send(batch(1)).outcome is Outcome.RETRY
    output.close()


def test_stopped_receiver_is_retry_and_restart_recovers(
    receiver: ForwardReceiver, output: ForwardOutput
) -> None:
    assert output.send(batch(1)).outcome is Outcome.DELIVERED
    receiver.stop()
    stopped = output.send(batch(1, start=1))
    assert stopped.outcome is Outcome.RETRY
    assert not output.healthcheck()
    receiver.start()  # same port
    assert output.healthcheck()
    assert output.send(batch(1, start=1)).outcome is Outcome.DELIVERED
    assert [e.record["n"] for e in receiver.events] == [0, 1]


def test_receiver_restart_between_batches_does_not_cost_a_retry(
    receiver: ForwardReceiver, output: ForwardOutput
) -> None:
    """A connection the server closed while idle is noticed before sending, not after."""
    assert output.send(batch(1)).outcome is Outcome.DELIVERED
    receiver.stop()
    receiver.start()
    time.sleep(0.05)
    assert output.send(batch(1, start=1)).outcome is Outcome.DELIVERED


def test_a_batch_msgpack_cannot_carry_is_rejected_not_retried(output: ForwardOutput) -> None:
    result = output.send([Record("app", -1, {"n": 1})])  # before 1970: no EventTime for it
    assert result.outcome is Outcome.REJECTED and "encode" in result.reason
    assert output.send([Record("app", T_NS, {"big": 2**70})]).outcome is Outcome.REJECTED


def test_nothing_listening_is_retry_not_an_exception() -> None:
    with ForwardReceiver() as gone:
        port = gone.port
    output = ForwardOutput(ForwardOutputConfig(host="127.0.0.1", port=port, connect_timeout=1))
    result = output.send(batch(1))
    assert result.outcome is Outcome.RETRY and "Connection" in result.reason


def test_shared_key_handshake_with_mutual_check() -> None:
    with ForwardReceiver(shared_key="k3y") as receiver:
        good = output_for(receiver, shared_key="k3y")
        bad = output_for(receiver, shared_key="wrong")
        none = output_for(receiver, ack_timeout=1)
        try:
            assert good.send(batch(2)).outcome is Outcome.DELIVERED
            refused = bad.send(batch(1))
            unauthenticated = none.send(batch(1))
        finally:
            for out in (good, bad, none):
                out.close()
        assert refused.outcome is Outcome.RETRY and "shared_key mismatch" in refused.reason
        assert unauthenticated.outcome is Outcome.RETRY and "shared_key" in unauthenticated.reason
        assert "wrong" not in refused.reason
        assert [e.record["n"] for e in receiver.events] == [0, 1]
        assert receiver.wait_until(lambda: receiver.violations)
        (violation,) = receiver.violations  # the client without a key sent events instead of PING
        assert violation.startswith("expected PING")


def test_server_that_does_not_know_the_key_is_refused() -> None:
    """The PONG digest proves the server knows the key too; an impostor's PONG is rejected."""
    with ForwardReceiver(shared_key="k3y") as receiver:
        receiver.pong_key = "not-the-key"  # accepts our PING, then answers with a forged digest
        output = output_for(receiver, shared_key="k3y")
        try:
            result = output.send(batch(1))
        finally:
            output.close()
        assert receiver.events == []
    assert result.outcome is Outcome.RETRY and "PONG digest mismatch" in result.reason


def test_tls_with_ca_file_and_insecure(tmp_path: Path) -> None:
    cert, key = make_self_signed_cert(tmp_path)
    with ForwardReceiver(tls_cert=cert, tls_key=key) as receiver:
        port = receiver.port
        verified = ForwardOutput(
            ForwardOutputConfig.from_url(f"forwards://localhost:{port}?tls_ca_file={cert}")
        )
        insecure = ForwardOutput(
            ForwardOutputConfig.from_url(f"forwards://127.0.0.1:{port}?tls_insecure=true")
        )
        untrusted = ForwardOutput(
            ForwardOutputConfig.from_url(f"forwards://localhost:{port}?connect_timeout=2")
        )
        try:
            assert verified.send(batch(1)).outcome is Outcome.DELIVERED
            assert verified.send(batch(1, start=1)).outcome is Outcome.DELIVERED
            assert receiver.connections == 1  # reused: TLS 1.3 session tickets are not mistaken for EOF
            assert insecure.send(batch(1, start=2)).outcome is Outcome.DELIVERED
            refused = untrusted.send(batch(1, start=3))
        finally:
            for out in (verified, insecure, untrusted):
                out.close()
        assert refused.outcome is Outcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in refused.reason
        assert [e.record["n"] for e in receiver.events] == [0, 1, 2]
        assert receiver.violations == []


def test_from_url_parses_options_and_keeps_secrets_out_of_repr() -> None:
    config = ForwardOutputConfig.from_url(
        "forwards://alice:p%40ss@logs.example:24225?shared_key=s3cr3t&gzip=true&ack_timeout=5s"
    )
    assert (config.host, config.port, config.tls, config.gzip) == ("logs.example", 24225, True, True)
    assert (config.username, config.password, config.shared_key) == ("alice", "p@ss", "s3cr3t")
    assert config.ack_timeout == 5.0
    text = repr(config) + repr(ForwardOutput(config))
    assert "s3cr3t" not in text and "p@ss" not in text
    assert ForwardOutputConfig.from_url("forward://host").port == 24224


@pytest.mark.parametrize(
    "url, key",
    [
        ("http://host:1", "forward.url"),
        ("forward://:24224", "forward.host"),
        ("forward://host:99999", "forward.port"),
        ("forward://host?gzip=maybe", "forward.gzip"),
        ("forward://host?shared_kee=x", "forward.shared_kee"),
        ("forward://host?gzip=true&gzip=false", "forward.gzip"),
        ("forwards://host?tls_ca_file=/nonexistent/ca.pem", "forward.tls_ca_file"),
        ("forward://host?shared_key=", "forward.shared_key"),
        ("forward://:secret@host", "forward.password"),
    ],
)
def test_from_url_errors_name_the_key_without_echoing_secrets(url: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        ForwardOutputConfig.from_url(url)
    assert err.value.key == key


def test_healthcheck_during_a_send_does_not_block_or_break_it(receiver: ForwardReceiver) -> None:
    """/health calls healthcheck() from another thread while the pipeline is waiting for an ack."""
    output = output_for(receiver)
    receiver.ack_delay = 0.5
    try:
        results = []
        sender = threading.Thread(target=lambda: results.append(output.send(batch(1)).outcome))
        sender.start()
        assert receiver.wait_for_events(1)
        started = time.monotonic()
        assert output.healthcheck()
        assert time.monotonic() - started < 0.2
        sender.join(5)
        assert results == [Outcome.DELIVERED]
    finally:
        output.close()
