"""syslog input: RFC 5424/3164 parsing and framing (table-driven), and util-linux ``logger`` over UDP
and TCP (octet counting and newline framing) against the real sockets."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from log_agent.errors import ConfigError
from log_agent.inputs.syslog import SyslogInput, SyslogInputConfig
from log_agent.inputs.syslog_parse import FrameError, Framer, parse

from tests.log_agent.agent_process import wait_for
from tests.log_agent.inputs.input_helpers import ChunkSink

LOGGER = shutil.which("logger")


@pytest.mark.parametrize("data, expected_time, expected", [
    (b'<165>1 2003-10-11T22:14:15.003Z host1 evntslog - ID47 [ex@32473 iut="3" src="a\\"b"] \xef\xbb\xbfhi',
     1065910455_003000000,
     {"facility": "local4", "level": "notice", "host": "host1", "app": "evntslog", "msgid": "ID47",
      "structured_data": {"ex@32473": {"iut": "3", "src": 'a"b'}}, "message": "hi"}),
    (b"<13>1 2024-01-01T00:00:00.123456+02:00 h app 12 - - text",
     1704060000_123456000,
     {"facility": "user", "level": "notice", "host": "h", "app": "app", "pid": "12", "message": "text"}),
    (b"<13>1 - - - - - -", 42, {"facility": "user", "level": "notice", "message": ""}),
    (b"no priority at all", 42, {"message": "no priority at all"}),
    (b"<999>bad pri", 42, {"message": "<999>bad pri"}),
    (b"<11>app: \xff raw", 42, {"facility": "user", "level": "error", "message": b"app: \xff raw"}),
])
def test_messages_parse_into_fields(data: bytes, expected_time: int, expected: dict) -> None:
    assert parse(data, received_ns=42) == (expected_time, expected)


def test_rfc3164_with_tag_and_pid() -> None:
    received = time.time_ns()
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(received / 1e9 - 5)).encode()
    time_ns, record = parse(b"<34>" + stamp + b" mymachine su[123]: su root failed", received)
    assert record == {"facility": "auth", "level": "critical", "host": "mymachine", "app": "su",
                      "pid": "123", "message": "su root failed"}
    assert 0 <= received - time_ns < 7e9


def test_framing_both_kinds_and_the_limit() -> None:
    framer = Framer(max_bytes=20)
    assert framer.feed(b"5 hello3 abc\nline one\n7 par") == [b"hello", b"abc", b"line one"]
    assert framer.feed(b"tial!") == [b"partial"]
    with pytest.raises(FrameError):
        Framer(max_bytes=20).feed(b"21 ")
    with pytest.raises(FrameError):
        Framer(max_bytes=20).feed(b"x" * 21)


def test_remote_listen_needs_allow_remote() -> None:
    with pytest.raises(ConfigError) as caught:
        SyslogInputConfig.from_dict({"listen": "0.0.0.0:514"})
    assert caught.value.key == "syslog.listen"
    assert SyslogInputConfig.from_dict({"listen": "0.0.0.0:514", "allow_remote": True}).allow_remote


@pytest.fixture
def server() -> Iterator[tuple[SyslogInput, ChunkSink]]:
    source = SyslogInput(SyslogInputConfig.from_dict({"listen": "127.0.0.1:0", "max_connections": 2,
                                                      "idle_timeout": "1s", "max_message_bytes": 4096}))
    sink = ChunkSink()
    source.start(sink)
    yield source, sink
    source.stop()


@pytest.mark.skipif(LOGGER is None, reason="needs util-linux logger")
@pytest.mark.parametrize("transport", [["--udp"], ["--tcp"], ["--tcp", "--octet-count"]])
@pytest.mark.parametrize("rfc", ["--rfc3164", "--rfc5424"])
def test_logger_over_each_transport_and_rfc(server: tuple[SyslogInput, ChunkSink], transport: list[str],
                                            rfc: str) -> None:
    source, sink = server
    port = source.addresses["tcp"][1]
    assert source.addresses["udp"][1] == port
    subprocess.run([LOGGER, "--server", "127.0.0.1", "--port", str(port), *transport, rfc,
                    "--tag", "myapp", "--id=77", "-p", "local3.warning", "hello from logger"],
                   check=True, timeout=10)
    assert sink.wait_count(1)
    _, _, record = sink.records[0]
    assert record["message"] == "hello from logger"
    assert (record["app"], record["pid"], record["facility"], record["level"]) == (
        "myapp", "77", "local3", "warning")
    assert record["host"]


def test_connection_limits(server: tuple[SyslogInput, ChunkSink]) -> None:
    source, sink = server
    address = ("127.0.0.1", source.addresses["tcp"][1])
    first, second = socket.create_connection(address), socket.create_connection(address)
    assert wait_for(lambda: source.stats.connections_active == 2)
    third = socket.create_connection(address)
    assert wait_for(lambda: source.stats.errors.get("too_many_connections") == 1)
    assert third.recv(1) == b""  # refused: the newest is closed, the served ones stay
    first.sendall(b"<13>1 - h a - - - still served\n")
    assert sink.wait_count(1)
    second.sendall(b"99999 ")  # over max_message_bytes: that connection is closed
    assert wait_for(lambda: source.stats.errors.get("too_large") == 1)
    assert wait_for(lambda: source.stats.errors.get("idle_timeout") == 1, timeout=5)  # first, idle
    for sock in (first, second, third):
        sock.close()
