"""Docker's fluentd log driver splits lines over 16 KiB into pieces; sent to the real Forward input
as the driver sends them (Message mode, ``fluentd-request-ack``), they come out as one record."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import msgpack
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig
from log_agent.protocol.encode import event_time

from tests.log_agent.agent_process import AgentProcess, wait_for
from tests.log_agent.inputs.forward_helpers import read_reply
from tests.log_agent.inputs.input_helpers import ChunkSink


def driver_message(tag: str, line: str, chunk: str, piece: tuple[str, int, bool] | None) -> bytes:
    """One Message-mode event as fluent-logger-golang sends it for the Docker fluentd driver."""
    record = {"container_id": "9f" * 32, "container_name": "/web", "source": "stdout", "log": line}
    if piece is not None:
        partial_id, ordinal, last = piece
        record.update({"partial_message": "true", "partial_id": partial_id,
                       "partial_ordinal": str(ordinal), "partial_last": "true" if last else "false"})
    return msgpack.packb([tag, event_time(1_700_000_000_123_000_000), record, {"chunk": chunk}],
                         use_bin_type=True)


def test_split_line_is_joined_and_whole_lines_pass_untouched() -> None:
    sink = ChunkSink()
    server = ForwardInput(ForwardInputConfig.from_dict({"listen": "127.0.0.1:0", "heartbeat": False}))
    server.start(sink)  # docker_partial is on by default
    try:
        assert server.address is not None
        with socket.create_connection(server.address) as conn:
            pieces = [("A" * 16384, ("p1", 1, False)), ("short line", None), ("B" * 16384, ("p1", 2, False)),
                      ("C" * 100, ("p1", 3, True))]
            for number, (line, piece) in enumerate(pieces):
                conn.sendall(driver_message("docker.web", line, f"c{number}", piece))
                assert read_reply(conn) == {"ack": f"c{number}"}
        assert sink.wait_count(2)
    finally:
        server.stop()
    (tag1, _, whole), (tag2, time_ns, joined) = sink.records
    assert whole["log"] == "short line" and "partial_message" not in whole
    assert joined["log"] == "A" * 16384 + "B" * 16384 + "C" * 100
    assert not any(key.startswith("partial_") for key in joined)
    assert (tag1, tag2, time_ns) == ("docker.web", "docker.web", 1_700_000_000_123_000_000)


def send_all(address: tuple[str, int], messages: list[tuple[str, tuple[str, int, bool] | None]],
             tag: str = "docker.web") -> None:
    with socket.create_connection(address) as conn:
        for number, (line, piece) in enumerate(messages):
            conn.sendall(driver_message(tag, line, f"c{number}", piece))
            assert read_reply(conn) == {"ack": f"c{number}"}


def test_joining_can_be_turned_off() -> None:
    sink = ChunkSink()
    config = {"listen": "127.0.0.1:0", "heartbeat": False, "docker_partial": False}
    server = ForwardInput(ForwardInputConfig.from_dict(config))
    server.start(sink)
    try:
        assert server.address is not None
        send_all(server.address, [("A" * 100, ("p1", 1, False)), ("B", ("p1", 2, True))])
        assert sink.wait_count(2)
    finally:
        server.stop()
    assert [record["partial_ordinal"] for _, _, record in sink.records] == ["1", "2"]


def test_a_line_whose_last_piece_never_comes_is_stored_after_the_timeout_and_at_stop() -> None:
    sink = ChunkSink()
    config = {"listen": "127.0.0.1:0", "heartbeat": False, "docker_partial_timeout": "200ms"}
    server = ForwardInput(ForwardInputConfig.from_dict(config))
    server.start(sink)
    try:
        assert server.address is not None
        send_all(server.address, [("A" * 100, ("p1", 1, False))], tag="docker.a")
        started = time.monotonic()
        assert sink.wait_count(1, timeout=5)  # no other traffic: the timer lets it out
        assert time.monotonic() - started >= 0.15
        send_all(server.address, [("B" * 100, ("p2", 1, False))], tag="docker.b")
    finally:
        server.stop()  # the waiting line is stored as it is, under its own tag
    (tag1, _, first), (tag2, _, second) = sink.records
    assert (tag1, first["log"], first["partial_incomplete"]) == ("docker.a", "A" * 100, True)
    assert (tag2, second["log"]) == ("docker.b", "B" * 100)
    leftovers = {"partial_message", "partial_id", "partial_ordinal", "partial_last", "\0tag"}
    assert not leftovers & (first.keys() | second.keys())


def test_lines_split_by_the_driver_arrive_joined_through_the_agent(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": f"file://{out}"})
    try:
        agent.start()
        big = "x" * 16384 + "y" * 16384 + "z" * 10
        send_all(("127.0.0.1", agent.forward_port), [
            ("x" * 16384, ("id-1", 1, False)), ("y" * 16384, ("id-1", 2, False)),
            ("z" * 10, ("id-1", 3, True)), ("a whole line", None)])

        def received() -> list[dict]:
            return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []

        assert wait_for(lambda: len(received()) == 2, timeout=15), agent.stderr()
        joined, whole = (item["record"] for item in received())
        assert joined["log"] == big and whole["log"] == "a whole line"
        assert joined["container_name"] == "/web" and not any(k.startswith("partial_") for k in joined)
        assert agent.terminate() == 0
    finally:
        agent.cleanup()
