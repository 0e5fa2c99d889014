"""The real ``log-agent`` process, configured by YAML, fed by the real fluent-logger client: records are
enriched with the device identity, routed by tag, and shipped to local Loki and Elasticsearch stand-ins
and a file; a document Elasticsearch rejects lands in the dead letter; the bearer token is never logged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fluent import sender

from tests.log_agent.agent_process import AgentProcess
from tests.log_agent.http_receiver import HttpReceiver, bulk_reply_by

TOKEN = "tok-e2e-secret"
IDENTITY_ENV = {"BALENA_DEVICE_UUID": "dev-42", "BALENA_SERVICE_NAME": "sensor", "BALENA_APP_NAME": "farm"}


def wait_until(predicate: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s}s")


def config_yaml(tmp_path: Path, loki: HttpReceiver, search: HttpReceiver) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"""
retry: {{initial_backoff: 100ms, max_backoff: 1s}}
outputs:
  - name: loki
    url: loki+{loki.url}?tenant_id=fleet
    match: app.**
    bearer_token: {TOKEN}
  - name: search
    url: es+{search.url}/device-logs
    match: telemetry.*
  - name: archive
    url: file://{tmp_path}/archive.jsonl
"""
    )
    return path


def archived(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "archive.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_agent_enriches_routes_and_ships_to_every_output(tmp_path: Path) -> None:
    with HttpReceiver() as loki, HttpReceiver() as search:
        search.default = bulk_reply_by(lambda _i, doc, _n: 400 if doc.get("celsius") == "hot" else 201)
        env = {"LOG_AGENT_CONFIG": str(config_yaml(tmp_path, loki, search)), **IDENTITY_ENV}
        agent = AgentProcess(tmp_path, env)
        try:
            agent.start()
            for tag, record in [("app", {"message": "hello"}), ("telemetry", {"celsius": 21})]:
                with sender.FluentSender(tag, host="127.0.0.1", port=agent.forward_port) as client:
                    client.emit("web" if tag == "app" else "temp", record)
            with sender.FluentSender("telemetry", host="127.0.0.1", port=agent.forward_port) as client:
                client.emit("temp", {"celsius": "hot"})

            wait_until(lambda: len(archived(tmp_path)) == 3)
            pushes = wait_until(lambda: loki.requests)
            wait_until(lambda: sum(len(r.ndjson()) // 2 for r in search.requests) == 2)
            dead_letter = tmp_path / "spool" / "dead-letter.jsonl"
            wait_until(lambda: dead_letter.exists() and "hot" in dead_letter.read_text())
        finally:
            agent.cleanup()

    device = {"uuid": "dev-42", "app_name": "farm"}
    push = pushes[0]
    assert push.header("X-Scope-OrgID") == "fleet"
    assert push.header("Authorization") == f"Bearer {TOKEN}"
    (stream,) = push.json()["streams"]
    assert stream["stream"] == {"job": "log-agent", "tag": "app.web", "device": "dev-42"}
    line = json.loads(stream["values"][0][1])
    assert line["message"] == "hello" and line["device"].items() >= device.items()
    assert "service" not in line["device"]  # BALENA_SERVICE_NAME (the agent's own) is not copied

    documents = [doc for request in search.requests for doc in request.ndjson()[1::2]]
    assert sorted(str(doc["celsius"]) for doc in documents) == ["21", "hot"]
    assert all(doc["tag"] == "telemetry.temp" and doc["device"]["uuid"] == "dev-42" for doc in documents)

    assert sorted(entry["tag"] for entry in archived(tmp_path)) == [
        "app.web",
        "telemetry.temp",
        "telemetry.temp",
    ]
    assert TOKEN not in agent.stderr() + agent.stdout()
