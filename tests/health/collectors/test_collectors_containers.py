"""The containers collector against a small engine-API-like HTTP server on a Unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from health_collector_testing import by_name
from health_reporter.collectors.containers import ContainersCollector, ContainersOptions
from health_reporter.collectors.engine_api import EngineError
from health_reporter.config import Config

# Shapes as GET /containers/json?all=1 answers them (trimmed to the fields the collector reads).
CONTAINERS = [
    {"Id": "a" * 64, "Names": ["/app"], "State": "running", "Status": "Up 3 hours (healthy)"},
    {"Id": "b" * 64, "Names": ["/worker"], "State": "running", "Status": "Up 10 minutes (unhealthy)"},
    {"Id": "c" * 64, "Names": ["/migrate"], "State": "exited", "Status": "Exited (0) 3 hours ago"},
    {"Id": "d" * 64, "Names": ["/cache"], "State": "running", "Status": "Up 2 seconds (health: starting)"},
    {
        "Id": "e" * 64,
        "Names": ["/api"],
        "State": "running",
        "Status": "Up",
        "Health": {"Status": "unhealthy"},
    },
]


class EngineHandler(BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, json.dumps(CONTAINERS).encode())
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        status, body = self.answer if self.path == "/containers/json?all=1" else (404, b'{"message":"no"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:  # a Unix socket peer has no host/port
        return "unix"

    def log_message(self, format, *args) -> None:
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[str, type[EngineHandler]]]:
    socket_path = str(tmp_path / "docker.sock")
    handler = type("Handler", (EngineHandler,), {"requests": []})
    server = UnixHTTPServer(socket_path, handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield socket_path, handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_states_and_health(engine):
    socket_path, handler = engine
    samples = ContainersCollector(None, ContainersOptions(socket=socket_path)).collect()
    states = {
        dict(labels)["name"]: dict(labels)["state"]
        for labels in by_name(samples, "device_container_state_info")
    }
    assert states == {
        "app": "running",
        "worker": "running",
        "migrate": "exited",
        "cache": "running",
        "api": "running",
    }
    assert by_name(samples, "device_container_healthy") == {
        (("name", "app"),): 1,
        (("name", "worker"),): 0,
        (("name", "api"),): 0,
    }  # no sample for migrate (no healthcheck) nor cache (starting)
    assert handler.requests == ["/containers/json?all=1"]


def test_engine_error_fails_the_collector(engine):
    socket_path, handler = engine
    handler.answer = (500, b'{"message":"engine broke"}')
    with pytest.raises(EngineError, match="HTTP 500"):
        ContainersCollector(None, ContainersOptions(socket=socket_path)).collect()


def test_no_socket_means_disabled(tmp_path):
    assert ContainersCollector(None, ContainersOptions(socket=str(tmp_path / "absent.sock"))).collect() == []


def test_refused_socket_fails_the_collector(tmp_path):
    stale = tmp_path / "stale.sock"
    server = socketserver.UnixStreamServer(str(stale), BaseHTTPRequestHandler)
    server.server_close()  # the socket file stays, nobody listens: connection refused
    with pytest.raises(EngineError, match=r"stale\.sock"):
        ContainersCollector(None, ContainersOptions(socket=str(stale), timeout=1)).collect()


def test_the_engine_socket_is_resolved_only_while_container_health_is_on():
    off = Config.from_env({"DOCKER_HOST": "unix:///var/run/balena.sock"})
    assert not off.containers and off.engine_socket == "" and "containers" in off.disabled_collectors
    on = Config.from_env({"DOCKER_HOST": "unix:///var/run/balena.sock", "HEALTH_CONTAINERS": "on"})
    assert on.engine_socket == "/var/run/balena.sock" and "containers" not in on.disabled_collectors
    assert on.options_for_collectors()["containers"] == {"socket": "/var/run/balena.sock"}
    autoheal = Config.from_env({"DOCKER_HOST": "unix:///run/docker.sock", "HEALTH_AUTOHEAL": "on"})
    assert autoheal.containers and autoheal.engine_socket == "/run/docker.sock"
