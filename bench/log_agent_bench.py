"""log-agent against Fluent Bit 5.1.1 on loopback, in the same run (a benchmark, not a test).

    .venv/bin/python -m bench.log_agent_bench --fluent-bit /path/to/fluent-bit [--events 1000000]

Each scenario runs against a fresh peer (log-agent, then Fluent Bit built from its public source with
its filesystem buffer; never commit the binary), both relaying with acks into the same kind of sink
(a second Fluent Bit: forward in -> null out):

  packed         ``--events`` events in PackedForward chunks of 1000 from 4 senders, each waiting for
                 the chunk's ack (as Fluent Bit and Docker's fluentd driver send): the peer acks after
                 its buffer has the chunk (the agent: fsynced), relays it, waits for the sink's ack
  fluent-logger  ``--events / 10`` events from fluent-logger's ``emit`` (Message mode, one frame
                 per event, no acks), as applications send them
  inflating      16 connections each send one 2 KB gzip CompressedPackedForward frame of 699,050
                 empty events (each inflates to 2 MiB; as objects, hundreds of MiB)

Figures per peer and scenario: events/s end to end (first send -> the sink counted them all), peer
CPU-seconds per million events, disk bytes written per payload byte (/proc/<pid>/io write_bytes),
idle PSS of the whole process tree (before the load), peak RSS (VmHWM) and RSS afterwards. The
relay scenarios run ``--repeat`` times, the peers taking turns, and each figure is the median of its
runs (a 2-core machine shared with other work is noisy). Ratios agent/Fluent Bit are printed and
saved with every run to bench/results/log_agent_bench.json; the plot goes to
bench/results/log_agent_bench.png.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import platform
import socket
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from fluent import sender

from bench.log_agent_peers import (
    FluentBitPeer,
    FluentBitSink,
    LogAgentPeer,
    cpu_seconds,
    proc_io,
    status_kib,
    tree_pss_mib,
)
from tests.log_agent.agent_process import await_ack

RESULTS = Path(__file__).parent / "results"
CHUNK = 1000
SENDERS = 4
BOMB_CONNECTIONS = 16
BOMB_EVENTS = 699_050
MESSAGE = "GET /api/v1/items?page=2 200 12ms user=42 agent=curl/8.5"
TARGETS = {"events_per_second": ("min", 0.5), "cpu_seconds_per_million_events": ("max", 2.0)}
ABSOLUTE_TARGETS = {"disk_bytes_per_payload_byte": 1.3, "idle_pss_mib": 30.0, "peak_rss_mib": 96.0}


def event_time(seconds: float) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">II", int(seconds), int(seconds % 1 * 1e9)))


def entries(first: int, count: int) -> bytes:
    now = time.time()
    return b"".join(msgpack.packb([event_time(now), {"log": f"{MESSAGE} {i}", "source": "stdout"}])
                    for i in range(first, first + count))


def chunk_frame(tag: str, stream: bytes, count: int, compressed: bool = False) -> bytes:
    option: dict[str, Any] = {"chunk": base64.b64encode(os.urandom(16)).decode(), "size": count}
    if compressed:
        option["compressed"] = "gzip"
    return msgpack.packb([tag, stream, option], use_bin_type=True)


def chunk_id(frame: bytes) -> str:
    return msgpack.unpackb(frame, raw=False)[2]["chunk"]


class PackedLoad:
    """Frames built before the clock starts, so the senders cost little CPU while measured."""

    def __init__(self, total: int) -> None:
        per_sender = total // SENDERS
        self.total = per_sender * SENDERS
        self.payload = 0
        self.frames: list[list[bytes]] = []
        for sender_index in range(SENDERS):
            frames = []
            for start in range(sender_index * per_sender, (sender_index + 1) * per_sender, CHUNK):
                stream = entries(start, min(CHUNK, (sender_index + 1) * per_sender - start))
                self.payload += len(stream)
                frames.append(chunk_frame("bench.packed", stream, min(CHUNK, per_sender)))
            self.frames.append(frames)

    def __call__(self, port: int) -> None:
        def one_sender(frames: list[bytes]) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
                for frame in frames:
                    conn.sendall(frame)
                    if not await_ack(conn, chunk_id(frame)):
                        raise RuntimeError("the peer closed the connection without an ack")

        run_threads([lambda frames=frames: one_sender(frames) for frames in self.frames])


class MessageLoad:
    def __init__(self, total: int) -> None:
        self.total = total
        now = int(time.time())
        self.payload = sum(len(msgpack.packb([now, {"log": f"{MESSAGE} {i}", "source": "stdout"}]))
                           for i in range(total))

    def __call__(self, port: int) -> None:
        client = sender.FluentSender("bench", host="127.0.0.1", port=port, bufmax=256 * 1024 * 1024)
        for i in range(self.total):
            client.emit("message", {"log": f"{MESSAGE} {i}", "source": "stdout"})
        client.close()


def run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as err:  # reported by the caller
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} senders failed: {errors[0]!r}")


def make_peer(name: str, tmp: Path, sink_port: int, fluent_bit: str) -> LogAgentPeer | FluentBitPeer:
    return LogAgentPeer(tmp, sink_port) if name == "log-agent" else FluentBitPeer(fluent_bit, tmp, sink_port)


def relay_scenario(peer_name: str, scenario: str, load: PackedLoad | MessageLoad,
                   fluent_bit: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, FluentBitSink(fluent_bit, Path(tmp)) as sink:
        peer = make_peer(peer_name, Path(tmp), sink.port, fluent_bit)
        try:
            process = peer.start()
            time.sleep(3)  # settled: what it costs while nothing happens
            idle_pss = tree_pss_mib(process.pid)
            cpu_before, io_before = cpu_seconds(process), proc_io(process.pid)
            started = time.monotonic()
            load(peer.forward_port)
            if not sink.wait_for_records(load.total, timeout=900):
                raise RuntimeError(f"{peer_name} {scenario}: only {sink.records()} of {load.total} arrived")
            elapsed = time.monotonic() - started
            cpu, io_after = cpu_seconds(process) - cpu_before, proc_io(process.pid)
            time.sleep(5)
            peak, rss_after = status_kib(process.pid, "VmHWM"), status_kib(process.pid, "VmRSS")
            sink_records = sink.records()
            peer.stop()
        finally:
            peer.cleanup()
    return {
        "peer": peer_name, "scenario": scenario, "events": load.total,
        "seconds": round(elapsed, 3),
        "events_per_second": round(load.total / elapsed),
        "cpu_seconds_per_million_events": round(cpu / load.total * 1e6, 2),
        "payload_bytes": load.payload,
        "disk_bytes_per_payload_byte": round((io_after["write_bytes"] - io_before["write_bytes"])
                                             / load.payload, 3),
        "idle_pss_mib": idle_pss,
        "peak_rss_mib": round(peak / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "sink_records": sink_records,  # more than events: duplicates after a retried chunk
    }


def bomb_frame() -> bytes:
    stream = gzip.compress(msgpack.packb([0, {}]) * BOMB_EVENTS, compresslevel=9)
    return chunk_frame("bench.bomb", stream, BOMB_EVENTS, compressed=True)


def inflating_scenario(peer_name: str, fluent_bit: str) -> dict[str, Any]:
    frames = [bomb_frame() for _ in range(BOMB_CONNECTIONS)]
    outcomes: list[str] = []

    def attacker(frame: bytes) -> None:
        try:
            with socket.create_connection(("127.0.0.1", peer.forward_port), timeout=120) as conn:
                conn.sendall(frame)
                outcomes.append("acked" if await_ack(conn, chunk_id(frame)) else "closed")
        except OSError as err:
            outcomes.append(type(err).__name__)

    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, FluentBitSink(fluent_bit, Path(tmp)) as sink:
        peer = make_peer(peer_name, Path(tmp), sink.port, fluent_bit)
        try:
            process = peer.start()
            time.sleep(3)
            idle_rss = status_kib(process.pid, "VmRSS")
            started = time.monotonic()
            run_threads([lambda frame=frame: attacker(frame) for frame in frames])
            elapsed = time.monotonic() - started
            time.sleep(5)
            peak, rss_after = status_kib(process.pid, "VmHWM"), status_kib(process.pid, "VmRSS")
            alive = process.is_running() and process.status() != "zombie"
            peer.stop()
        finally:
            peer.cleanup()
    return {
        "peer": peer_name, "scenario": "inflating", "connections": BOMB_CONNECTIONS,
        "frame_bytes": len(frames[0]), "events_per_frame": BOMB_EVENTS,
        "seconds": round(elapsed, 3),
        "outcomes": {outcome: outcomes.count(outcome) for outcome in sorted(set(outcomes))},
        "idle_rss_mib": round(idle_rss / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "survived": alive,
    }


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per peer and scenario: the median of each numeric figure over its runs."""
    merged = []
    for key in dict.fromkeys((r["peer"], r["scenario"]) for r in runs):
        group = [r for r in runs if (r["peer"], r["scenario"]) == key]
        merged.append({name: statistics.median(r[name] for r in group)
                       if isinstance(value, int | float) and not isinstance(value, bool) else value
                       for name, value in group[0].items()} | {"runs": len(group)})
    return merged


def compare(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """agent/Fluent Bit per scenario and figure, with the issue's target and whether it holds."""
    rows = []
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        mine = next((r for r in results if r["scenario"] == scenario and r["peer"] == "log-agent"), None)
        if mine is None:
            continue
        theirs = next((r for r in results if r["scenario"] == scenario and r["peer"] == "fluent-bit"), None)
        for figure, (direction, limit) in TARGETS.items():
            if figure in mine and theirs and theirs.get(figure):
                value = round(mine[figure] / theirs[figure], 2)
                holds = value >= limit if direction == "min" else value <= limit
                rows.append({"scenario": scenario, "figure": f"{figure} ratio", "log_agent": mine[figure],
                             "fluent_bit": theirs[figure], "value": value,
                             "target": f"{'>=' if direction == 'min' else '<='} {limit}x", "holds": holds})
        for figure, limit in ABSOLUTE_TARGETS.items():
            if figure in mine:
                rows.append({"scenario": scenario, "figure": figure, "log_agent": mine[figure],
                             "fluent_bit": theirs.get(figure) if theirs else None, "value": mine[figure],
                             "target": f"<= {limit}", "holds": mine[figure] <= limit})
    return rows


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    relay = [r for r in results if "events_per_second" in r]
    scenarios = list(dict.fromkeys(r["scenario"] for r in relay))
    figure, axes = plt.subplots(1, 3, figsize=(13, 4.5))
    panels = (("events_per_second", "events/s end to end (higher is better)"),
              ("cpu_seconds_per_million_events", "CPU-seconds per million events (lower is better)"),
              ("peak_rss_mib", "peak RSS MiB (lower is better)"))
    for axis, (key, title) in zip(axes, panels, strict=True):
        rows = relay if key != "peak_rss_mib" else results
        names = list(dict.fromkeys(r["scenario"] for r in rows)) if key == "peak_rss_mib" else scenarios
        for offset, (peer, colour) in enumerate((("log-agent", "#3a7ca5"), ("fluent-bit", "#d9a441"))):
            values = [next((r[key] for r in rows if r["scenario"] == s and r["peer"] == peer), 0)
                      for s in names]
            axis.bar([i + offset * 0.4 for i in range(len(names))], values, width=0.4, color=colour,
                     label=peer)
        axis.set_xticks([i + 0.2 for i in range(len(names))], names)
        axis.set_title(title, fontsize=10)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'scenario':<14} {'figure':<40} {'log-agent':>10} {'fluent-bit':>10} {'value':>8}  target")
    for row in rows:
        print(f"{row['scenario']:<14} {row['figure']:<40} {row['log_agent']!s:>10} {row['fluent_bit']!s:>10} "
              f"{row['value']!s:>8}  {row['target']} {'ok' if row['holds'] else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fluent-bit", required=True, help="fluent-bit binary built from its public source")
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the packed scenario")
    parser.add_argument("--skip-inflating", action="store_true")
    parser.add_argument("--peers", default="log-agent,fluent-bit", help="comma-separated subset to run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each relay scenario per peer")
    args = parser.parse_args()
    runs = []
    packed, message = PackedLoad(args.events), MessageLoad(args.events // 10)
    for _ in range(args.repeat):
        for scenario, load in (("packed", packed), ("fluent-logger", message)):
            for peer in args.peers.split(","):
                runs.append(relay_scenario(peer, scenario, load, args.fluent_bit))
                print(json.dumps(runs[-1]), flush=True)
    results = medians(runs)
    if not args.skip_inflating:
        for peer in args.peers.split(","):
            results.append(inflating_scenario(peer, args.fluent_bit))
            print(json.dumps(results[-1]), flush=True)
    rows = compare(results)
    print_table(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "kernel": platform.release()},
                "fluent_bit": "5.1.1 built from source (filesystem buffer, storage.sync full)",
                "results": results, "comparison": rows, "runs": runs}
    (RESULTS / "log_agent_bench.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(results, RESULTS / "log_agent_bench.png")
    print(f"wrote {RESULTS / 'log_agent_bench.json'} and log_agent_bench.png")


if __name__ == "__main__":
    main()
