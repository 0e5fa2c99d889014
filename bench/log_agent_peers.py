"""The processes the log-agent bench runs: the agent, Fluent Bit as the peer to compare with, and a
Fluent Bit sink (forward in -> null out) both relay into. Helpers read /proc for CPU, I/O and memory.

The sink is Fluent Bit rather than a Python receiver so the relay under test, not the receiver, is
the bottleneck on a 2-core machine; it counts records through its monitoring API.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil

from tests.log_agent.agent_process import AgentProcess, free_port, port_accepts, wait_for


def proc_io(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/io").read_text().splitlines()
    return {key: int(value) for key, value in (line.split(": ") for line in lines)}


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def tree_pss_mib(pid: int) -> float:
    """PSS of the process and all its descendants (sum of smaps_rollup Pss)."""
    pids = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    total = 0
    for each in pids:
        for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class FluentBitSink:
    """forward in (acks chunks) -> null out; ``records()`` is what its forward input received."""

    def __init__(self, binary: str, tmp: Path) -> None:
        self.port = free_port()
        self.http_port = free_port()
        self.config = tmp / "sink.conf"
        self.config.write_text(f"""[SERVICE]
    flush       0.2
    log_level   error
    http_server on
    http_listen 127.0.0.1
    http_port   {self.http_port}
[INPUT]
    name   forward
    listen 127.0.0.1
    port   {self.port}
    buffer_chunk_size 1M
    buffer_max_size   64M
[OUTPUT]
    name  null
    match *
""")
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FluentBitSink:
        self._process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: port_accepts(self.port) and port_accepts(self.http_port), timeout=20):
            raise TimeoutError("the fluent-bit sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)

    def records(self) -> int:
        url = f"http://127.0.0.1:{self.http_port}/api/v1/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
        return sum(item.get("records", 0) for item in document.get("input", {}).values())

    def wait_for_records(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.records() >= count:
                return True
            time.sleep(0.05)
        return False


class LogAgentPeer:
    """The real ``log-agent`` console script: Forward in, disk spool, Forward out with acks."""

    name = "log-agent"

    def __init__(self, tmp: Path, sink_port: int) -> None:
        config = tmp / "agent.yaml"
        # A spool as unbounded as Fluent Bit's filesystem buffer (no storage.total_limit_size): at the
        # default 64 MiB cap a 1M-event burst that outruns the relay would drop the oldest records.
        config.write_text("log_level: warning\nspool:\n  max_bytes: 2GiB\n")
        self._agent = AgentProcess(tmp, {"LOG_AGENT_CONFIG": str(config),
                                         "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{sink_port}"})
        self.forward_port = self._agent.forward_port
        self.spool_dir = tmp / "spool"

    def start(self) -> psutil.Process:
        self._agent.start()
        assert self._agent.process is not None
        return psutil.Process(self._agent.process.pid)

    def stop(self) -> None:
        self._agent.terminate(timeout=60)

    def cleanup(self) -> None:
        self._agent.cleanup()


class FluentBitPeer:
    """Fluent Bit built from its public source (never committed): forward in with the filesystem
    buffer (``storage.sync full``), forward out with ``require_ack_response``, in the classic event
    format (since 5.0.4 it sends [[time, metadata], record] by default)."""

    name = "fluent-bit"

    def __init__(self, binary: str, tmp: Path, sink_port: int) -> None:
        self.forward_port = free_port()
        self.config = tmp / "fluent-bit.conf"
        self.config.write_text(f"""[SERVICE]
    flush        0.2
    log_level    error
    storage.path {tmp / "storage"}
    storage.sync full
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
    port                 {sink_port}
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
        self._process.wait(timeout=60)

    def cleanup(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
