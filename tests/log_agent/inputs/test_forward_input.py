"""The Forward input server over real sockets (TCP, TLS, Unix, UDP heartbeat).

The sink here is a recorder the test can block or make fail: it stands for the spool's contract
(return only once durable), which is exactly what the ack rule depends on.
"""

from __future__ import annotations

import gzip
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from log_agent.errors import ConfigError
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig, ThrottledLog
from log_agent.models import Outcome, Record
from log_agent.outputs.forward import ForwardOutput, ForwardOutputConfig
from log_agent.protocol.handshake import digest

from tests.log_agent.forward_receiver import make_self_signed_cert
from tests.log_agent.inputs.forward_helpers import RecordingSink, forward_input, read_reply

T = 1_700_000_000
NS = 1_000_000_000
CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ=="


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def server(sink: RecordingSink) -> Iterator[ForwardInput]:
    with forward_input(sink) as running:
        yield running


def connect(server: ForwardInput) -> socket.socket:
    assert server.address is not None
    return socket.create_connection(server.address, timeout=5)


def packb(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def event_time(seconds: int, nanos: int) -> msgpack.ExtType:
    return msgpack.ExtType(0, seconds.to_bytes(4, "big") + nanos.to_bytes(4, "big"))


def test_every_mode_is_decoded_and_acked_when_chunk_is_sent(
    server: ForwardInput, sink: RecordingSink
) -> None:
    entry = packb([event_time(T, 5), {"m": "packed"}])
    frames = [
        ["t.message", T, {"m": "int"}],
        ["t.message", event_time(T, 7), {"m": "eventtime"}],
        ["t.forward", [[T, {"m": "f1"}], [event_time(T, 9), {"m": "f2"}]]],
        ["t.packed", entry * 2, {"size": 2}],  # bin
        ["t.compressed", gzip.compress(entry) + gzip.compress(entry), {"compressed": "gzip", "chunk": CHUNK}],
    ]
    with connect(server) as conn:
        conn.sendall(b"\xc0" + b"".join(packb(frame) for frame in frames))  # nil keep-alive first
        assert read_reply(conn) == {"ack": CHUNK}
        # PackedForward as str with require_ack_response, as Fluentd's out_forward sends it
        fluentd_option = packb({"size": 1, "chunk": "fluentd-chunk-id", "compressed": "text"})
        conn.sendall(b"\x93\xa5t.str" + b"\xd9" + bytes([len(entry)]) + entry + fluentd_option)
        assert read_reply(conn) == {"ack": "fluentd-chunk-id"}
        records = sink.wait_for(9)
    assert [(r.tag, r.time_ns, r.record["m"]) for r in records] == [
        ("t.message", T * NS, "int"),
        ("t.message", T * NS + 7, "eventtime"),
        ("t.forward", T * NS, "f1"),
        ("t.forward", T * NS + 9, "f2"),
        *[("t.packed", T * NS + 5, "packed")] * 2,
        *[("t.compressed", T * NS + 5, "packed")] * 2,
        ("t.str", T * NS + 5, "packed"),
    ]
    assert sink.durable.count(True) == 2  # durable only for the writes that end with a chunk
    assert server.stats.acks_total == 2
    assert server.stats.records_total == 9


def test_ack_is_sent_only_after_the_sink_returned(server: ForwardInput, sink: RecordingSink) -> None:
    sink.gate.clear()  # the spool is "fsyncing"
    with connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}, {"chunk": CHUNK}]))
        assert sink.entered.wait(5)
        with pytest.raises(TimeoutError):
            read_reply(conn, timeout=0.3)  # no ack while the records are not durable
        assert sink.records == []
        sink.gate.set()
        assert read_reply(conn) == {"ack": CHUNK}
    assert sink.durable == [True]


def test_small_requests_are_stored_in_few_sink_calls_and_the_ack_covers_them(
    server: ForwardInput, sink: RecordingSink
) -> None:
    """fluent-logger sends one tiny request per event: one sink call (one fsync) per read, not per event."""
    burst = b"".join(packb(["app", T, {"n": n}]) for n in range(200))
    with connect(server) as conn:
        conn.sendall(burst + packb(["app", T, {"n": 200}, {"chunk": CHUNK}]))
        assert read_reply(conn) == {"ack": CHUNK}
        assert [r.record["n"] for r in sink.records] == list(range(201))  # all stored before the ack
    assert len(sink.durable) < 20
    assert server.stats.requests_total == 201


def test_spool_failure_sends_no_ack_and_closes_the_connection(
    server: ForwardInput, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.fail = True
    with connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}, {"chunk": CHUNK}]))
        assert read_reply(conn) is None  # closed, no ack
    assert server.stats.errors == {"spool": 1}
    assert server.stats.acks_total == 0
    assert "no ack sent" in caplog.text


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"\xc1" * 8, "protocol"),  # 0xc1 is never used in msgpack
        (packb(["app", "not a time", {}]), "protocol"),
        (packb(["app", T, {"x": "y" * 5000}]), "frame_too_large"),
        (
            packb(["app", gzip.compress(b"\x00" * 2_000_000), {"compressed": "gzip"}]),
            "decompressed_too_large",
        ),
    ],
    ids=["garbage", "wrong-type", "oversized", "gzip-bomb"],
)
def test_bad_frame_closes_only_that_connection_with_one_logged_reason(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture, payload: bytes, reason: str
) -> None:
    caplog.set_level(logging.WARNING, logger="log_agent.inputs.forward")
    limits = {"max_frame_bytes": 4096, "max_decompressed_bytes": 65536}
    with forward_input(sink, **limits) as server, connect(server) as good, connect(server) as bad:
        bad.sendall(payload)
        assert read_reply(bad) is None
        good.sendall(packb(["app", T, {"still": "fine"}, {"chunk": CHUNK}]))
        assert read_reply(good) == {"ack": CHUNK}
        assert server.stats.errors == {reason: 1}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "closing connection" in warnings[0].getMessage()


def test_events_before_a_bad_frame_are_kept(server: ForwardInput, sink: RecordingSink) -> None:
    with connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}]) + packb(["app", T, {"n": 2}]) + b"\xc1")
        assert read_reply(conn) is None
    assert [r.record["n"] for r in sink.wait_for(2)] == [1, 2]
    assert server.stats.errors == {"protocol": 1}


def test_deeply_nested_record_is_a_protocol_error_and_earlier_events_are_kept(
    server: ForwardInput, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    # deeper than msgpack's own limit (1024 levels); records are not decoded on the way in, and
    # shallower nesting is cut at the JSON edge (outputs/encoding.py), never a RecursionError
    deep = b"\x93\xa3app\x01" + b"\x81\xa1k" * 1100 + b"\xc0"
    with connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}]) + packb(["app", T, {"n": 2}]) + deep)
        assert read_reply(conn) is None
    assert [r.record["n"] for r in sink.wait_for(2)] == [1, 2]
    assert server.stats.errors == {"protocol": 1}
    assert "invalid msgpack" in caplog.text


def test_many_concurrent_clients(server: ForwardInput, sink: RecordingSink) -> None:
    clients, per_client = 40, 25

    def client(index: int) -> None:
        with connect(server) as conn:
            for n in range(per_client):
                conn.sendall(packb([f"c{index}", T, {"n": n}]))
            conn.sendall(packb([f"c{index}", T, {"n": "last"}, {"chunk": CHUNK}]))
            assert read_reply(conn) == {"ack": CHUNK}

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(sink.wait_for(clients * (per_client + 1))) == clients * (per_client + 1)
    assert server.stats.connections_total == clients


def test_shared_key_handshake_accepts_the_right_key(sink: RecordingSink) -> None:
    with forward_input(sink, shared_key="s3cret", self_hostname="agent") as server:
        assert server.address is not None
        host, port = server.address
        output = ForwardOutput(ForwardOutputConfig(host=host, port=port, shared_key="s3cret"))
        try:
            result = output.send([Record("app", T * NS, {"n": 1})])
        finally:
            output.close()
    assert result.outcome is Outcome.DELIVERED
    assert [r.record for r in sink.records] == [{"n": 1}]


def test_shared_key_handshake_refuses_a_wrong_key(sink: RecordingSink) -> None:
    with forward_input(sink, shared_key="s3cret") as server, connect(server) as conn:
        helo = read_reply(conn)
        assert helo[0] == "HELO" and helo[1]["auth"] == ""
        nonce = helo[1]["nonce"]
        conn.sendall(packb(["PING", "client", "salt", digest("salt", "client", nonce, "wrong"), "", ""]))
        pong = read_reply(conn)
        assert pong[:3] == ["PONG", False, "shared_key mismatch"]
        assert pong[4] == ""  # the server does not prove the key to a client that failed
        assert read_reply(conn) is None
        assert server.stats.errors == {"auth": 1}
    assert sink.records == []


def test_events_before_the_handshake_are_refused(sink: RecordingSink) -> None:
    with forward_input(sink, shared_key="s3cret") as server, connect(server) as conn:
        conn.sendall(packb(["app", T, {"sneaky": 1}]))
        assert read_reply(conn)[0] == "HELO"
        assert read_reply(conn) is None
    assert sink.records == []


def test_user_auth_on_top_of_shared_key(sink: RecordingSink) -> None:
    settings = {"shared_key": "k", "users": {"alice": "pw"}}
    with forward_input(sink, **settings) as server:
        assert server.address is not None
        host, port = server.address
        outcomes = []
        for password in ("pw", "wrong"):
            config = ForwardOutputConfig(
                host=host, port=port, shared_key="k", username="alice", password=password
            )
            output = ForwardOutput(config)
            outcomes.append(output.send([Record("app", T * NS, {"pw": password})]))
            output.close()
    assert [o.outcome for o in outcomes] == [Outcome.DELIVERED, Outcome.RETRY]
    assert "username/password mismatch" in outcomes[1].reason
    assert "wrong" not in outcomes[1].reason


def test_tls(sink: RecordingSink, tmp_path: Path) -> None:
    cert, key = make_self_signed_cert(tmp_path)
    with forward_input(sink, tls_cert_file=cert, tls_key_file=key) as server:
        assert server.address is not None
        context = ssl.create_default_context(cafile=cert)
        with context.wrap_socket(connect(server), server_hostname="localhost") as conn:
            conn.sendall(packb(["app", T, {"over": "tls"}, {"chunk": CHUNK}]))
            assert read_reply(conn) == {"ack": CHUNK}
        with connect(server) as plain:  # a plaintext client fails the TLS handshake: closed, counted
            plain.sendall(packb(["app", T, {"over": "plain"}]))
            assert read_reply(plain) is None
        deadline = time.monotonic() + 5
        while "tls" not in server.stats.errors and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.stats.errors == {"tls": 1}
    assert [r.record for r in sink.records] == [{"over": "tls"}]


def test_mutual_tls_requires_a_client_certificate(sink: RecordingSink, tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "client").mkdir()
    cert, key = make_self_signed_cert(tmp_path / "server")
    client_cert, client_key = make_self_signed_cert(tmp_path / "client", host="device-1")
    tls = {"tls_cert_file": cert, "tls_key_file": key, "tls_client_ca_file": client_cert}
    with forward_input(sink, **tls) as server:
        assert server.address is not None
        port = server.address[1]
        common = {"host": "localhost", "port": port, "tls": True, "tls_ca_file": cert, "connect_timeout": 2}
        with_cert = ForwardOutput(
            ForwardOutputConfig.from_dict(
                {**common, "tls_cert_file": client_cert, "tls_key_file": client_key}
            )
        )
        without_cert = ForwardOutput(ForwardOutputConfig.from_dict({**common, "ack_timeout": 2}))
        try:
            assert with_cert.send([Record("app", T * NS, {"mtls": True})]).outcome is Outcome.DELIVERED
            assert without_cert.send([Record("app", T * NS, {"mtls": False})]).outcome is Outcome.RETRY
        finally:
            with_cert.close()
            without_cert.close()
    assert [r.record for r in sink.records] == [{"mtls": True}]
    assert server.stats.errors.get("tls") == 1


def test_udp_heartbeat_on_the_same_port(server: ForwardInput) -> None:
    assert server.address is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\x00", server.address)
        reply, source = udp.recvfrom(16)
    assert reply == b"\x00"
    assert source[1] == server.address[1]
    assert server.stats.heartbeats_total == 1


def test_unix_socket(sink: RecordingSink, tmp_path: Path) -> None:
    path = str(tmp_path / "forward.sock")
    with forward_input(sink, unix_path=path, unix_mode="0600"), socket.socket(socket.AF_UNIX) as conn:
        assert oct(Path(path).stat().st_mode & 0o777) == "0o600"
        conn.settimeout(5)
        conn.connect(path)
        conn.sendall(packb(["unix", T, {"via": "socket"}, {"chunk": CHUNK}]))
        assert read_reply(conn) == {"ack": CHUNK}
    assert not Path(path).exists()
    assert [r.tag for r in sink.records] == ["unix"]


def test_unix_path_that_is_a_regular_file_is_not_deleted(sink: RecordingSink, tmp_path: Path) -> None:
    precious = tmp_path / "data.txt"
    precious.write_text("keep me")
    server = ForwardInput(ForwardInputConfig.from_dict({"listen": "127.0.0.1:0", "unix_path": str(precious)}))
    with pytest.raises(ConfigError) as err:
        server.start(sink)
    assert err.value.key == "forward.unix_path"
    assert precious.read_text() == "keep me"


def test_connection_limit_refuses_the_newest_and_keeps_every_open_connection(sink: RecordingSink) -> None:
    with forward_input(sink, max_connections=2) as server, connect(server) as idle, connect(server) as busy:
        idle.sendall(packb(["app", T, {"n": 1}, {"chunk": CHUNK}]))
        assert read_reply(idle) == {"ack": CHUNK}
        busy.sendall(packb(["app", T, {"n": 2}, {"chunk": CHUNK}]))
        assert read_reply(busy) == {"ack": CHUNK}
        with connect(server) as newcomer:
            newcomer.sendall(packb(["app", T, {"n": 3}, {"chunk": CHUNK}]))
            assert read_reply(newcomer) is None  # refused: no room
        for conn, n in ((idle, 4), (busy, 5)):  # neither open connection was cut for the newcomer
            conn.sendall(packb(["app", T, {"n": n}, {"chunk": CHUNK}]))
            assert read_reply(conn) == {"ack": CHUNK}
        assert server.stats.errors == {"too_many_connections": 1}
        assert sorted(r.record["n"] for r in sink.records) == [1, 2, 4, 5]


def test_refusals_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    throttled = ThrottledLog(logging.WARNING, interval=0.3)
    with caplog.at_level(logging.WARNING, logger="log_agent.inputs.forward"):
        for _ in range(50):
            throttled("refusing %s", "x")
        time.sleep(0.35)
        throttled("refusing %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "refusing x", "refusing y (and 49 more in the last 0.3 s)"]


def test_config_rejects_unknown_and_bad_keys_and_hides_secrets() -> None:
    with pytest.raises(ConfigError) as unknown:
        ForwardInputConfig.from_dict({"listen": "127.0.0.1:0", "shared_keys": "x"})
    assert unknown.value.key == "forward.shared_keys"
    for bad, key in [
        ({"listen": "nope"}, "forward.listen"),
        ({"max_frame_bytes": "lots"}, "forward.max_frame_bytes"),
        ({"tls_cert_file": "/c.pem"}, "forward.tls_key_file"),
        ({"users": {"a": "b"}}, "forward.users"),
        ({"unix_mode": "rw"}, "forward.unix_mode"),
    ]:
        with pytest.raises(ConfigError) as err:
            ForwardInputConfig.from_dict(bad)
        assert err.value.key == key
    config = ForwardInputConfig.from_dict(
        {"shared_key": "topsecret", "users": {"u": "pw123"}, "max_frame_bytes": "1MiB"}
    )
    assert config.max_frame_bytes == 1024 * 1024
    assert "topsecret" not in repr(config) and "pw123" not in repr(config)


def test_bind_failure_is_a_config_error_naming_listen(server: ForwardInput, sink: RecordingSink) -> None:
    assert server.address is not None
    taken = f"127.0.0.1:{server.address[1]}"
    other = ForwardInput(ForwardInputConfig.from_dict({"listen": taken, "heartbeat": False}))
    # SO_REUSEADDR lets two listeners share a TCP port only when neither is listening; this one is
    with pytest.raises(ConfigError) as err:
        other.start(sink)
        other.stop()
    assert err.value.key == "forward.listen"


def test_stop_then_start_serves_again_on_the_same_port(sink: RecordingSink) -> None:
    """What a configuration reload does: the same input object is stopped and started again."""
    with forward_input(sink) as server:
        assert server.address is not None
        port = server.address[1]
        server.stop()
        server.config.listen = ("127.0.0.1", port)
        server.start(sink)
        with connect(server) as conn:
            conn.sendall(packb(["again", T, {}, {"chunk": CHUNK}]))
            assert read_reply(conn) == {"ack": CHUNK}
        assert server.address == ("127.0.0.1", port)


def test_stop_lets_a_chunk_in_flight_finish_with_its_ack(sink: RecordingSink) -> None:
    """A reload stops the input while a client's chunk is in the sink: the ack still arrives (the
    client would otherwise resend it: a duplicate); idle connections and new clients are let go."""
    sink.gate.clear()  # the chunk is "being fsynced" when the reload comes
    with forward_input(sink) as server:
        assert server.address is not None
        with connect(server) as busy, connect(server) as idle:
            busy.sendall(packb(["app", T, {"n": 1}, {"chunk": CHUNK}]))
            assert sink.entered.wait(5)
            stopper = threading.Thread(target=server.stop)
            stopper.start()
            assert read_reply(idle) is None  # nothing in flight there: closed at once
            with pytest.raises(OSError):
                socket.create_connection(server.address, timeout=1).close()  # no longer accepting
            assert stopper.is_alive()  # waiting for the chunk in flight
            sink.gate.set()
            assert read_reply(busy) == {"ack": CHUNK}
            assert read_reply(busy) is None  # then closed
            stopper.join(5)
            assert not stopper.is_alive()
    assert [r.record["n"] for r in sink.records] == [1]


def test_stop_gives_up_on_a_sink_call_after_the_grace(sink: RecordingSink,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("log_agent.inputs.forward._DRAIN_SECONDS", 0.3)
    monkeypatch.setattr("log_agent.inputs.forward._STOP_SECONDS", 0.3)
    sink.gate.clear()
    with forward_input(sink) as server, connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}, {"chunk": CHUNK}]))
        assert sink.entered.wait(5)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2  # bounded, although the sink never returned
        sink.gate.set()
        assert read_reply(conn) is None  # no ack: the client keeps the chunk and resends it


def test_idle_connection_is_closed_after_idle_timeout(sink: RecordingSink) -> None:
    with forward_input(sink, idle_timeout="200ms") as server, connect(server) as conn:
        conn.sendall(b"\xc0")  # a nil keep-alive, then 200 ms of silence
        assert read_reply(conn, timeout=5) is None
        assert server.stats.errors == {"timeout": 1}


def test_a_frame_cut_off_at_eof_is_logged_and_counted(server: ForwardInput, sink: RecordingSink,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="log_agent.inputs.forward")
    whole = packb(["app", T, {"n": 1}])
    cut = packb(["app", T, {"n": 2, "msg": "x" * 50}])[:20]
    with connect(server) as conn:
        conn.sendall(whole + cut)
        conn.shutdown(socket.SHUT_WR)  # EOF in the middle of the second frame
        assert read_reply(conn) is None
    assert [r.record["n"] for r in sink.wait_for(1)] == [1]
    assert server.stats.errors == {"truncated": 1}
    assert "closed mid-frame (20 bytes discarded)" in caplog.text


def test_invalid_msgpack_names_a_reason_even_when_msgpack_gives_none(
    server: ForwardInput, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="log_agent.inputs.forward")
    with connect(server) as conn:
        conn.sendall(packb(["app", T, {"n": 1}]) + b"\x92\xa3app\xc1")  # 0xc1: never used in msgpack
        assert read_reply(conn) is None
    assert server.stats.errors == {"protocol": 1}
    assert "invalid msgpack at stream byte" in caplog.text
    assert not caplog.text.rstrip().endswith("invalid msgpack:")


def test_a_frame_as_large_as_max_frame_bytes_fits_the_default_memory_budget(server: ForwardInput,
                                                                           sink: RecordingSink) -> None:
    """Fluentd's out_forward sends chunks up to 8 MB: one such frame must never be refused by the
    budget on its own, and every reservation is given back afterwards."""
    entry = packb([T, {"log": "x" * 180}])
    count = (8 * 1024 * 1024 - 200) // len(entry)
    with connect(server) as conn:
        conn.sendall(packb(["big", entry * count, {"chunk": CHUNK}]))
        assert read_reply(conn, timeout=30) == {"ack": CHUNK}
    assert len(sink.records) == count
    assert 0 < sink.budget.peak <= sink.budget.limit
    assert wait_until_zero(lambda: sink.budget.in_use)


def wait_until_zero(value: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while value() and time.monotonic() < deadline:
        time.sleep(0.01)
    return value() == 0
