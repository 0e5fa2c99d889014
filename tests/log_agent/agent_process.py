"""Run the real ``log-agent`` console script as a child process, and a Forward load generator with acks.

    agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": "forward://127.0.0.1:1234"})
    agent.start()                     # waits until the Forward port accepts and /health answers
    agent.metric("log_agent_records_out_total", output="forward")
    agent.kill() / agent.terminate()  # SIGKILL / SIGTERM (returns the exit code)

``ChunkSender`` sends PackedForward frames with ``option.chunk`` and remembers which ids were acked;
a chunk without an ack is sent again (after reconnecting), as Fluent Bit and Fluentd do.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import requests
from prometheus_client.parser import text_string_to_metric_families

LOG_AGENT = str(Path(sys.executable).with_name("log-agent"))
_HTTP_ADDRESS = re.compile(r"serving /metrics and /health on (\S+:\d+)")


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def port_accepts(port: int) -> bool:
    """True once something listens on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AgentProcess:
    def __init__(self, tmp: Path, env: dict[str, str], forward_port: int | None = None) -> None:
        self.tmp = tmp
        self.forward_port = forward_port or free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LOG_AGENT_", "PROMETHEUS_"))},
            "LOG_AGENT_SPOOL_DIR": str(tmp / "spool"),
            "LOG_AGENT_FORWARD_LISTEN": f"127.0.0.1:{self.forward_port}",
            "LOG_AGENT_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.http_headers: dict[str, str] = {}  # e.g. the bearer token of an agent that requires one

    def start(self, timeout: float = 20.0) -> AgentProcess:
        self.starts += 1
        with (self.tmp / f"agent-{self.starts}.out").open("wb") as out, \
                (self.tmp / f"agent-{self.starts}.err").open("wb") as err:
            self.process = subprocess.Popen([LOG_AGENT], env=self.env, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"log-agent exited with {self.process.returncode}: {self.stderr()}")
            if port_accepts(self.forward_port) and self._http_answers():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"log-agent did not come up: {self.stderr()}")

    def _http_answers(self) -> bool:
        try:
            return requests.get(f"{self.http_url()}/health", headers=self.http_headers, timeout=1).ok
        except (OSError, ValueError, requests.RequestException):
            return False

    def http_url(self) -> str:
        """The configured address, or with port 0 the one the agent logged (at log level info)."""
        listen = self.env["LOG_AGENT_HTTP_LISTEN"]
        if not listen.endswith(":0") and not listen.startswith("unix:"):
            return f"http://{listen}"
        found = _HTTP_ADDRESS.findall(self.stderr())
        if not found:
            raise ValueError("the agent has not logged its HTTP address yet")
        return f"http://{found[-1]}"

    def stdout(self) -> str:
        return (self.tmp / f"agent-{self.starts}.out").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.tmp / f"agent-{self.starts}.err").read_text(errors="replace")

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.http_url()}/health", headers=self.http_headers, timeout=5).json()

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(f"{self.http_url()}/metrics", headers=self.http_headers, timeout=5).text
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def packed_forward(tag: str, ids: list[int], chunk: str, message: str = "event") -> bytes:
    """A PackedForward frame of one ``{"id", "msg"}`` record per id, asking for an ack of ``chunk``."""
    stream = b"".join(msgpack.packb([int(time.time()), {"id": i, "msg": f"{message} {i}"}]) for i in ids)
    return msgpack.packb([tag, stream, {"chunk": chunk, "size": len(ids)}], use_bin_type=True)


class ChunkSender:
    """Sends ``chunk_size`` ids per PackedForward frame until stopped; retries unacked chunks."""

    def __init__(self, port: int, chunk_size: int = 50, tag: str = "app.load") -> None:
        self.port = port
        self.chunk_size = chunk_size
        self.tag = tag
        self.acked: list[int] = []
        self.ack_times: list[tuple[float, int]] = []  # (monotonic time of the ack, records acked)
        self.resent_ids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._next_id = 0

    def start(self) -> ChunkSender:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    def acked_after(self, moment: float) -> int:
        return sum(count for when, count in self.ack_times if when > moment)

    def _run(self) -> None:
        conn: socket.socket | None = None
        while not self._stop.is_set():
            ids = list(range(self._next_id, self._next_id + self.chunk_size))
            self._next_id += self.chunk_size
            chunk = base64.b64encode(os.urandom(16)).decode()
            frame = packed_forward(self.tag, ids, chunk)
            attempts = 0
            while not self._stop.is_set():
                attempts += 1
                if attempts > 1:
                    self.resent_ids.update(ids)
                try:
                    conn = conn or socket.create_connection(("127.0.0.1", self.port), timeout=3)
                    conn.sendall(frame)
                    if await_ack(conn, chunk):
                        self.acked += ids
                        self.ack_times.append((time.monotonic(), len(ids)))
                        break
                except OSError:
                    pass
                with contextlib.suppress(OSError):
                    if conn is not None:
                        conn.close()
                conn = None
                self._stop.wait(0.05)
        if conn is not None:
            conn.close()


def await_ack(conn: socket.socket, chunk: str) -> bool:
    """Read until the server acks ``chunk`` (True) or closes (False); socket timeouts raise."""
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        data = conn.recv(4096)
        if not data:
            return False
        unpacker.feed(data)
        for message in unpacker:
            if isinstance(message, dict) and message.get("ack") == chunk:
                return True
