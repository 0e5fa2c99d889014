"""The compose files and the Dockerfiles agree with the services' own settings.

Every value the bundle gives a sidecar is one its own settings accept; what the images and the compose file
mount is where the services look; and each image's HEALTHCHECK is the service's own ``--healthcheck``, which
reads the same settings, so an address moved by the environment moves the check with it (tested here against
the real services).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_bundle import ROOT, dockerfile_instructions

BALENA = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
BIN = Path(sys.executable).parent
SCRIPTS = {"wifi-connect": "wifi-connect", "log-agent": "log-agent", "health": "health-reporter"}


def image_environment(service: str) -> dict[str, str]:
    """ENV of the image's final stage, then the compose file's environment over it."""
    instructions = dockerfile_instructions(ROOT / "services" / service / "Dockerfile")
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    env: dict[str, str] = {}
    for keyword, args in instructions[last_from:]:
        if keyword == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    env.update({key: str(value) for key, value in (BALENA[service].get("environment") or {}).items()})
    return env


def volume_targets(service: str) -> dict[str, str]:
    return {v.split(":")[1]: v.split(":")[0] for v in BALENA[service].get("volumes", [])}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_healthcheck(script: str, env: dict[str, str]) -> int:
    result = subprocess.run([str(BIN / script), "--healthcheck"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=30)
    return result.returncode


def wait_http(url: str, deadline: float) -> None:
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("service", sorted(SCRIPTS))
def test_every_image_checks_health_with_its_own_settings(service: str) -> None:
    instructions = dockerfile_instructions(ROOT / "services" / service / "Dockerfile")
    checks = [args for keyword, args in instructions if keyword == "HEALTHCHECK"]
    assert len(checks) == 1 and f'["{SCRIPTS[service]}", "--healthcheck"]' in checks[0], checks


@pytest.mark.parametrize("service", sorted(SCRIPTS))
def test_no_image_or_compose_value_opens_a_listener_beyond_loopback(service: str) -> None:
    for key, value in image_environment(service).items():
        if key.endswith(("_LISTEN", "_ADDRESS")) and not key.startswith("DBUS"):
            host = value.rpartition(":")[0].strip("[]")
            assert host in {"127.0.0.1", "::1", "localhost"} or value.startswith("unix:"), (key, value)
    assert "ports" not in BALENA[service], "host networking publishes nothing; ports would mislead"


def test_wifi_connect_accepts_the_bundle_settings() -> None:
    from wifi_connect.config import load_config

    env = image_environment("wifi-connect")
    config = load_config([], env)
    # io.balena.features.dbus mounts the host's /run/dbus under /host: that is where the bus address points
    assert env["DBUS_SYSTEM_BUS_ADDRESS"] == "unix:path=/host/run/dbus/system_bus_socket"
    assert config.control_address[0] == "127.0.0.1"


def test_log_agent_accepts_the_bundle_settings_and_spools_into_its_volume() -> None:
    from log_agent.config import AgentConfig

    env = image_environment("log-agent")
    config = AgentConfig.load({**env, "LOG_AGENT_JOURNALD": "off"}, None)
    assert volume_targets("log-agent").get(str(config.spool.dir)) == "log-agent-spool"
    assert config.http.listen.is_loopback()
    # io.balena.features.journal-logs mounts exactly where the journald input looks by default
    from log_agent.inputs.journal_config import DEFAULT_JOURNAL_DIRS

    assert set(DEFAULT_JOURNAL_DIRS) <= {"/var/log/journal", "/run/log/journal"}
    assert BALENA["log-agent"]["labels"]["io.balena.features.journal-logs"] == "1"


def test_health_accepts_the_bundle_settings_and_reads_only_its_volumes(tmp_path: Path) -> None:
    from health_reporter.config import Config

    env = image_environment("health")
    host_root = env["HOST_ROOT"]
    for target in volume_targets("health"):
        assert target.startswith(host_root + "/"), f"{target} is not under HOST_ROOT {host_root}"
        (tmp_path / target.removeprefix(host_root + "/")).mkdir(parents=True, exist_ok=True)
    config = Config.from_env({**env, "HOST_ROOT": str(tmp_path)})
    assert config.http.listen.is_loopback()
    assert not config.containers and not config.autoheal.enabled  # so no engine socket is mounted
    assert "io.balena.features.balena-socket" not in BALENA["health"].get("labels", {})


def test_log_agent_healthcheck_follows_its_http_address(tmp_path: Path) -> None:
    port = free_port()
    env = {"LOG_AGENT_HTTP_LISTEN": f"127.0.0.1:{port}", "LOG_AGENT_FORWARD_LISTEN": "127.0.0.1:0",
           "LOG_AGENT_SPOOL_DIR": str(tmp_path / "spool"), "LOG_AGENT_JOURNALD": "off",
           "LOG_AGENT_OUTPUT": "file://" + str(tmp_path / "out.jsonl")}
    agent = subprocess.Popen([str(BIN / "log-agent")], env={**os.environ, **env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", time.monotonic() + 20)
        assert run_healthcheck("log-agent", env) == 0
        assert run_healthcheck("log-agent", {**env, "LOG_AGENT_HTTP_LISTEN": f"127.0.0.1:{free_port()}"}) == 1
    finally:
        agent.terminate()
        agent.wait(timeout=20)


def test_health_reporter_healthcheck_follows_its_listen_address() -> None:
    port = free_port()
    env = {"HEALTH_LISTEN": f"127.0.0.1:{port}", "HEALTH_TELEMETRY": "off"}
    reporter = subprocess.Popen([str(BIN / "health-reporter")], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 30)
        assert run_healthcheck("health-reporter", env) == 0
        assert run_healthcheck("health-reporter", {**env, "HEALTH_LISTEN": f"127.0.0.1:{free_port()}"}) == 1
    finally:
        reporter.terminate()
        reporter.wait(timeout=20)


def test_wifi_connect_healthcheck_follows_its_control_address() -> None:
    """The daemon needs a NetworkManager; its control API's address is what the check must follow, so a
    stand-in answers /status there."""

    class Status(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/status" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        moved = {"CONTROL_ADDRESS": f"127.0.0.1:{server.server_port}"}
        assert run_healthcheck("wifi-connect", moved) == 0
        assert run_healthcheck("wifi-connect", {"CONTROL_ADDRESS": f"127.0.0.1:{free_port()}"}) == 1
    finally:
        server.shutdown()
        server.server_close()
