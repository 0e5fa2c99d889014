"""log-agent throughput and cost on loopback (not a test).

    .venv/bin/python -m bench.log_agent_bench [--events 200000] [--fluent-bit /path/to/fluent-bit]

Scenarios, each against a fresh ``log-agent`` process and a Forward receiver that acks:
  forward-ack    PackedForward chunks of 500 events with ``chunk`` over 4 connections (the agent acks
                 each chunk after its fsync) -> spool -> forward output waiting for acks
  fluent-logger  ``fluent.sender.FluentSender.emit``, one Message-mode frame per event, no acks ->
                 spool (fsync ``batch``: within 1 s; ``always``: per read) -> forward output

Per scenario: events/s end to end (first send -> last event at the receiver), agent CPU seconds per
million events, peak RSS (VmHWM), and bytes written by the agent per payload byte (/proc/<pid>/io
write_bytes = what reached the block layer's page cache for writing, and wchar = write() calls).
With ``--fluent-bit`` the first two scenarios run again against a Fluent Bit binary you built from
its public source (forward in with filesystem storage and ``storage.sync full``, forward out with
``require_ack_response``); never commit that binary. JSON and a PNG go to bench/results/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import psutil
from fluent import sender

from tests.log_agent.agent_process import (
    AgentProcess,
    await_ack,
    free_port,
    packed_forward,
    port_accepts,
    wait_for,
)
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


class LogAgentPeer:
    """The agent under test: the real ``log-agent`` console script."""

    name = "log-agent"

    def __init__(self, tmp: Path, receiver_port: int, fsync: str) -> None:
        config = tmp / "agent.yaml"
        config.write_text(f"spool:\n  fsync: '{fsync}'\nlog_level: warning\n")
        self._agent = AgentProcess(tmp, {"LOG_AGENT_CONFIG": str(config),
                                         "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{receiver_port}"})
        self.forward_port = self._agent.forward_port

    def start(self) -> psutil.Process:
        self._agent.start()
        assert self._agent.process is not None
        return psutil.Process(self._agent.process.pid)

    def stop(self) -> None:
        if self._agent.terminate() != 0:
            raise RuntimeError("log-agent did not exit 0 on SIGTERM")

    def cleanup(self) -> None:
        self._agent.cleanup()


class FluentBitPeer:
    """A Fluent Bit binary built locally from its public source (never committed): forward in with
    filesystem storage (``storage.sync full`` stands for fsync ``batch``), forward out with acks, in
    the classic event format (since 5.0.4 it sends [[time, metadata], record] by default, which
    Fluentd and our receiver refuse)."""

    name = "fluent-bit"

    def __init__(self, binary: str, tmp: Path, receiver_port: int, fsync: str) -> None:
        self.forward_port = free_port()
        self.config = tmp / "fluent-bit.conf"
        sync = "full" if fsync in ("batch", "always") else "normal"
        self.config.write_text(f"""[SERVICE]
    flush        0.2
    log_level    warn
    storage.path {tmp / "storage"}
    storage.sync {sync}
    storage.checksum on
[INPUT]
    name         forward
    listen       127.0.0.1
    port         {self.forward_port}
    storage.type filesystem
[OUTPUT]
    name                 forward
    match                *
    host                 127.0.0.1
    port                 {receiver_port}
    require_ack_response true
    retain_metadata_in_forward_mode false
""")
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> psutil.Process:
        self._process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: port_accepts(self.forward_port), timeout=20):
            raise TimeoutError("fluent-bit did not start listening")
        return psutil.Process(self._process.pid)

    def stop(self) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=30)

    def cleanup(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)


def run_scenario(name: str, events: int, fsync: str, load: Any,
                 fluent_bit: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, ForwardReceiver() as receiver:
        peer: LogAgentPeer | FluentBitPeer = (
            FluentBitPeer(fluent_bit, Path(tmp), receiver.port, fsync) if fluent_bit
            else LogAgentPeer(Path(tmp), receiver.port, fsync))
        try:
            process = peer.start()
            cpu_before, io_before = process.cpu_times(), proc_io(process.pid)
            started = time.monotonic()
            load(peer.forward_port, events)
            if not receiver.wait_for_events(events, timeout=600):
                raise RuntimeError(f"{name}: only {len(receiver.events)} of {events} events arrived")
            elapsed = time.monotonic() - started
            cpu_after, io_after = process.cpu_times(), proc_io(process.pid)
            rss = peak_rss(process.pid)
            children_pss = sum(child.memory_full_info().pss for child in process.children(recursive=True))
            peer.stop()
        finally:
            peer.cleanup()
    payload = payload_bytes(events)
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {
        "peer": peer.name,
        "scenario": name,
        "fsync": fsync,
        "events": events,
        "seconds": round(elapsed, 3),
        "events_per_second": round(events / elapsed),
        "cpu_seconds_per_million_events": round(cpu / events * 1e6, 2),
        "peak_rss_mib": round(rss / 2**20, 1),
        "children_pss_mib": round(children_pss / 2**20, 1),  # log-agent: the gunicorn HTTP child
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

    names = [f"{r['peer']}\n{r['scenario']}\n(fsync {r['fsync']})" for r in results]
    figure, (rate, cpu) = plt.subplots(1, 2, figsize=(4 + 2.2 * len(results), 4.5))
    rate.bar(names, [r["events_per_second"] for r in results], color="#3a7ca5")
    rate.set_title("events/s end to end (loopback)")
    cpu.bar(names, [r["cpu_seconds_per_million_events"] for r in results], color="#d9a441")
    cpu.set_title("process CPU seconds per million events")
    for axis in (rate, cpu):
        axis.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--fluent-bit", help="path of a fluent-bit binary built from source, to compare")
    args = parser.parse_args()
    # (name, fsync policy, load, share of --events): the one-frame-per-event client is slower.
    scenarios = [
        ("forward-ack", "batch", send_acked_chunks, 1),
        ("fluent-logger", "batch", send_fluent_logger, 2),
        ("fluent-logger", "always", send_fluent_logger, 2),
    ]
    peers = [None, args.fluent_bit] if args.fluent_bit else [None]
    results = []
    for fluent_bit in peers:
        for name, fsync, load, divisor in scenarios:
            if fluent_bit and fsync == "always":
                continue  # Fluent Bit has no per-read fsync mode to compare with
            result = run_scenario(name, args.events // divisor, fsync, load, fluent_bit)
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
