"""AgentConfig.load: env for the common case, YAML for the rest, every error naming its key.

(Named test_agent_config.py, not test_config.py: test basenames must be unique across tests/.)
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from log_agent.config import AgentConfig
from log_agent.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "services" / "log-agent" / "log-agent.example.yaml"


def write_yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return str(path)


def load_error(env: dict[str, str], yaml_path: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        AgentConfig.load(env, yaml_path)
    return caught.value


def test_defaults_without_env_or_yaml_ship_to_stdout() -> None:
    config = AgentConfig.load({})
    assert [(s.name, s.kind, s.match) for s in config.outputs] == [("stdout", "stdout", ("**",))]
    assert str(config.http.listen) == "127.0.0.1:24220"
    assert config.forward.listen == ("127.0.0.1", 24224)
    assert config.spool.dir == "/var/lib/log-agent"
    assert config.log_level == "info"


def test_env_covers_the_common_case() -> None:
    env = {
        "LOG_AGENT_FORWARD_LISTEN": "127.0.0.1:0",
        "LOG_AGENT_SPOOL_DIR": "/data/spool",
        "LOG_AGENT_SPOOL_MAX_BYTES": "8MiB",
        "LOG_AGENT_HTTP_LISTEN": "[::1]:9100",
        "LOG_AGENT_LOG_LEVEL": "DEBUG",
        "LOG_AGENT_OUTPUT": "loki+http://loki:3100, http://a/x,http://b/y ,stdout:",
    }
    config = AgentConfig.load(env)
    assert config.forward.listen == ("127.0.0.1", 0)
    assert (config.spool.dir, config.spool.max_bytes) == ("/data/spool", 8 * 1024 * 1024)
    assert str(config.http.listen) == "[::1]:9100"
    assert config.log_level == "debug"
    assert [(s.name, s.kind) for s in config.outputs] == [
        ("loki", "loki"),
        ("http", "http"),
        ("http-2", "http"),
        ("stdout", "stdout"),
    ]


def test_empty_env_values_count_as_unset() -> None:
    config = AgentConfig.load(
        {"LOG_AGENT_OUTPUT": "", "LOG_AGENT_SPOOL_MAX_BYTES": "", "LOG_AGENT_CONFIG": ""}
    )
    assert config.outputs[0].kind == "stdout"


def test_the_documented_example_loads() -> None:
    config = AgentConfig.load({"LOG_AGENT_CONFIG": str(EXAMPLE)})
    assert [(s.name, s.kind) for s in config.outputs] == [
        ("cloud-loki", "loki"),
        ("analytics", "elasticsearch"),
        ("webhook", "http"),
        ("upstream", "forward"),
        ("local-archive", "file"),
        ("console", "stdout"),
    ]
    loki = config.outputs[0].config
    assert (loki.tenant_id, loki.gzip, loki.url) == ("fleet-a", True, "https://logs.example.com")
    assert config.outputs[1].config.index == "device-logs"
    assert config.outputs[4].config.max_bytes == 8 * 1024 * 1024
    assert config.spool.max_bytes == 64 * 1024 * 1024
    assert config.retry.initial_backoff == 0.5
    assert config.identity.fields == {"site": "greenhouse-3"}
    router = config.router()
    assert router.outputs_for("app.web") == ("cloud-loki", "local-archive")
    assert router.outputs_for("telemetry.temp") == ("analytics", "local-archive")
    assert router.outputs_for("debug.x") == ("local-archive", "console")


def test_env_overrides_yaml(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "spool: {dir: /from/yaml, max_bytes: 2MiB}\nhttp_listen: '0.0.0.0:1'\n")
    config = AgentConfig.load(
        {"LOG_AGENT_SPOOL_DIR": "/from/env", "LOG_AGENT_HTTP_LISTEN": "127.0.0.1:2"}, path
    )
    assert (config.spool.dir, config.spool.max_bytes) == ("/from/env", 2 * 1024 * 1024)
    assert str(config.http.listen) == "127.0.0.1:2"


def test_env_output_replaces_yaml_outputs(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "outputs:\n  - {kind: file, path: /tmp/a.jsonl}\n")
    config = AgentConfig.load({"LOG_AGENT_CONFIG": path, "LOG_AGENT_OUTPUT": "stdout:"})
    assert [s.kind for s in config.outputs] == ["stdout"]


def test_outputs_build_and_route_with_their_names(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path, f"outputs:\n  - {{name: archive, url: 'file://{tmp_path}/x.jsonl', match: a.*}}\n"
    )
    spec = AgentConfig.load({}, path).outputs[0]
    output = spec.build()
    assert (output.name, spec.match) == ("archive", ("a.*",))
    output.close()


@pytest.mark.parametrize(
    ("yaml_text", "key", "message"),
    [
        ("colour: red\n", "colour", "unknown key"),
        ("outputs:\n  - url: ftp://host/x\n", "outputs[0].url", "unsupported scheme 'ftp'"),
        (
            "outputs:\n  - url: 'stdout:'\n  - url: 'http://h'\n    colour: red\n",
            "outputs[1].colour",
            "unknown key",
        ),
        ("outputs:\n  - url: http://h\n    timeout_s: soon\n", "outputs[0].timeout_s", "expected a number"),
        ("outputs:\n  - kind: file\n", "outputs[0].path", "required"),
        ("outputs:\n  - kind: kafka\n", "outputs[0].kind", "unknown output kind 'kafka'"),
        ("outputs:\n  - {match: a}\n", "outputs[0]", "needs url or kind"),
        ("outputs:\n  - {url: 'http://h', kind: loki}\n", "outputs[0].kind", "does not match"),
        ("outputs:\n  - {url: 'http://h', match: 'a.{b'}\n", "outputs[0].match", "unclosed"),
        ("outputs:\n  - {url: 'http://h', match: [1]}\n", "outputs[0].match", "tag pattern"),
        ("outputs:\n  - {url: 'stdout:'}\n  - {url: 'stderr:'}\n", "outputs[1].name", "used twice"),
        ("outputs:\n  - {url: 'stdout:', name: 'a/b'}\n", "outputs[0].name", "letters"),
        ("outputs: {url: 'stdout:'}\n", "outputs", "list"),
        ("outputs:\n  - 'stdout:'\n", "outputs[0]", "mapping"),
        ("spool: {max_bytes: lots}\n", "spool.max_bytes", "size"),
        ("spool: [1]\n", "spool", "mapping"),
        ("forward: {listen: nowhere}\n", "forward.listen", "host:port"),
        ("retry: {initial_backoff: -1}\n", "retry.initial_backoff", ""),
        ("http_listen: 'localhost:http'\n", "http.listen", "port"),
        ("http: {listen: '127.0.0.1:1'}\nhttp_listen: '127.0.0.1:2'\n", "http_listen", "older name"),
        ("http: {tls_cert_file: /c.pem}\n", "http.tls_key_file", "together"),
        ("http: {max_body_bytes: 0}\n", "http.max_body_bytes", "positive"),
        ("identity: {key: ''}\n", "identity.key", ""),
        ("log_level: loud\n", "log_level", "one of"),
        ("- a list\n", "config", "mapping at the top level"),
        ("outputs: [\n", "config", "not valid YAML at line"),
    ],
)
def test_each_bad_yaml_key_is_named(tmp_path: Path, yaml_text: str, key: str, message: str) -> None:
    error = load_error({}, write_yaml(tmp_path, yaml_text))
    assert error.key == key
    assert message in str(error)


@pytest.mark.parametrize(
    ("env", "key", "message"),
    [
        ({"LOG_AGENT_SPOOL_MAX_BYTES": "lots"}, "LOG_AGENT_SPOOL_MAX_BYTES", "not a size"),
        ({"LOG_AGENT_SPOOL_MAX_BYTES": "1KiB"}, "LOG_AGENT_SPOOL_MAX_BYTES", "at least"),
        ({"LOG_AGENT_FORWARD_LISTEN": "24224"}, "LOG_AGENT_FORWARD_LISTEN", "host:port"),
        ({"LOG_AGENT_HTTP_LISTEN": "x:99999"}, "LOG_AGENT_HTTP_LISTEN", "0-65535"),
        ({"LOG_AGENT_OUTPUT": "stdout:,ftp://h"}, "LOG_AGENT_OUTPUT[1].url", "unsupported scheme"),
        ({"LOG_AGENT_OUTPUT": "file://relative"}, "LOG_AGENT_OUTPUT[0].path", "three slashes"),
        ({"LOG_AGENT_OUTPUT": "http://u:pw@[::1/x"}, "LOG_AGENT_OUTPUT[0].url", "malformed URL"),
        ({"LOG_AGENT_OUTPUT": "stdout:,forward://[::1"}, "LOG_AGENT_OUTPUT[1].url", "malformed URL"),
        ({"LOG_AGENT_LOG_LEVEL": "chatty"}, "LOG_AGENT_LOG_LEVEL", "one of"),
        ({"LOG_AGENT_CONFIG": "/nonexistent/agent.yaml"}, "LOG_AGENT_CONFIG", "cannot read"),
    ],
)
def test_each_bad_env_var_is_named(env: dict[str, str], key: str, message: str) -> None:
    error = load_error(env)
    assert error.key == key
    assert message in str(error)


def test_secrets_never_appear_in_errors_or_reprs(tmp_path: Path) -> None:
    error = load_error({"LOG_AGENT_OUTPUT": "loki+https://u:hunter2@loki?line_format=x"})
    assert "hunter2" not in str(error)
    error = load_error({}, write_yaml(tmp_path, "outputs:\n  - url: 'es+https://u:hunter2@[::1/x'\n"))
    assert (error.key, "hunter2" in str(error)) == ("outputs[0].url", False)
    config = AgentConfig.load(
        {"LOG_AGENT_OUTPUT": "es+https://u:hunter2@es:9200/logs,forward://h?shared_key=k3y"}
    )
    assert "hunter2" not in repr(config) and "k3y" not in repr(config)


def test_a_yaml_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_bytes(b"outputs: \xff\xfe\n")
    error = load_error({"LOG_AGENT_CONFIG": str(path)})
    assert (error.key, "not UTF-8" in str(error)) == ("LOG_AGENT_CONFIG", True)


def test_run_dir_of_earlier_releases_is_accepted_and_ignored(tmp_path: Path) -> None:
    assert AgentConfig.load({}, write_yaml(tmp_path, "run_dir: /dev/shm/agent\n")) == AgentConfig.load({})


def test_the_identity_variables_are_read_with_the_configuration() -> None:
    config = AgentConfig.load({"BALENA_DEVICE_UUID": "dev-1", "BALENA_APP_NAME": "", "HOME": "/root"})
    assert dict(config.identity_env) == {"BALENA_DEVICE_UUID": "dev-1"}  # empty counts as unset
    assert config.enricher().merge({})["device"]["uuid"] == "dev-1"


def test_an_http_listener_other_hosts_reach_needs_a_token(tmp_path: Path) -> None:
    assert load_error({"LOG_AGENT_HTTP_LISTEN": "0.0.0.0:24220"}).key == "http.bearer_token"
    assert load_error({"LOG_AGENT_HTTP_LISTEN": "[::]:24220"}).key == "http.bearer_token"
    config = AgentConfig.load({"LOG_AGENT_HTTP_LISTEN": "0.0.0.0:24220", "LOG_AGENT_HTTP_TOKEN": "t0k3n"})
    assert config.http.bearer_token == "t0k3n" and "t0k3n" in config.secrets()
    assert "t0k3n" not in repr(config)
    assert AgentConfig.load({"LOG_AGENT_HTTP_LISTEN": "unix:/run/log-agent.sock"}).http.listen.unix_path


def test_a_reload_names_and_keeps_the_settings_it_cannot_apply(tmp_path: Path) -> None:
    running = AgentConfig.load({})
    changed = ("spool: {max_bytes: 8MiB, fsync: always}\n"
               "retry: {dead_letter_max_bytes: 1MiB, max_backoff: 5s}\n")
    new = AgentConfig.load({}, write_yaml(tmp_path, changed))
    assert running.restart_only_changes(new) == [
        "spool.max_bytes", "spool.fsync", "retry.dead_letter_max_bytes"]
    applied = running.keeping_restart_only(new)
    assert applied.spool == running.spool
    assert applied.retry.dead_letter_max_bytes == running.retry.dead_letter_max_bytes
    assert applied.retry.max_backoff == 5.0  # what a reload can change, it does
    assert running.restart_only_changes(running) == []


# -- CONFIGURATION.md documents every key and variable ------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "services" / "log-agent" / "CONFIGURATION.md"
SOURCE = Path(__file__).resolve().parents[2] / "services" / "log-agent" / "log_agent"


def doc_sections() -> dict[str, str]:
    """"### forward (Fluent Forward input)" -> "forward": the text up to the next heading."""
    sections: dict[str, str] = {}
    for block in DOCS.read_text().split("\n### ")[1:]:
        heading, _, body = block.partition("\n")
        for name in heading.replace(",", " ").split()[:3]:
            sections[name] = body.split("\n## ")[0]
    return sections


def documented_keys() -> list[tuple[str, str]]:
    from log_agent.enrich import IdentityConfig
    from log_agent.httpconfig import HttpConfig
    from log_agent.inputs.forward import ForwardInputConfig
    from log_agent.outputs import REGISTRY
    from log_agent.retry import RetryConfig
    from log_agent.spool import SpoolConfig

    sections = {"forward": ForwardInputConfig, "spool": SpoolConfig, "retry": RetryConfig,
                "identity": IdentityConfig, "http": HttpConfig}
    pairs = [(section, f.name) for section, cls in sections.items() for f in fields(cls)]
    pairs += [("outputs", f.name) for kind in REGISTRY for f in fields(REGISTRY[kind][0])]
    return sorted(set(pairs))


@pytest.mark.parametrize("section, key", documented_keys())
def test_every_config_key_is_documented(section: str, key: str) -> None:
    assert f"`{key}`" in doc_sections()[section], f"{section}.{key} is missing from CONFIGURATION.md"


def test_every_top_level_key_and_environment_variable_is_documented() -> None:
    text = DOCS.read_text()
    sections = doc_sections()
    for field in fields(AgentConfig):
        if field.metadata.get("not_a_key"):
            continue
        assert field.name in sections and f"`{field.name}`" in text, field.name
    read_by_code = {name for path in SOURCE.rglob("*.py")
                    for name in re.findall(r"LOG_AGENT_[A-Z_]+", path.read_text())}
    assert read_by_code  # the pattern still finds the variables
    assert {var for var in read_by_code if f"| `{var}` |" not in text} == set()
