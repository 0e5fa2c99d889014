"""Interop with real clients into ForwardInput: PyPI fluent-logger (sender, asyncsender, logging
handlers), through the real disk Spool for the end-to-end case, and npm fluent-logger (Node.js).

fluent-logger (Python) sends Message mode only, without ``chunk``: delivery from it is at-most-once by
design (it never reads an ack), so those tests check what arrives, timestamps, and reconnection. The
Node.js client is the stock one that asks for acks (``requireAckResponse``) in Message, PackedForward
and CompressedPackedForward modes, and speaks the shared_key handshake over TLS.
Fluent Bit / Fluentd ``out_forward`` cannot run here (no binaries); their wire forms (str
PackedForward, the [[time, metadata], record] entry, binary nonces and salts) are covered by the codec
and input tests on literal bytes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fluent import asynchandler, asyncsender, event, handler, sender
from log_agent.inputs.forward import ForwardInput
from log_agent.models import Outcome, Record
from log_agent.outputs.forward import ForwardOutput, ForwardOutputConfig

from tests.log_agent.forward_receiver import make_self_signed_cert
from tests.log_agent.inputs.forward_helpers import RecordingSink, forward_input

NS = 1_000_000_000


@dataclass
class Agent:
    """A running ForwardInput on a free port and the sink it stores into."""

    port: int
    sink: RecordingSink


@pytest.fixture
def agent() -> Iterator[Agent]:
    sink = RecordingSink()
    with forward_input(sink) as server:
        assert server.address is not None
        yield Agent(server.address[1], sink)


def port_of(server: ForwardInput) -> int:
    assert server.address is not None
    return server.address[1]


def test_sender_with_integer_seconds(agent: Agent) -> None:
    before = int(time.time())
    with sender.FluentSender("app", host="127.0.0.1", port=agent.port) as fluent:
        assert fluent.emit("web", {"msg": "hello", "n": 1, "nested": {"ok": True}, "raw": b"\xff"})
        assert fluent.emit_with_time("web", 1_700_000_000, {"msg": "fixed"})
    first, second = agent.sink.wait_for(2)
    assert first.tag == "app.web"
    assert first.record == {"msg": "hello", "n": 1, "nested": {"ok": True}, "raw": b"\xff"}
    assert first.time_ns % NS == 0 and first.time_ns // NS >= before
    assert second.time_ns == 1_700_000_000 * NS
    assert not any(agent.sink.durable)  # no chunk from fluent-logger: nothing to ack or fsync for


def test_sender_with_nanosecond_event_time(agent: Agent) -> None:
    exact = 1_700_000_000_123_456_789
    fluent = sender.FluentSender("app", host="127.0.0.1", port=agent.port, nanosecond_precision=True)
    try:
        assert fluent.emit_with_time("ns", sender.EventTime.from_unix_nano(exact), {"n": 1})
        assert fluent.emit("ns", {"n": 2})
    finally:
        fluent.close()
    fixed, now = agent.sink.wait_for(2)
    assert fixed.time_ns == exact  # EventTime keeps every nanosecond
    assert abs(now.time_ns - time.time_ns()) < 10 * NS and now.time_ns % 1000 != 0


def test_async_sender_flushes_on_close(agent: Agent) -> None:
    fluent = asyncsender.FluentSender("async", host="127.0.0.1", port=agent.port)
    for n in range(200):
        fluent.emit("burst", {"n": n})
    fluent.close()  # flush=True: the queue is drained before the thread exits
    records = agent.sink.wait_for(200)
    assert [r.record["n"] for r in records] == list(range(200))


def test_logging_handler_with_formatter_and_event_time(agent: Agent) -> None:
    fluent_handler = handler.FluentHandler(
        "app.log", host="127.0.0.1", port=agent.port, nanosecond_precision=True
    )
    fluent_handler.setFormatter(
        handler.FluentRecordFormatter({"level": "%(levelname)s", "where": "%(module)s"})
    )
    logger = logging.getLogger("interop.sync")
    logger.propagate = False
    logger.addHandler(fluent_handler)
    try:
        logger.warning({"from": "userA", "to": "userB"})  # a dict is merged into the record
        logger.error("plain text message")
    finally:
        logger.removeHandler(fluent_handler)
        fluent_handler.close()
    merged, plain = agent.sink.wait_for(2)
    assert merged.tag == "app.log"
    assert merged.record == {
        "level": "WARNING",
        "where": "test_fluent_logger_interop",
        "from": "userA",
        "to": "userB",
    }
    assert plain.record["message"] == "plain text message"
    assert merged.time_ns % NS != 0  # EventTime from record.created (microsecond-ish precision)


def test_async_logging_handler_without_a_formatter(agent: Agent) -> None:
    """Without FluentRecordFormatter the handler sends the formatted str, not a map: kept as message."""
    fluent_handler = asynchandler.FluentHandler("app.async", host="127.0.0.1", port=agent.port)
    logger = logging.getLogger("interop.async")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(fluent_handler)
    try:
        for n in range(20):
            logger.info({"n": n})
    finally:
        logger.removeHandler(fluent_handler)
        fluent_handler.close()  # the README says: close, or the process never exits
    assert [r.record for r in agent.sink.wait_for(20)] == [{"message": str({"n": n})} for n in range(20)]


def test_global_sender_and_event_api(agent: Agent) -> None:
    sender.setup("global", host="127.0.0.1", port=agent.port)
    try:
        event.Event("follow", {"from": "userA"})
    finally:
        sender.close()
    (record,) = agent.sink.wait_for(1)
    assert (record.tag, record.record) == ("global.follow", {"from": "userA"})


def test_unix_socket(tmp_path: Path) -> None:
    sink = RecordingSink()
    path = tmp_path / "agent.sock"
    with forward_input(sink, unix_path=str(path)):
        with sender.FluentSender("unix", host=f"unix://{path}") as fluent:
            assert fluent.emit("sock", {"via": "unix"})
        (record,) = sink.wait_for(1)
    assert (record.tag, record.record) == ("unix.sock", {"via": "unix"})


def test_sender_buffers_while_the_agent_restarts() -> None:
    """fluent-logger keeps unsent bytes in memory and sends them with the next emit after reconnecting."""
    sink = RecordingSink()
    with forward_input(sink) as first:
        port = port_of(first)
        fluent = sender.FluentSender("app", host="127.0.0.1", port=port, timeout=1)
        assert fluent.emit("r", {"n": 0})
        sink.wait_for(1)
    # agent down: the socket is gone; the emit fails and is kept in ``pendings``
    for _ in range(3):  # the first send after a peer close may still "succeed" into the kernel buffer
        if not fluent.emit("r", {"n": 1}):
            break
    with forward_input(sink, listen=f"127.0.0.1:{port}"):
        assert fluent.emit("r", {"n": 2})
        fluent.close()
        records = sink.wait_for(3)
    numbers = [r.record["n"] for r in records]
    assert numbers[0] == 0 and numbers[-1] == 2 and 1 in numbers


def test_fluent_logger_to_spool_to_forward_output_end_to_end(tmp_path: Path) -> None:
    """fluent-logger -> ForwardInput -> real disk Spool -> ForwardOutput (chunk + ack) -> strict receiver."""
    from log_agent.budget import MemoryBudget
    from log_agent.sink import SpoolSink
    from log_agent.spool import Spool, SpoolConfig

    from tests.log_agent.forward_receiver import ForwardReceiver

    spool = Spool(SpoolConfig.from_dict({"dir": str(tmp_path / "spool"), "max_bytes": "4MiB"}))
    spool.register("forward")
    try:
        sink = SpoolSink(spool, MemoryBudget(), "forward", None)  # the core's sink
        with forward_input(sink) as server, ForwardReceiver() as receiver:
            with sender.FluentSender(
                "e2e", host="127.0.0.1", port=port_of(server), nanosecond_precision=True
            ) as fl:
                for n in range(100):
                    fl.emit("x", {"n": n})
            output = ForwardOutput(ForwardOutputConfig(host="127.0.0.1", port=receiver.port, gzip=True))
            delivered: list[Record] = []
            deadline = time.monotonic() + 10
            while len(delivered) < 100 and time.monotonic() < deadline:
                batch = spool.read("forward", max_records=40, timeout=0.5)
                if batch.chunks:  # the spooled entry bytes, sent on as they are
                    assert output.send_chunks(batch.chunks).outcome is Outcome.DELIVERED
                    spool.commit(batch)
                    delivered += batch.records
            output.close()
            assert receiver.violations == []
            assert [e.record["n"] for e in receiver.events] == list(range(100))
            assert [e.time_ns for e in receiver.events] == [r.time_ns for r in delivered]
    finally:
        spool.close()


# -- fluent-logger for Node.js: the stock client that asks for acks, packs and compresses ------------

NODE_MODULES = Path(__file__).resolve().parents[2] / ".venv" / "node" / "node_modules"
NODE_CLIENT = r"""
const FluentLogger = require('fluent-logger');
const cfg = JSON.parse(require('fs').readFileSync(0, 'utf8'));  // stdin: the sharedKey stays out of argv
const quiet = { info() {}, error() {}, debug() {}, warn() {} };
const logger = FluentLogger.createFluentSender(cfg.tag, Object.assign(
  { host: '127.0.0.1', port: cfg.port, timeout: 3.0, ackResponseTimeout: 3000, internalLogger: quiet },
  cfg.options));
const results = [];
let pending = cfg.count;
logger.on('error', (err) => { console.log(JSON.stringify({ error: String(err) })); process.exit(2); });
for (let n = 0; n < cfg.count; n++) {
  const time = new FluentLogger.EventTime(1700000000, 123456789 + n);
  logger.emit('node', { n: n, text: 'line ' + n }, time, (err) => {
    results.push(err ? String(err) : null);
    if (--pending === 0) { logger.end(); console.log(JSON.stringify({ results: results })); }
  });
}
"""


def run_node_client(port: int, count: int, **options: object) -> dict:
    """Run fluent-logger-node (installed by scripts/setup.sh under .venv/node) and return its report."""
    if shutil.which("node") is None or not (NODE_MODULES / "fluent-logger").is_dir():
        pytest.skip("needs node and `npm install --prefix .venv/node fluent-logger@3.4.1` (scripts/setup.sh)")
    config = {"tag": "js", "port": port, "count": count, "options": options}
    done = subprocess.run(
        ["node", "-e", NODE_CLIENT], input=json.dumps(config),
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["Message", "PackedForward", "CompressedPackedForward"])
def test_node_client_with_acks_in_every_mode(agent: Agent, mode: str) -> None:
    report = run_node_client(agent.port, 20, eventMode=mode, requireAckResponse=True)
    assert report["results"] == [None] * 20  # every event acked
    records = agent.sink.wait_for(20)
    assert sorted(r.record["n"] for r in records) == list(range(20))
    assert {r.tag for r in records} == {"js.node"}
    assert sorted(r.time_ns for r in records) == [1_700_000_000_123_456_789 + n for n in range(20)]
    assert all(agent.sink.durable)  # the chunk made every batch durable before its ack


def test_node_client_with_shared_key_and_tls(tmp_path: Path) -> None:
    cert, key = make_self_signed_cert(tmp_path)
    sink = RecordingSink()
    settings = {"shared_key": "n0de-key", "self_hostname": "agent"}
    with forward_input(sink, tls_cert_file=cert, tls_key_file=key, **settings) as server:
        security = {"clientHostname": "node-app", "sharedKey": "n0de-key"}
        tls = {"tls": True, "tlsOptions": {"ca": Path(cert).read_text(), "servername": "localhost"}}
        report = run_node_client(port_of(server), 5, requireAckResponse=True, security=security, **tls)
        assert report["results"] == [None] * 5
        assert [r.record["n"] for r in sink.wait_for(5)] == list(range(5))
        wrong = {"clientHostname": "node-app", "sharedKey": "wrong"}
        with pytest.raises(AssertionError, match="Authentication failed"):
            run_node_client(port_of(server), 1, requireAckResponse=True, security=wrong, **tls)
        assert server.stats.errors.get("auth") == 1
