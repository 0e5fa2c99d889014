"""The device inputs in the agent's configuration: env shortcuts, defaults, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from log_agent.config import AgentConfig
from log_agent.errors import ConfigError
from log_agent.inputs import journal_config


@pytest.fixture
def journal_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the journal auto-detection at empty test directories (this machine's own do not count)."""
    root = tmp_path / "var-log-journal"
    root.mkdir()
    monkeypatch.setattr(journal_config, "DEFAULT_JOURNAL_DIRS", (str(root), str(tmp_path / "missing")))
    return root


def kinds(config: AgentConfig) -> list[str]:
    return [spec.kind for spec in config.inputs]


def error_key(document: dict, env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        AgentConfig.from_sources(document, env)
    return caught.value.key


def test_journald_is_on_by_default_only_when_a_journal_is_mounted(journal_dirs: Path) -> None:
    assert kinds(AgentConfig.from_sources({}, {})) == ["forward"]
    (journal_dirs / "0123abcd").mkdir()
    assert kinds(AgentConfig.from_sources({}, {})) == ["forward"]  # an empty directory is no journal
    (journal_dirs / "0123abcd" / "system.journal").write_bytes(b"")
    config = AgentConfig.from_sources({}, {"LOG_AGENT_SPOOL_DIR": "/data/spool"})
    assert kinds(config) == ["forward", "journald"]
    assert config.inputs[1].config.state_dir == "/data/spool/inputs"
    off = AgentConfig.from_sources({}, {"LOG_AGENT_JOURNALD": "off"})
    assert off.inputs[1].config.enabled is False


def test_env_shortcuts_add_their_inputs(tmp_path: Path, journal_dirs: Path) -> None:
    config = AgentConfig.from_sources({}, {
        "LOG_AGENT_TAIL": "/data/a/*.log, /var/log/app.log",
        "LOG_AGENT_SYSLOG_LISTEN": "127.0.0.1:5514",
        "LOG_AGENT_JOURNAL_PATH": str(tmp_path),
    })
    by_kind = {spec.kind: spec.config for spec in config.inputs}
    assert by_kind["files"].paths == ("/data/a/*.log", "/var/log/app.log")
    assert by_kind["syslog"].listen == ("127.0.0.1", 5514)
    assert by_kind["journald"].path == str(tmp_path) and by_kind["journald"].enabled


@pytest.mark.parametrize("env, key", [
    ({"LOG_AGENT_SYSLOG_LISTEN": "0.0.0.0:514"}, "LOG_AGENT_SYSLOG_LISTEN"),
    ({"LOG_AGENT_SYSLOG_LISTEN": "514"}, "LOG_AGENT_SYSLOG_LISTEN"),
    ({"LOG_AGENT_TAIL": "relative/*.log"}, "LOG_AGENT_TAIL"),
    ({"LOG_AGENT_JOURNAL_PATH": "/no/such/journal"}, "LOG_AGENT_JOURNAL_PATH"),
    ({"LOG_AGENT_JOURNALD": "maybe"}, "LOG_AGENT_JOURNALD"),
    ({"LOG_AGENT_JOURNALD": "on"}, "LOG_AGENT_JOURNALD"),  # on, but no journal mounted
])
def test_bad_settings_name_the_variable(journal_dirs: Path, env: dict[str, str], key: str) -> None:
    assert error_key({}, env) == key


@pytest.mark.parametrize("document, key", [
    ({"inputs": [{"type": "files"}]}, "inputs[0].paths"),
    ({"inputs": [{"type": "files", "paths": "/a.log", "multiline_start": "("}]}, "inputs[0].multiline_start"),
    ({"inputs": [{"type": "syslog", "processors": [{"type": "nope"}]}]}, "inputs[0].processors[0].type"),
    ({"inputs": [{"type": "http", "path": "/health"}]}, "inputs[0].path"),
    ({"inputs": [{"type": "journald", "path": "/x", "read_from": "middle"}]}, "inputs[0].read_from"),
    ({"inputs": [{"type": "journald", "path": "/", "journalctl": "/no/journalctl"}]}, "inputs[0].journalctl"),
])
def test_yaml_errors_name_the_item(journal_dirs: Path, document: dict, key: str) -> None:
    assert error_key(document, {}) == key


def test_an_explicit_state_dir_is_kept(journal_dirs: Path) -> None:
    document = {"inputs": [{"type": "files", "paths": "/a.log", "state_dir": "/s"}]}
    config = AgentConfig.from_sources(document, {})
    assert config.inputs[0].config.state_dir == "/s"
