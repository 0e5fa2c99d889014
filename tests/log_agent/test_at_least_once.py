"""At-least-once through the real ``log-agent`` process: SIGKILL it repeatedly mid-stream, take the
receiver away for a while, and check that every acknowledged id arrives, duplicates stay within one
batch per crash, and /metrics agrees with what the receiver saw."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.log_agent.agent_process import AgentProcess, ChunkSender, wait_for
from tests.log_agent.forward_receiver import ForwardReceiver

BATCH_RECORDS = 200
CHUNK_SIZE = 50
CONFIG = f"""
retry:
  initial_backoff: 50ms
  max_backoff: 300ms
  batch_records: {BATCH_RECORDS}
  flush_timeout: 5s
"""


@pytest.fixture
def receiver() -> Iterator[ForwardReceiver]:
    with ForwardReceiver() as running:
        yield running


@pytest.fixture
def agent(tmp_path: Path, receiver: ForwardReceiver) -> Iterator[AgentProcess]:
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG)
    process = AgentProcess(tmp_path, {
        "LOG_AGENT_CONFIG": str(config),
        "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{receiver.port}?ack_timeout=2",
    })
    yield process
    process.cleanup()



@pytest.mark.slow
@pytest.mark.timeout(120)
def test_acked_ids_survive_sigkills_and_a_receiver_outage(agent: AgentProcess,
                                                          receiver: ForwardReceiver) -> None:
    agent.start()
    sender = ChunkSender(agent.forward_port, CHUNK_SIZE).start()
    kills = 3
    try:
        for crash in range(kills):
            time.sleep(1.0)
            if crash == 1:
                receiver.stop()  # the back end goes away; the spool holds the backlog
            agent.kill()
            if crash == kills - 1:
                received_before_final = len(receiver.events)
                final_start = time.monotonic()
            agent.start()
            if crash == 1:
                time.sleep(1.5)
                receiver.start()
        time.sleep(1.5)
    finally:
        sender.stop()

    acked = set(sender.acked)
    assert len(acked) > 500, "the load generator barely got going"
    assert wait_for(lambda: acked <= {r["id"] for r in receiver.records()}, timeout=30), \
        f"missing acked ids: {sorted(acked - {r['id'] for r in receiver.records()})[:20]}"
    assert wait_for(lambda: agent.metric("log_agent_backlog_bytes", output="forward") == 0, timeout=15)
    assert receiver.violations == []

    counts = Counter(r["id"] for r in receiver.records())
    duplicates = sum(n - 1 for n in counts.values())
    outages = 1
    assert duplicates <= kills * (BATCH_RECORDS + CHUNK_SIZE) + outages * BATCH_RECORDS, duplicates

    # The final incarnation's counters agree with what the receiver and the sender saw since it started.
    assert agent.metric("log_agent_records_out_total", output="forward") == \
        len(receiver.events) - received_before_final
    assert agent.metric("log_agent_records_in_total", input="forward") == sender.acked_after(final_start)
    assert agent.metric("log_agent_records_dropped_total", output="forward") == 0
    assert agent.metric("log_agent_records_dead_lettered_total", output="forward") == 0
    assert agent.health()["outputs"]["forward"]["state"] == "ok"

    assert agent.terminate() == 0
