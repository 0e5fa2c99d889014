"""log-agent's device inputs against Fluent Bit 5.1.1 in the same run (a benchmark, not a test).

    .venv/bin/python -m bench.log_agent_inputs_bench --fluent-bit /path/to/fluent-bit [--lines 500000]

Both read the same prepared source from its first line and forward it, with acks, into the same sink
(a second Fluent Bit: forward in -> null out), and both buffer on disk (the agent's spool, fsynced per
batch; Fluent Bit ``storage.type filesystem``, ``storage.sync full``):

  tail     ``--lines`` lines of ~100 bytes in one file: the agent's ``files`` input against Fluent Bit's
           ``tail`` input with its offset database (``db``)
  journal  ``--lines / 2`` entries in a journal file written by systemd-journal-remote (balena-like
           container fields): the agent's ``journald`` input (journalctl child) against Fluent Bit's
           ``systemd`` input (cursor database), when the binary has it: it needs libsystemd's headers
           at build time (Debian libsystemd-dev, then cmake ... -DFLB_IN_SYSTEMD=On)

Figures: lines/s (start -> the sink counted them all), CPU-seconds of the whole process tree per
million lines, peak RSS (VmHWM), and checkpoint bytes written per million lines: the agent's
checkpoint file (``log_agent_input_report{key="checkpoint_bytes_total"}``) against Fluent Bit's
offset/cursor database (``/proc/<pid>/io`` write_bytes of a second Fluent Bit run with memory
buffering, so that its only disk writes are the database).
Saved to bench/results/log_agent_inputs_bench.json and .png.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
import urllib.error
from pathlib import Path
from typing import Any

import psutil

from bench.log_agent_peers import FluentBitSink, proc_io, status_kib
from tests.log_agent.agent_process import AgentProcess
from tests.log_agent.inputs.input_helpers import container_entry, export_entry

RESULTS = Path(__file__).parent / "results"
LINE_PAD = "x" * 70


def wait_until_counting(sink: FluentBitSink, timeout: float = 20.0) -> None:
    """Fluent Bit's monitoring API answers 404 for a moment after it starts listening."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sink.records()
            return
        except urllib.error.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def tree_cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def prepare_file(path: Path, lines: int) -> None:
    with path.open("w") as handle:
        for number in range(lines):
            handle.write(f"2026-01-01T00:00:00Z INFO request {number:09d} {LINE_PAD}\n")


def prepare_journal(directory: Path, entries: int) -> None:
    directory.mkdir()
    step = 50_000
    for start in range(0, entries, step):
        data = b"".join(export_entry(container_entry(f"request {i:09d} {LINE_PAD}"), i)
                        for i in range(start, min(entries, start + step)))
        subprocess.run(["/lib/systemd/systemd-journal-remote", f"--output={directory / 'system.journal'}",
                        "-"], input=data, check=True, capture_output=True, timeout=600)


def run_agent(tmp: Path, sink: FluentBitSink, input_yaml: str, count: int) -> dict[str, Any]:
    config = tmp / "agent.yaml"
    # block: the source (a file, the journal) keeps what the spool has no room for yet, so the input
    # waits, as Fluent Bit's tail pauses at its buffer limit, instead of dropping the oldest records
    config.write_text(f"log_level: warning\nspool: {{when_full: block}}\ninputs:\n  - {{type: forward}}\n"
                      f"{input_yaml}")
    agent = AgentProcess(tmp, {"LOG_AGENT_CONFIG": str(config),
                               "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{sink.port}"})
    started = time.monotonic()
    agent.start(timeout=60)
    assert agent.process is not None
    process = psutil.Process(agent.process.pid)
    try:
        if not sink.wait_for_records(count, timeout=1800):
            raise TimeoutError(f"the sink got {sink.records()} of {count}: {agent.stderr()[-2000:]}")
        elapsed = time.monotonic() - started
        cpu = tree_cpu_seconds(process)
        peak_rss = status_kib(process.pid, "VmHWM") / 1024
        name = "files" if "type: files" in input_yaml else "journald"
        checkpoint = agent.metric("log_agent_input_report", input=name, key="checkpoint_bytes_total")
        writes = agent.metric("log_agent_input_report", input=name, key="checkpoint_writes_total")
    finally:
        agent.terminate(timeout=60)
        agent.cleanup()
    return figures("log-agent", count, elapsed, cpu, peak_rss, checkpoint, writes)


def fluent_bit_config(tmp: Path, sink: FluentBitSink, input_section: str, storage: str) -> Path:
    config = tmp / f"fluent-bit-{storage}.conf"
    service = ""
    if storage == "filesystem":
        service = f"    storage.path {tmp / 'storage'}\n    storage.sync full\n"
    config.write_text(f"""[SERVICE]
    flush        0.2
    log_level    error
{service}[INPUT]
{input_section}    storage.type {storage}
[OUTPUT]
    name                 forward
    match                *
    host                 127.0.0.1
    port                 {sink.port}
    require_ack_response true
    retain_metadata_in_forward_mode false
""")
    return config


def run_fluent_bit(binary: str, tmp: Path, sink: FluentBitSink, input_section: str, count: int,
                   storage: str) -> tuple[float, float, float, int]:
    config = fluent_bit_config(tmp, sink, input_section, storage)
    before = sink.records()
    started = time.monotonic()
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        handle = psutil.Process(process.pid)
        if not sink.wait_for_records(before + count, timeout=1800):
            raise TimeoutError(f"the sink got {sink.records() - before} of {count} from fluent-bit")
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # its last offset update
        cpu = tree_cpu_seconds(handle)
        peak_rss = status_kib(process.pid, "VmHWM") / 1024
        written = proc_io(process.pid)["write_bytes"]
    finally:
        process.terminate()
        process.wait(timeout=60)
    return elapsed, cpu, peak_rss, written


def figures(peer: str, count: int, elapsed: float, cpu: float, peak_rss: float, checkpoint_bytes: float,
            checkpoint_writes: float | None = None) -> dict[str, Any]:
    per_million = 1e6 / count
    return {"peer": peer, "lines": count, "seconds": round(elapsed, 2),
            "lines_per_second": round(count / elapsed),
            "cpu_seconds_per_million": round(cpu * per_million, 2),
            "peak_rss_mib": round(peak_rss, 1),
            "checkpoint_bytes_per_million": round(checkpoint_bytes * per_million),
            **({"checkpoint_writes": int(checkpoint_writes)} if checkpoint_writes is not None else {})}


def has_input(binary: str, name: str) -> bool:
    listing = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=30).stdout
    return any(line.split()[:1] == [name] for line in listing.splitlines())


def tail_scenario(binary: str, lines: int) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        source = tmp / "app.log"
        prepare_file(source, lines)
        with FluentBitSink(binary, tmp) as sink:
            wait_until_counting(sink)
            (tmp / "agent").mkdir()
            yaml = f"  - {{type: files, paths: '{source}', read_from: head}}\n"
            results.append({"scenario": "tail", **run_agent(tmp / "agent", sink, yaml, lines)})
            section = (f"    name tail\n    path {source}\n    read_from_head on\n    db {tmp / 'fb.db'}\n"
                       "    refresh_interval 1\n")
            elapsed, cpu, rss, _ = run_fluent_bit(binary, tmp, sink, section, lines, "filesystem")
            (tmp / "fb.db").unlink()
            section = section.replace("fb.db", "fb-memory.db")
            _, _, _, db_written = run_fluent_bit(binary, tmp, sink, section, lines, "memory")
            fluent_bit = figures("fluent-bit", lines, elapsed, cpu, rss, db_written)
            results.append({"scenario": "tail", **fluent_bit})
    return results


def journal_scenario(binary: str, entries: int) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp_name:
        tmp = Path(tmp_name)
        journal = tmp / "journal"
        prepare_journal(journal, entries)
        with FluentBitSink(binary, tmp) as sink:
            wait_until_counting(sink)
            (tmp / "agent").mkdir()
            yaml = f"  - {{type: journald, path: '{journal}', read_from: head}}\n"
            results.append({"scenario": "journal", **run_agent(tmp / "agent", sink, yaml, entries)})
            if has_input(binary, "systemd"):
                section = (f"    name systemd\n    path {journal}\n    read_from_tail off\n"
                           f"    db {tmp / 'fb-journal.db'}\n")
                elapsed, cpu, rss, _ = run_fluent_bit(binary, tmp, sink, section, entries, "filesystem")
                section = section.replace("fb-journal.db", "fb-journal-memory.db")
                _, _, _, db_written = run_fluent_bit(binary, tmp, sink, section, entries, "memory")
                fluent_bit = figures("fluent-bit", entries, elapsed, cpu, rss, db_written)
                results.append({"scenario": "journal", **fluent_bit})
            else:
                results.append({"scenario": "journal", "peer": "fluent-bit",
                                "missing": "this fluent-bit was built without the systemd input "
                                           "(libsystemd-dev was not installed when it was built)"})
    return results


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = (("lines_per_second", "lines/s"), ("cpu_seconds_per_million", "CPU-s per million lines"),
            ("checkpoint_bytes_per_million", "checkpoint bytes per million lines"))
    figure, axes = plt.subplots(1, len(keys), figsize=(13, 4))
    scenarios = list(dict.fromkeys(r["scenario"] for r in results))
    for axis, (key, title) in zip(axes, keys, strict=True):
        for offset, (peer, colour) in enumerate((("log-agent", "#3a7ca5"), ("fluent-bit", "#d9a441"))):
            values = [next((r.get(key, 0) for r in results if r["scenario"] == s and r["peer"] == peer), 0)
                      for s in scenarios]
            axis.bar([i + offset * 0.4 for i in range(len(scenarios))], values, 0.4, label=peer, color=colour)
        axis.set_xticks([i + 0.2 for i in range(len(scenarios))], scenarios)
        axis.set_title(title)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fluent-bit", required=True, help="fluent-bit binary built from its public source")
    parser.add_argument("--lines", type=int, default=500_000, help="lines of the tail scenario")
    args = parser.parse_args()
    results = tail_scenario(args.fluent_bit, args.lines) + journal_scenario(args.fluent_bit, args.lines // 2)
    for row in results:
        print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    document = {"machine": platform.platform(), "cpus": psutil.cpu_count(), "results": results}
    (RESULTS / "log_agent_inputs_bench.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(results, RESULTS / "log_agent_inputs_bench.png")


if __name__ == "__main__":
    main()
