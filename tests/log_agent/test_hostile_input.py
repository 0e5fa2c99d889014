"""The real agent process under hostile Forward input: inflating frames from many connections stay
inside the one memory budget (measured in /proc/<pid>/status), and a connection flood never breaks
a client that is sending and waiting for acks."""

from __future__ import annotations

import base64
import gzip
import os
import socket
import threading
import time
from pathlib import Path

import msgpack

from tests.log_agent.agent_process import AgentProcess, await_ack, free_port, wait_for

MiB = 1024 * 1024
BOMB_EVENTS = 699_050  # [0, {}] is 3 bytes: 2 MiB inflated from a ~2 KB frame, as in the issue


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def bomb_frame() -> tuple[bytes, str]:
    chunk = base64.b64encode(os.urandom(16)).decode()
    payload = gzip.compress(b"\x92\x00\x80" * BOMB_EVENTS, compresslevel=9)
    return msgpack.packb(["bomb", payload, {"compressed": "gzip", "chunk": chunk}]), chunk


def test_inflating_frames_from_16_connections_stay_within_the_memory_budget(tmp_path: Path) -> None:
    # the output points at a closed port: every record stays in the spool, memory is the input's
    agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{free_port()}",
                                    "LOG_AGENT_SPOOL_MAX_BYTES": "256MiB"})
    try:
        agent.start()
        assert agent.process is not None
        pid = agent.process.pid
        idle_kib = status_kib(pid, "VmRSS")
        outcomes: list[bool] = []

        def attacker() -> None:
            frame, chunk = bomb_frame()
            with socket.create_connection(("127.0.0.1", agent.forward_port), timeout=60) as conn:
                conn.sendall(frame)
                outcomes.append(await_ack(conn, chunk))  # acked, or closed (refused: memory budget)

        threads = [threading.Thread(target=attacker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == 16
        peak_mib = status_kib(pid, "VmHWM") / 1024
        assert peak_mib <= 96, f"peak RSS {peak_mib:.1f} MiB"
        acked = sum(outcomes)
        assert acked >= 1  # served one by one, not refused wholesale
        stored = agent.metric("log_agent_records_in_total", input="forward")
        assert stored >= acked * BOMB_EVENTS  # every acked frame is in the spool, whole
        refused = agent.health()["inputs"]["forward"]["errors"].get("memory_budget", 0)
        assert acked + refused == 16  # the rest were refused with a counted reason
        assert agent.metric("log_agent_memory_budget_refused_total") == refused
        assert agent.metric("log_agent_memory_budget_bytes", state="in_use") == 0  # all given back
        assert 0 < agent.metric("log_agent_memory_budget_bytes", state="peak") <= 32 * MiB
        time.sleep(1)
        after_mib = status_kib(pid, "VmRSS") / 1024
        assert after_mib <= idle_kib / 1024 + 24, f"RSS {after_mib:.1f} MiB after, {idle_kib / 1024:.1f} idle"
        assert agent.terminate() == 0
    finally:
        agent.cleanup()


def test_a_connection_flood_never_breaks_an_acking_client(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{free_port()}"})
    stop = threading.Event()
    opened = 0

    def flood() -> None:  # ~200 connections a second, each held a while, none sending anything
        nonlocal opened
        held: list[socket.socket] = []
        while not stop.is_set():
            try:
                held.append(socket.create_connection(("127.0.0.1", agent.forward_port), timeout=1))
                opened += 1
            except OSError:
                pass
            if len(held) > 300:
                held.pop(0).close()
            time.sleep(0.005)
        for conn in held:
            conn.close()

    try:
        agent.start()
        with socket.create_connection(("127.0.0.1", agent.forward_port), timeout=10) as client:
            flooder = threading.Thread(target=flood)
            flooder.start()
            try:
                assert wait_for(lambda: opened > 100, timeout=10)
                for n in range(200):
                    chunk = base64.b64encode(os.urandom(16)).decode()
                    client.sendall(msgpack.packb(["acking", int(time.time()), {"n": n}, {"chunk": chunk}]))
                    assert await_ack(client, chunk), f"chunk {n} not acked"
                    time.sleep(0.01)
            finally:
                stop.set()
                flooder.join(timeout=10)
        refused = agent.health()["inputs"]["forward"]["errors"].get("too_many_connections", 0)
        assert opened > 200 and refused > 0  # the flood hit the limit; the acking client never noticed
        assert agent.metric("log_agent_records_in_total", input="forward") == 200
        assert agent.terminate() == 0
    finally:
        agent.cleanup()
