"""Autoheal against a fake engine API served over a real Unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from health_reporter.autoheal import Autoheal, EngineRestarter, opted_in
from health_reporter.config import AutohealConfig

from tests.health.helpers import snapshot, wait_until


class FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str) -> None:
        self.requests: list[str] = []
        self.inspected: list[str] = []
        self.status = 204
        self.labels: dict[str, dict[str, str]] = {}  # per container; absent: {"autoheal": "true"}
        super().__init__(path, _EngineHandler)


class _EngineHandler(BaseHTTPRequestHandler):
    server: FakeEngine

    def do_POST(self) -> None:
        self.server.requests.append(self.path)
        body = b"" if self.server.status == 204 else b'{"message":"engine says no"}'
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # GET /containers/<name>/json
        name = self.path.split("/")[2]
        self.server.inspected.append(name)
        labels = self.server.labels.get(name, {"autoheal": "true"})
        body = json.dumps({"Name": f"/{name}", "Config": {"Labels": labels}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[FakeEngine]:
    server = FakeEngine(str(tmp_path / "docker.sock"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_autoheal(engine: FakeEngine, clock: Clock, events: list[dict]) -> Autoheal:
    config = AutohealConfig(enabled=True, max_restarts=2, backoff_seconds=10, stop_timeout_seconds=3)
    return Autoheal(config, EngineRestarter(engine.server_address), events.append, clock=clock)


def test_restarts_with_backoff_then_gives_up_until_healthy_again(engine: FakeEngine) -> None:
    clock, events = Clock(), []
    autoheal = make_autoheal(engine, clock, events)
    sick = snapshot(unhealthy=("db",), healthy=("app",))

    autoheal.on_sample(sick)  # first restart at once
    wait_until(lambda: len(events) == 1, 10, "first restart")
    autoheal.on_sample(sick)  # within the back-off: nothing
    clock.now += 9.9
    autoheal.on_sample(sick)
    assert engine.requests == ["/containers/db/restart?t=3"]

    clock.now += 0.2
    autoheal.on_sample(sick)  # second restart after 10 s
    wait_until(lambda: len(events) == 2, 10, "second restart")
    clock.now += 20  # the next back-off is 20 s, but the limit (2) is reached
    autoheal.on_sample(sick)
    autoheal.on_sample(sick)
    assert [(e["event"], e.get("attempt"), e.get("result")) for e in events] == [
        ("autoheal_restart", 1, "restarted"),
        ("autoheal_restart", 2, "restarted"),
        ("autoheal_gave_up", None, None),
    ]
    assert len(engine.requests) == 2

    autoheal.on_sample(snapshot(healthy=("db", "app")))  # recovered: a fresh budget
    autoheal.on_sample(sick)
    wait_until(lambda: len(events) == 4, 10, "restart after recovery")
    assert engine.requests[-1] == "/containers/db/restart?t=3"
    samples = [(s.name, s.labels, s.value) for s in autoheal.samples()]
    assert samples == [("device_autoheal_restarts_total", (("name", "db"),), 3.0)]


def test_engine_refusal_is_an_event_not_a_crash(engine: FakeEngine) -> None:
    engine.status = 500
    clock, events = Clock(), []
    autoheal = make_autoheal(engine, clock, events)
    autoheal.on_sample(snapshot(unhealthy=("web",)))
    wait_until(lambda: len(events) == 1, 10, "failed restart event")
    assert events[0]["result"] == "failed" and "HTTP 500" in events[0]["error"]
    assert autoheal.samples() == []


def test_missing_socket_is_an_event(tmp_path: Path) -> None:
    events: list[dict] = []
    restarter = EngineRestarter(str(tmp_path / "none.sock"))
    autoheal = Autoheal(AutohealConfig(enabled=True), restarter, events.append)
    autoheal.on_sample(snapshot(unhealthy=("web",)))
    wait_until(lambda: len(events) == 1, 10, "failed restart event")
    assert events[0]["result"] == "failed" and "none.sock" in events[0]["error"]


def test_only_containers_opted_in_by_label_are_restarted(engine: FakeEngine) -> None:
    engine.labels = {"db": {}, "web": {"autoheal": "true"}}
    clock, events = Clock(), []
    autoheal = make_autoheal(engine, clock, events)
    autoheal.on_sample(snapshot(unhealthy=("db", "web"), healthy=()))
    wait_until(lambda: len(events) == 2, 10, "a skip and a restart")
    assert engine.requests == ["/containers/web/restart?t=3"]
    skipped = next(e for e in events if e["event"] == "autoheal_skipped")
    assert skipped["container"] == "db" and skipped["reason"] == "not labelled autoheal=true"
    autoheal.on_sample(snapshot(unhealthy=("db",), healthy=()))  # answer kept for the back-off: no re-ask
    assert engine.inspected.count("db") == 1 and len(events) == 2


@pytest.mark.parametrize(
    ("name", "labels", "key", "expected"),
    [
        ("db", {"autoheal": "true"}, "autoheal", True),
        ("db", {"autoheal": "TRUE"}, "autoheal", True),
        ("db", {}, "autoheal", False),
        ("db", {"autoheal": "true"}, "com.example.heal", False),
        ("db", {"com.example.heal": "true"}, "com.example.heal", True),
        ("db", {}, "all", True),
        ("db", {"autoheal": "false"}, "all", False),
        ("balena_supervisor", {}, "all", False),
        ("resin_supervisor", {}, "all", False),
        ("balena_supervisor", {"autoheal": "true"}, "autoheal", True),  # labelled: the user's choice
        ("log-agent_1", {"io.balena.service-name": "log-agent"}, "all", False),
        ("x-health-1", {"com.docker.compose.service": "health"}, "all", False),
        ("x-health-1", {"com.docker.compose.service": "health", "autoheal": "true"}, "all", True),
    ],
)
def test_opt_in_rules(name: str, labels: dict[str, str], key: str, expected: bool) -> None:
    assert opted_in(name, labels, key) is expected
