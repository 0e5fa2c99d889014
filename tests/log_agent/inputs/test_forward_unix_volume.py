"""Apps on a bridge network (balena's default) cannot reach the agent's 127.0.0.1: they share a named
volume with it and send to the Forward input's Unix socket in it. Here the volume is a directory, the
agent the real process and the app a separate process using fluent-logger's ``unix://`` host."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.log_agent.agent_process import AgentProcess, wait_for

_APP = """
import sys
from fluent import sender
logger = sender.FluentSender("app.web", host="unix://" + sys.argv[1])
for i in range(10):
    assert logger.emit("line", {"message": f"over the volume {i}"}), logger.last_error
logger.close()
"""


@pytest.mark.slow
def test_forward_over_a_unix_socket_in_a_shared_volume(tmp_path: Path) -> None:
    volume = tmp_path / "log-agent-socket"  # the named volume, mounted in both containers
    volume.mkdir()
    socket_path = volume / "forward.sock"
    config = tmp_path / "agent.yaml"
    config.write_text(f"inputs:\n  - type: forward\n    unix_path: {socket_path}\n    unix_mode: '0666'\n")
    out = tmp_path / "out.jsonl"
    agent = AgentProcess(tmp_path, {"LOG_AGENT_CONFIG": str(config), "LOG_AGENT_OUTPUT": f"file://{out}"})
    try:
        agent.start()
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o666  # apps run as any user
        subprocess.run([sys.executable, "-c", _APP, str(socket_path)], check=True, timeout=30)

        def received() -> list[dict]:
            return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []

        assert wait_for(lambda: len(received()) == 10, timeout=15), agent.stderr()
        expected = [f"over the volume {i}" for i in range(10)]
        assert [item["record"]["message"] for item in received()] == expected
        assert {item["tag"] for item in received()} == {"app.web.line"}  # fluent-logger: <prefix>.<label>
    finally:
        agent.cleanup()
