"""The device inputs inside the real log-agent process: journal -> output with the service name and
the device identity, restarts and SIGKILL, HTTP answers only after the spool, redaction before disk."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
import requests

from tests.log_agent.agent_process import AgentProcess, free_port, wait_for
from tests.log_agent.inputs.input_helpers import JOURNAL_REMOTE, container_entry, unit_entry, write_journal

needs_journal = pytest.mark.skipif(not (os.path.exists(JOURNAL_REMOTE) and shutil.which("journalctl")),
                                   reason="needs journalctl and systemd-journal-remote")


def output_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def messages(path: Path) -> list:
    return [item["record"].get("message") for item in output_records(path)]


def journalctl_running(journal: Path) -> bool:
    return any(str(journal) in " ".join(p.info["cmdline"] or ())
               for p in psutil.process_iter(["cmdline", "name"]) if p.info["name"] == "journalctl")


@pytest.fixture
def agent_factory(tmp_path: Path):
    agents: list[AgentProcess] = []

    def make(env: dict[str, str]) -> AgentProcess:
        agent = AgentProcess(tmp_path, {"LOG_AGENT_OUTPUT": f"file://{tmp_path / 'out.jsonl'}", **env})
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.cleanup()


@needs_journal
@pytest.mark.slow
def test_an_app_printing_to_stdout_reaches_the_output_with_service_and_device(
        tmp_path: Path, agent_factory) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    write_journal(journal / "system.journal", [unit_entry("before the agent started")])
    agent = agent_factory({"LOG_AGENT_JOURNAL_PATH": str(journal), "BALENA_DEVICE_UUID": "d3adb33f",
                           "BALENA_APP_NAME": "fleet-1"}).start()
    # read_from tail: the first start reads only what comes after it, from the cursor it saved
    assert wait_for((tmp_path / "spool" / "inputs" / "journald.json").exists, timeout=10), agent.stderr()
    write_journal(journal / "system.journal", [container_entry("GET / 200"),
                                               container_entry("oops", priority="3")], start=1)
    out = tmp_path / "out.jsonl"
    assert wait_for(lambda: len(output_records(out)) == 2, timeout=15), agent.stderr()
    first, second = (item["record"] for item in output_records(out))
    assert (first["message"], first["service"], first["stream"]) == ("GET / 200", "main", "stdout")
    assert (second["message"], second["stream"], second["level"]) == ("oops", "stderr", "error")
    assert first["device"]["uuid"] == "d3adb33f" and first["device"]["app_name"] == "fleet-1"
    assert output_records(out)[0]["tag"] == "journal"
    # SIGKILL, more lines while down, start again: nothing lost (the batch in flight when it was
    # killed may come again: at least once; a clean stop and start is exact, see test_journald_input).
    agent.kill()
    assert wait_for(lambda: not journalctl_running(journal), timeout=5)  # it dies with the agent
    write_journal(journal / "system.journal", [container_entry(f"while down {i}") for i in range(3)],
                  start=3)
    agent.start()
    expected = ["GET / 200", "oops", "while down 0", "while down 1", "while down 2"]
    assert wait_for(lambda: set(messages(out)) == set(expected), timeout=15), agent.stderr()
    assert list(dict.fromkeys(messages(out))) == expected  # in journal order
    assert "before the agent started" not in messages(out)


@pytest.mark.slow
def test_http_2xx_means_stored_even_when_killed_right_after(tmp_path: Path, agent_factory) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("inputs:\n  - {type: forward}\n  - {type: http}\n")
    agent = agent_factory({"LOG_AGENT_CONFIG": str(config),
                           # an output that never delivers: the records must come from the spool later
                           "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{free_port()}"})
    sent = []
    for round_number in range(3):
        agent.start()
        body = "\n".join(json.dumps({"message": f"r{round_number}-{i}"}) for i in range(20))
        answer = requests.post(f"{agent.http_url()}/logs/app", data=body, timeout=10)
        assert answer.status_code == 200, answer.text
        agent.kill()  # right after the 2xx
        sent += [f"r{round_number}-{i}" for i in range(20)]
    agent.env["LOG_AGENT_OUTPUT"] = f"file://{tmp_path / 'out.jsonl'}"
    agent.start()
    out = tmp_path / "out.jsonl"
    assert wait_for(lambda: set(messages(out)) >= set(sent), timeout=20), agent.stderr()
    assert {item["tag"] for item in output_records(out)} == {"app"}


@pytest.mark.slow
def test_a_redacted_secret_never_reaches_the_spool_file(tmp_path: Path, agent_factory) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "agent.yaml"
    config.write_text(
        "inputs:\n"
        "  - {type: forward}\n"
        f"  - type: files\n    paths: {logs}/*.log\n    read_from: head\n"
        "    processors:\n"
        "      - {type: redact, patterns: ['password=\\S+']}\n")
    (logs / "app.log").write_text("login user=ann password=hunter2-s3cr3t ok\n" * 50)
    agent = agent_factory({"LOG_AGENT_CONFIG": str(config),
                           "LOG_AGENT_OUTPUT": f"forward://127.0.0.1:{free_port()}"})  # never delivered
    agent.start()
    spool = tmp_path / "spool"

    def spool_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in spool.rglob("*") if p.is_file())

    assert wait_for(lambda: spool_bytes().count(b"[REDACTED]") >= 50, timeout=15), agent.stderr()
    agent.kill()
    assert b"hunter2" not in spool_bytes()
    assert b"login user=ann [REDACTED] ok" in spool_bytes()




@pytest.mark.slow
def test_input_counters_in_metrics_and_health(tmp_path: Path, agent_factory) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "agent.yaml"
    config.write_text(
        "inputs:\n"
        "  - {type: forward}\n"
        f"  - type: files\n    paths: {logs}/*.log\n    read_from: head\n"
        "    processors: [{type: grep, exclude: {message: noise}}]\n")
    (logs / "app.log").write_text("keep\nnoise\nkeep too\n")
    agent = agent_factory({"LOG_AGENT_CONFIG": str(config)}).start()
    spooled = lambda: agent.metric("log_agent_input_report", input="files", key="records_out_total")  # noqa: E731
    assert wait_for(lambda: spooled() == 2, timeout=10), agent.stderr()
    assert agent.metric("log_agent_processor_dropped_records_total", input="files", processor="grep.0",
                        reason="filtered") == 1
    files_health = agent.health()["inputs"]["files"]
    assert files_health["files_open"] == 1 and files_health["checkpoint_writes_total"] >= 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("logger") is None, reason="needs util-linux logger")
def test_syslog_from_logger_through_the_env_shortcut(tmp_path: Path, agent_factory) -> None:
    port = free_port()
    agent = agent_factory({"LOG_AGENT_SYSLOG_LISTEN": f"127.0.0.1:{port}"}).start()
    for transport in (["--udp"], ["--tcp", "--octet-count"]):
        subprocess.run(["logger", "--server", "127.0.0.1", "--port", str(port), *transport, "--rfc5424",
                        "--tag", "sensor", "-p", "daemon.err", f"reading failed {transport[-1]}"],
                       check=True, timeout=10)
    out = tmp_path / "out.jsonl"
    assert wait_for(lambda: len(output_records(out)) == 2, timeout=15), agent.stderr()
    records = sorted((item["record"] for item in output_records(out)), key=lambda r: r["message"])
    assert [r["message"] for r in records] == ["reading failed --octet-count", "reading failed --udp"]
    assert {(r["app"], r["facility"], r["level"]) for r in records} == {("sensor", "daemon", "error")}
    assert {item["tag"] for item in output_records(out)} == {"syslog"}


@needs_journal
@pytest.mark.slow
def test_reload_keeps_files_and_journal_positions(tmp_path: Path, agent_factory) -> None:
    logs, journal = tmp_path / "logs", tmp_path / "journal"
    logs.mkdir()
    journal.mkdir()
    write_journal(journal / "system.journal", [container_entry("j0")])
    config = tmp_path / "agent.yaml"
    config.write_text(
        "inputs:\n"
        "  - {type: forward}\n"
        f"  - {{type: files, paths: '{logs}/*.log', read_from: head}}\n"
        f"  - {{type: journald, path: '{journal}', read_from: head}}\n")
    agent = agent_factory({"LOG_AGENT_CONFIG": str(config)}).start()
    (logs / "app.log").write_text("f0\nf1\n")
    out = tmp_path / "out.jsonl"
    assert wait_for(lambda: len(output_records(out)) == 3, timeout=15), agent.stderr()
    agent.signal(signal.SIGHUP)
    with (logs / "app.log").open("a") as handle:
        handle.write("f2\n")
    write_journal(journal / "system.journal", [container_entry("j1")], start=1)
    assert wait_for(lambda: len(output_records(out)) >= 5, timeout=15), agent.stderr()
    assert not wait_for(lambda: len(output_records(out)) > 5, timeout=1.0)
    assert sorted(messages(out)) == ["f0", "f1", "f2", "j0", "j1"]
    assert "configuration reloaded" in agent.stderr()
