"""Docker's fluentd log driver splits lines over 16 KiB into pieces; sent to the real Forward input
as the driver sends them (Message mode, ``fluentd-request-ack``), they come out as one record."""

from __future__ import annotations

import socket

import msgpack
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig
from log_agent.processors.partial import DockerPartialSink
from log_agent.protocol.encode import event_time

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
    server.start(DockerPartialSink(sink))
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
