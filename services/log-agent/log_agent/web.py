"""/metrics and /health, served by gunicorn in a child process of the agent.

Why a child: the agent's threads do the fsyncs and sends; a scrape must never stall them, and a bug
in the HTTP stack must not take the spool down. The agent writes its metrics through
prometheus_client's multiprocess mode (mmap files in ``<run dir>/metrics``) and its health as a small
JSON file (``<run dir>/health.json``, rewritten every second); this app only reads both. The run dir
is a tmpfs (/run), so none of it wears the SD card.

    python -m log_agent.web --listen 127.0.0.1:24220 --run-dir /run/log-agent   (started by __main__)

The gunicorn master stops itself when the agent that started it dies, even by SIGKILL, so a restarted
agent finds its port free.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify
from gunicorn.app.base import BaseApplication
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

STALE_SECONDS = 10.0  # the agent rewrites health.json every second
HEALTH_FILE = "health.json"
METRICS_DIR = "metrics"
ADDRESS_FILE = "http.json"
# A client that sends half a request and then nothing would hold a gthread worker thread forever;
# kernel timeouts on the listening socket (inherited by accepted ones) end such a read with EAGAIN.
CLIENT_TIMEOUT_ENV = "LOG_AGENT_HTTP_CLIENT_TIMEOUT"
DEFAULT_CLIENT_TIMEOUT = 10.0


def create_app(run_dir: str) -> Flask:
    root = Path(run_dir)
    app = Flask(__name__)

    @app.get("/metrics")
    def metrics() -> Response:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(root / METRICS_DIR))
        current = _ConfiguredOutputs(registry, read_health(root / HEALTH_FILE))
        return Response(generate_latest(current), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/health")
    def health() -> tuple[Response, int]:
        document = read_health(root / HEALTH_FILE)
        return jsonify(document), 200 if document["status"] in ("ok", "degraded") else 503

    return app


def read_health(path: Path) -> dict[str, Any]:
    """The agent's health document; "down" when it is missing or the agent stopped updating it."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"status": "down", "reason": "the agent has not reported yet"}
    age = time.time() - float(document.get("updated", 0))
    if age > STALE_SECONDS:
        return {**document, "status": "down", "reason": f"no report from the agent for {age:.0f} s"}
    return document


class _ConfiguredOutputs:
    """The agent's metrics without the series of outputs a reload removed: the mmap files keep every
    series ever written, so a removed output would otherwise stay frozen (output_up 0 forever)."""

    def __init__(self, registry: CollectorRegistry, health: dict[str, Any]) -> None:
        self.registry = registry
        outputs = health.get("outputs")
        self.outputs = set(outputs) if isinstance(outputs, dict) else None  # None: not reported yet

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            if self.outputs is not None:
                metric.samples = [sample for sample in metric.samples
                                  if sample.labels.get("output", "") in self.outputs
                                  or "output" not in sample.labels]
            yield metric


def _client_timeout() -> bytes:
    try:
        seconds = float(os.environ.get(CLIENT_TIMEOUT_ENV, DEFAULT_CLIENT_TIMEOUT))
    except ValueError:
        print(f"{CLIENT_TIMEOUT_ENV}: not a number of seconds; using {DEFAULT_CLIENT_TIMEOUT:g}",
              file=sys.stderr)
        seconds = DEFAULT_CLIENT_TIMEOUT
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))  # struct timeval


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, listen: str, run_dir: Path) -> None:
        self.listen = listen
        self.run_dir = run_dir
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": [self.listen],
            "workers": 1,
            "threads": 2,
            "graceful_timeout": 2,
            "timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "when_ready": self._when_ready,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(str(self.run_dir))

    def _when_ready(self, server: Any) -> None:
        timeout = _client_timeout()
        for listener in server.LISTENERS:
            for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                listener.sock.setsockopt(socket.SOL_SOCKET, option, timeout)
        host, port = server.LISTENERS[0].sock.getsockname()[:2]
        (self.run_dir / ADDRESS_FILE).write_text(json.dumps({"host": host, "port": port}))
        _exit_with_parent(os.getppid())


def _exit_with_parent(parent: int) -> None:
    """SIGTERM this gunicorn master once the agent that started it is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="log-agent /metrics and /health (started by log-agent)")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--run-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    _Server(args.listen, args.run_dir).run()


if __name__ == "__main__":
    main()
