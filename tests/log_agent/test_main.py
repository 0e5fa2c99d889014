"""The ``log-agent`` console script as a process: config errors, the stdout default, SIGHUP, SIGTERM,
/metrics (checked by the real promtool) and /health."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from fluent import sender

from tests.log_agent.agent_process import (
    LOG_AGENT,
    AgentProcess,
    ChunkSender,
    free_port,
    packed_forward,
    port_accepts,
    wait_for,
)
from tests.log_agent.forward_receiver import ForwardReceiver


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.cleanup()



@pytest.mark.parametrize(("env", "key"), [
    ({"LOG_AGENT_SPOOL_MAX_BYTES": "lots"}, "LOG_AGENT_SPOOL_MAX_BYTES"),
    ({"LOG_AGENT_OUTPUT": "ftp://example"}, "LOG_AGENT_OUTPUT[0].url"),
    ({"LOG_AGENT_OUTPUT": "http://u:pw@[::1/x"}, "LOG_AGENT_OUTPUT[0].url"),
    ({"LOG_AGENT_FORWARD_LISTEN": "nowhere"}, "LOG_AGENT_FORWARD_LISTEN"),
    ({"LOG_AGENT_HTTP_LISTEN": "0.0.0.0:0"}, "http.bearer_token"),  # reachable from other hosts: auth
    ({"LOG_AGENT_FORWARD_LISTEN": "0.0.0.0:0"}, "LOG_AGENT_FORWARD_LISTEN"),  # idem: key or client certs
    ({"LOG_AGENT_HTTP_LISTEN": "unix:relative.sock"}, "LOG_AGENT_HTTP_LISTEN"),
])
def test_invalid_configuration_exits_2_naming_the_key(tmp_path: Path, env: dict[str, str], key: str) -> None:
    agent = AgentProcess(tmp_path, env)
    result = subprocess.run([LOG_AGENT], env=agent.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_http_port_exits_1_naming_the_variable(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        agent = AgentProcess(tmp_path, {"LOG_AGENT_HTTP_LISTEN": f"127.0.0.1:{port}"})
        result = subprocess.run([LOG_AGENT], env=agent.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert f"LOG_AGENT_HTTP_LISTEN (http.listen): cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "spool").exists()  # checked before the spool is opened


def test_yaml_error_names_the_key_and_check_config(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("spool:\n  when_full: explode\n")
    agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config)})
    result = subprocess.run([LOG_AGENT, "--check-config"], env=agent.env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "spool.when_full" in result.stderr
    config.write_text("spool:\n  when_full: block\n")
    result = subprocess.run([LOG_AGENT, "--check-config"], env=agent.env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr


def test_default_is_stdout_and_sigterm_flushes_and_exits_0(tmp_path: Path,
                                                          agents: list[AgentProcess]) -> None:
    agent = AgentProcess(tmp_path, {"BALENA_DEVICE_UUID": "dev-123"})
    agents.append(agent)
    agent.start()
    client = sender.FluentSender("app", host="127.0.0.1", port=agent.forward_port)
    for i in range(20):
        assert client.emit("web", {"id": i})
    client.close()
    assert wait_for(lambda: agent.stdout().count("\n") >= 20, timeout=10)
    assert agent.terminate() == 0
    lines = [json.loads(line) for line in agent.stdout().splitlines()]
    assert [line["record"]["id"] for line in lines] == list(range(20))
    assert lines[0]["tag"] == "app.web"
    assert lines[0]["record"]["device"]["uuid"] == "dev-123"
    assert "log-agent stopped" in agent.stderr()


def test_metrics_pass_promtool_and_health_reports_outputs(tmp_path: Path, agents: list[AgentProcess]) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("retry:\n  flush_timeout: 1s\n")  # the output stays down: do not wait 10 s at exit
    agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": "forward://user:s3cret@127.0.0.1:9?ack_timeout=1",
                                    "LOG_AGENT_CONFIG": str(config)})
    agents.append(agent)
    agent.start()
    client = sender.FluentSender("app", host="127.0.0.1", port=agent.forward_port)
    assert client.emit("web", {"id": 1})
    client.close()
    assert wait_for(lambda: agent.metric("log_agent_output_errors_total", output="forward") >= 1, timeout=15)
    text = requests.get(f"{agent.http_url()}/metrics", timeout=5).text
    for name in ("log_agent_records_in_total", "log_agent_spool_bytes", "log_agent_backlog_bytes",
                 "log_agent_backlog_records",
                 "log_agent_ack_latency_seconds_bucket", "log_agent_oldest_unsent_age_seconds"):
        assert name in text
    if shutil.which("promtool"):
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                              timeout=30)
        assert "error" not in (lint.stdout + lint.stderr).lower(), lint.stdout + lint.stderr
    assert wait_for(lambda: agent.health()["outputs"]["forward"]["state"] == "retrying", timeout=10)
    health = agent.health()
    assert health["status"] == "degraded"
    assert health["outputs"]["forward"]["backlog_bytes"] > 0
    assert health["outputs"]["forward"]["backlog_records"] == 1  # the one record nobody could take
    assert wait_for(lambda: agent.metric("log_agent_backlog_records", output="forward") == 1, timeout=5)
    assert health["inputs"]["forward"]["address"][1] == agent.forward_port
    assert "s3cret" not in json.dumps(health) and "s3cret" not in text and "s3cret" not in agent.stderr()
    started = time.monotonic()
    assert agent.terminate() == 0
    assert time.monotonic() - started < 5  # the flush deadline holds although nothing can be sent


def test_health_is_starting_then_built_per_request_then_down_when_it_cannot_be_built() -> None:
    import bottle
    from log_agent.web import create_app
    from prometheus_client import CollectorRegistry

    source: list = [None]

    def health() -> dict | None:
        if isinstance(source[0], Exception):
            raise source[0]
        return source[0]

    app = create_app(health, CollectorRegistry())
    assert isinstance(app, bottle.Bottle)

    def get(path: str) -> tuple[str, bytes]:
        status: list[str] = []
        body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": None},
                            lambda code, headers, exc_info=None: status.append(code)))
        return status[0], body

    assert get("/health") == ("503 Service Unavailable", b'{"status": "starting"}')
    source[0] = {"status": "degraded"}
    assert get("/health")[0] == "200 OK"
    source[0] = {"status": "stopping"}
    assert get("/health")[0].startswith("503")
    source[0] = OSError("spool gone")
    code, body = get("/health")
    assert code.startswith("503") and json.loads(body)["status"] == "down"
    assert get("/metrics")[0] == "200 OK"  # the exposition does not depend on the health document


def test_one_process_and_a_restart_after_kill_9_listens_again_at_once(tmp_path: Path,
                                                                      agents: list[AgentProcess]) -> None:
    http_port = free_port()
    agent = AgentProcess(tmp_path, {"LOG_AGENT_HTTP_LISTEN": f"127.0.0.1:{http_port}"})
    agents.append(agent)
    agent.start()
    assert agent.process is not None
    assert psutil.Process(agent.process.pid).children(recursive=True) == []  # no HTTP child
    # a scraper and a Forward client mid-connection: their sockets outlive the process in TIME_WAIT
    with socket.create_connection(("127.0.0.1", http_port)) as scraper, \
            socket.create_connection(("127.0.0.1", agent.forward_port)) as client:
        scraper.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        client.sendall(packed_forward("app.web", [1, 2], "AAAAAAAAAAAAAAAAAAAAAA=="))
        time.sleep(0.2)
        agent.kill()
    started = time.monotonic()
    agent.process = subprocess.Popen([LOG_AGENT], env=agent.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
    assert wait_for(lambda: _answers(f"http://127.0.0.1:{http_port}"), timeout=2.0)
    assert wait_for(lambda: port_accepts(agent.forward_port), timeout=2.0 - (time.monotonic() - started))
    assert time.monotonic() - started < 2.0
    assert requests.get(f"http://127.0.0.1:{http_port}/health", timeout=5).status_code == 200
    assert agent.terminate() == 0


def _answers(url: str) -> bool:
    try:
        requests.get(f"{url}/health", timeout=1)
    except requests.RequestException:
        return False
    return True


def test_a_reload_warns_about_spool_settings_it_leaves_for_the_next_start(
        tmp_path: Path, agents: list[AgentProcess]) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("spool:\n  max_bytes: 8MiB\n")
    agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config)})
    agents.append(agent)
    agent.start()
    config.write_text("spool:\n  max_bytes: 4MiB\n  fsync: always\nlog_level: debug\n")
    warning = "reload: spool.max_bytes, spool.fsync change only at the next start"
    for reloads in (1, 2):  # still announced on the next reload: the running spool kept its settings
        agent.signal(signal.SIGHUP)
        assert wait_for(lambda n=reloads: agent.stderr().count("configuration reloaded") == n, timeout=10)
        assert agent.stderr().count(warning) == reloads
    assert agent.health()["spool"]["max_bytes"] == 8 * 1024 * 1024
    assert agent.terminate() == 0


@pytest.mark.slow
def test_sighup_reload_mid_stream_loses_and_duplicates_nothing(tmp_path: Path,
                                                              agents: list[AgentProcess]) -> None:
    with ForwardReceiver() as receiver:
        config = tmp_path / "agent.yaml"
        output = f"outputs:\n  - name: central\n    url: forward://127.0.0.1:{receiver.port}\n"
        config.write_text(output + "retry:\n  batch_records: 100\n")
        agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config)})
        agents.append(agent)
        agent.start()
        load = ChunkSender(agent.forward_port, chunk_size=20).start()
        try:
            time.sleep(0.8)
            config.write_text(output + "    gzip: true\nretry:\n  batch_records: 37\n")
            agent.signal(signal.SIGHUP)
            assert wait_for(lambda: "configuration reloaded" in agent.stderr(), timeout=10)
            time.sleep(0.8)
            config.write_text(output + "    bogus: 1\n")
            agent.signal(signal.SIGHUP)
            assert wait_for(lambda: "reload refused" in agent.stderr(), timeout=10)
            assert "outputs[0].bogus" in agent.stderr()
            time.sleep(0.5)
        finally:
            load.stop()
        acked = set(load.acked)
        assert len(acked) > 200
        assert wait_for(lambda: acked <= {r["id"] for r in receiver.records()}, timeout=20)
        assert wait_for(lambda: agent.metric("log_agent_backlog_bytes", output="central") == 0, timeout=10)
        assert agent.metric("log_agent_backlog_records", output="central") == 0
        counts = Counter(r["id"] for r in receiver.records())
        # A chunk in flight during a reload still gets its ack; one the input had not read yet is
        # resent by the client but was never stored: nothing arrives twice.
        assert {i for i, n in counts.items() if n > 1} == set()
        assert any(option.get("compressed") == "gzip" for option in receiver.options)  # the reload took
        assert receiver.violations == []
        assert agent.process is not None and agent.process.poll() is None  # a bad reload keeps it running
        assert agent.terminate() == 0


def test_stalled_http_clients_cannot_take_metrics_and_health_offline(tmp_path: Path,
                                                                     agents: list[AgentProcess]) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("http:\n  header_timeout: 2s\n")
    agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config)})
    agents.append(agent)
    agent.start()
    host_port = agent.http_url().removeprefix("http://")
    host, port = host_port.rsplit(":", 1)
    stalled = [socket.create_connection((host, int(port)), timeout=5) for _ in range(3)]  # threads + 1
    try:
        for conn in stalled:
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and then nothing
        started = time.monotonic()
        assert requests.get(f"{agent.http_url()}/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 6  # the 2 s timeout freed the threads
    finally:
        for conn in stalled:
            conn.close()


def test_a_bearer_token_guards_every_route_and_opens_a_non_loopback_listener(
        tmp_path: Path, agents: list[AgentProcess]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-t0ken\n")
    agent = AgentProcess(tmp_path, {"LOG_AGENT_HTTP_LISTEN": "0.0.0.0:0",
                                    "LOG_AGENT_HTTP_TOKEN_FILE": str(token_file)})
    agent.http_headers = {"Authorization": "Bearer s3cret-t0ken"}
    agents.append(agent)
    agent.start()
    url = agent.http_url().replace("0.0.0.0", "127.0.0.1")
    for path in ("/health", "/metrics", "/logs/app"):
        refused = requests.get(f"{url}{path}", timeout=5)
        assert refused.status_code == 401 and "Bearer" in refused.headers["WWW-Authenticate"]
        wrong = requests.get(f"{url}{path}", headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
    assert requests.get(f"{url}/metrics", headers=agent.http_headers, timeout=5).status_code == 200
    assert agent.terminate() == 0
    assert "s3cret-t0ken" not in agent.stderr()


def test_an_unreadable_token_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, {"LOG_AGENT_HTTP_TOKEN_FILE": str(tmp_path / "missing")})
    result = subprocess.run([LOG_AGENT], env=agent.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "LOG_AGENT_HTTP_TOKEN_FILE" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_reload_moves_the_http_listener(tmp_path: Path, agents: list[AgentProcess]) -> None:
    first, second = free_port(), free_port()
    config = tmp_path / "agent.yaml"
    config.write_text(f"http:\n  listen: 127.0.0.1:{first}\n")
    agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config), "LOG_AGENT_HTTP_LISTEN": ""})
    agents.append(agent)
    agent.process = subprocess.Popen([LOG_AGENT], env=agent.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
    assert wait_for(lambda: _answers(f"http://127.0.0.1:{first}"), timeout=20)
    config.write_text(f"http:\n  listen: 127.0.0.1:{second}\n")
    agent.signal(signal.SIGHUP)
    assert wait_for(lambda: _answers(f"http://127.0.0.1:{second}"), timeout=10)
    assert not _answers(f"http://127.0.0.1:{first}")
    assert requests.get(f"http://127.0.0.1:{second}/health", timeout=5).json()["status"] == "ok"
    assert agent.terminate() == 0
