"""log-agent throughput and cost on loopback (not a test).

    .venv/bin/python -m bench.log_agent_bench [--events 200000]

Scenarios, each against a fresh ``log-agent`` process and a Forward receiver that acks:
  forward-ack    PackedForward chunks of 500 events with ``chunk`` over 4 connections (the agent acks
                 each chunk after its fsync) -> spool -> forward output waiting for acks
  fluent-logger  ``fluent.sender.FluentSender.emit``, one Message-mode frame per event, no acks ->
                 spool (fsync ``batch``: within 1 s; ``always``: per read) -> forward output

Per scenario: events/s end to end (first send -> last event at the receiver), agent CPU seconds per
million events, peak RSS (VmHWM), and bytes written by the agent per payload byte (/proc/<pid>/io
write_bytes = what reached the block layer's page cache for writing, and wchar = write() calls).
JSON and a PNG go to bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import psutil
from fluent import sender

from tests.log_agent.agent_process import AgentProcess, await_ack, packed_forward
from tests.log_agent.forward_receiver import ForwardReceiver

RESULTS = Path(__file__).parent / "results"
CHUNK = 500
CONNECTIONS = 4
MESSAGE = "GET /api/v1/items?page=2 200 12ms user=42 agent=curl/8.5"


def payload_bytes(count: int) -> int:
    """Bytes of the events as msgpack ``[time, record]`` entries (what the client puts on the wire)."""
    now = int(time.time())
    return sum(len(msgpack.packb([now, {"id": i, "msg": f"{MESSAGE} {i}"}])) for i in range(count))


def send_acked_chunks(port: int, total: int) -> None:
    per_connection = total // CONNECTIONS

    def one_connection(first: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            for start in range(first, first + per_connection, CHUNK):
                chunk = base64.b64encode(os.urandom(16)).decode()
                ids = list(range(start, min(start + CHUNK, first + per_connection)))
                conn.sendall(packed_forward("bench.load", ids, chunk, MESSAGE))
                if not await_ack(conn, chunk):
                    raise RuntimeError("the agent closed the connection without an ack")

    threads = [threading.Thread(target=one_connection, args=(n * per_connection,))
               for n in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def send_fluent_logger(port: int, total: int) -> None:
    client = sender.FluentSender("bench", host="127.0.0.1", port=port, bufmax=64 * 1024 * 1024)
    for i in range(total):
        client.emit("load", {"id": i, "msg": f"{MESSAGE} {i}"})
    client.close()


def proc_io(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def ratio(part: int, whole: int) -> float:
    return round(part / whole, 3)


def run_scenario(name: str, events: int, fsync: str, load: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, ForwardReceiver() as receiver:
        config = Path(tmp) / "agent.yaml"
        config.write_text(f"spool:\n  fsync: '{fsync}'\nlog_level: warning\n")
        agent = AgentProcess(Path(tmp), {"LOG_AGENT_CONFIG": str(config),
                                         "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{receiver.port}"})
        agent.start()
        try:
            assert agent.process is not None
            process = psutil.Process(agent.process.pid)
            cpu_before, io_before = process.cpu_times(), proc_io(process.pid)
            started = time.monotonic()
            load(agent.forward_port, events)
            if not receiver.wait_for_events(events, timeout=600):
                raise RuntimeError(f"{name}: only {len(receiver.events)} of {events} events arrived")
            elapsed = time.monotonic() - started
            cpu_after, io_after = process.cpu_times(), proc_io(process.pid)
            rss = peak_rss(process.pid)
            web_pss = sum(child.memory_full_info().pss for child in process.children(recursive=True))
            assert agent.terminate() == 0
        finally:
            agent.cleanup()
    payload = payload_bytes(events)
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {
        "scenario": name,
        "fsync": fsync,
        "events": events,
        "seconds": round(elapsed, 3),
        "events_per_second": round(events / elapsed),
        "cpu_seconds_per_million_events": round(cpu / events * 1e6, 2),
        "peak_rss_mib": round(rss / 2**20, 1),
        "http_children_pss_mib": round(web_pss / 2**20, 1),  # gunicorn master + worker, shared pages split
        "payload_bytes": payload,
        "disk_write_bytes_per_payload_byte": ratio(
            io_after["write_bytes"] - io_before["write_bytes"], payload),
        "write_call_bytes_per_payload_byte": ratio(io_after["wchar"] - io_before["wchar"], payload),
        "duplicates": len(receiver.events) - events,
    }


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [f"{r['scenario']}\n(fsync {r['fsync']})" for r in results]
    figure, (rate, cpu) = plt.subplots(1, 2, figsize=(11, 4))
    rate.bar(names, [r["events_per_second"] for r in results], color="#3a7ca5")
    rate.set_title("events/s end to end (loopback)")
    cpu.bar(names, [r["cpu_seconds_per_million_events"] for r in results], color="#d9a441")
    cpu.set_title("agent CPU seconds per million events")
    for axis in (rate, cpu):
        axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    # (name, fsync policy, load, share of --events): the one-frame-per-event client is slower.
    scenarios = [
        ("forward-ack", "batch", send_acked_chunks, 1),
        ("fluent-logger", "batch", send_fluent_logger, 2),
        ("fluent-logger", "always", send_fluent_logger, 2),
    ]
    results = []
    for name, fsync, load, divisor in scenarios:
        result = run_scenario(name, args.events // divisor, fsync, load)
        print(json.dumps(result))
        results.append(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "kernel": platform.release()}, "results": results}
    (RESULTS / "log_agent_bench.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(results, RESULTS / "log_agent_bench.png")
    print(f"wrote {RESULTS / 'log_agent_bench.json'} and log_agent_bench.png")


if __name__ == "__main__":
    main()
