"""Configuration from the environment: defaults, every variable, bad values naming the variable, exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from health_reporter.collectors.sidecars import (
    DEFAULT_LOG_AGENT_URL,
    DEFAULT_WIFI_CONNECT_URL,
    SidecarsCollector,
)
from health_reporter.config import DEFAULT_PORT, Config
from health_reporter.errors import ConfigError
from health_reporter.sampler import sampler_from_config

REPO = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    config = Config.from_env({})
    listen = config.http.listen
    assert (listen.host, listen.port) == ("127.0.0.1", DEFAULT_PORT) == ("127.0.0.1", 9199)  # loopback
    assert not config.http.access.authenticates and config.http.access.tls is None
    assert not config.containers and config.engine_socket == ""  # the engine socket: not even looked up
    assert (config.fast_interval_seconds, config.slow_interval_seconds) == (10.0, 60.0)
    assert config.telemetry.enabled and config.telemetry.fluent_port == 24224
    assert config.telemetry.tag_prefix == "health" and config.telemetry.heartbeat_minutes == 5
    assert not config.autoheal.enabled
    assert config.options_for_collectors() == {}


def test_the_sidecar_probes_default_to_the_other_services_defaults() -> None:
    """wifi-connect's control API (GET /status with a "state") and the log agent's HTTP (/metrics), as
    those services and the compose bundle set them up, and telemetry to the agent's forward input."""
    wifi_connect = pytest.importorskip("wifi_connect.config")
    log_agent = pytest.importorskip("log_agent.httpconfig")
    control = wifi_connect.SETTINGS_BY_ATTR["control_address"].default
    assert DEFAULT_WIFI_CONNECT_URL == f"http://{control}/status" == "http://127.0.0.1:8081/status"
    assert f"http://{log_agent.DEFAULT_HTTP_LISTEN}/metrics" == DEFAULT_LOG_AGENT_URL
    openapi = yaml.safe_load((REPO / "services/wifi-connect/openapi.yaml").read_text())
    assert "state" in openapi["components"]["schemas"]["Status"]["required"]
    bundle = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    agent_env, health_env = bundle["log-agent"]["environment"], bundle["health"]["environment"]
    assert "CONTROL_ADDRESS" not in bundle["wifi-connect"].get("environment", {})
    http_listen = agent_env.get("LOG_AGENT_HTTP_LISTEN", log_agent.DEFAULT_HTTP_LISTEN)
    assert f"http://{http_listen}/metrics" == DEFAULT_LOG_AGENT_URL
    fluent_host = health_env.get("HEALTH_FLUENT_HOST", "127.0.0.1")
    fluent = f"{fluent_host}:{health_env.get('HEALTH_FLUENT_PORT', 24224)}"
    assert agent_env.get("LOG_AGENT_FORWARD_LISTEN", "127.0.0.1:24224") == fluent == "127.0.0.1:24224"
    assert all(service.get("network_mode") == "host" for service in bundle.values())  # all on loopback


def test_every_variable_is_read(tmp_path) -> None:
    env = {
        "HEALTH_LISTEN": "[::1]:9300",
        "HEALTH_FLUENT_HOST": "log-agent",
        "HEALTH_FLUENT_PORT": "24225",
        "HEALTH_TAG_PREFIX": "device.health",
        "HEALTH_HEARTBEAT_MINUTES": "2",
        "HOST_PROC": str(tmp_path),
        "HEALTH_FAST_INTERVAL": "5",
        "HEALTH_SLOW_INTERVAL": "30",
        "HEALTH_COLLECTORS_DISABLED": "processes, wifi",
        "HEALTH_DATA_MOUNTPOINTS": "/mnt/data,/",
        "HEALTH_WIFI_CONNECT_URL": "http://127.0.0.1:8081/",
        "DOCKER_HOST": "unix:///var/run/balena.sock",
        "HEALTH_CHECKS": "{disk: {warn: 0.7}}",
        "HEALTH_COLLECTOR_OPTIONS": "{throttling: {vcgencmd: ''}}",
        "HEALTH_AUTOHEAL": "on",
        "HEALTH_AUTOHEAL_MAX_RESTARTS": "5",
        "HEALTH_TELEMETRY": "false",
        "HEALTH_TELEMETRY_MIN_INTERVAL": "0",
        "HEALTH_CLIENT_TIMEOUT": "2.5",
    }
    config = Config.from_env(env)
    assert config.telemetry.metrics_min_interval_seconds == 0
    assert config.http.limits.header_timeout == config.http.limits.body_timeout == 2.5
    assert (config.http.listen.host, config.http.listen.port) == ("::1", 9300)
    assert config.telemetry.fluent_host == "log-agent" and config.telemetry.fluent_port == 24225
    assert config.telemetry.tag_prefix == "device.health" and not config.telemetry.enabled
    assert str(config.paths.proc) == str(tmp_path)
    assert config.collectors_disabled == ("processes", "wifi")
    assert config.checks == {"disk": {"warn": 0.7}}
    assert config.autoheal.enabled and config.autoheal.max_restarts == 5
    assert config.engine_socket == "/var/run/balena.sock" and config.containers  # autoheal needs it
    assert config.options_for_collectors() == {
        "throttling": {"vcgencmd": ""},
        "filesystem": {"data_mounts": ("/mnt/data", "/")},
        "sidecars": {"wifi_connect_url": "http://127.0.0.1:8081"},
        "wifi": {"wifi_connect_url": "http://127.0.0.1:8081"},
        "containers": {"socket": "/var/run/balena.sock"},
    }


def test_a_sidecar_left_out_of_the_bundle_is_not_probed() -> None:
    config = Config.from_env({"HEALTH_WIFI_CONNECT_URL": "off", "HEALTH_LOG_AGENT_URL": "OFF"})
    options = config.options_for_collectors()
    assert options["wifi"] == {"wifi_connect_url": ""}
    assert SidecarsCollector.from_options(None, options["sidecars"]).collect() == []


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HEALTH_LISTEN": "9199"}, "HEALTH_LISTEN"),
        ({"HEALTH_LISTEN": "0.0.0.0:99999"}, "HEALTH_LISTEN"),
        ({"HEALTH_FLUENT_PORT": "forward"}, "HEALTH_FLUENT_PORT"),
        ({"HEALTH_FAST_INTERVAL": "0"}, "HEALTH_FAST_INTERVAL"),
        ({"HEALTH_FAST_INTERVAL": "30", "HEALTH_SLOW_INTERVAL": "10"}, "HEALTH_SLOW_INTERVAL"),
        ({"HEALTH_TAG_PREFIX": "bad tag"}, "HEALTH_TAG_PREFIX"),
        ({"HEALTH_AUTOHEAL": "maybe"}, "HEALTH_AUTOHEAL"),
        ({"HEALTH_CHECKS": "[1, 2]"}, "HEALTH_CHECKS"),
        ({"HEALTH_CHECKS": "{disk: [}"}, "HEALTH_CHECKS"),
        ({"DOCKER_HOST": "tcp://10.0.0.1:2375"}, "DOCKER_HOST"),
        ({"HEALTH_AUTOHEAL": "on", "HEALTH_COLLECTORS_DISABLED": "containers"}, "HEALTH_AUTOHEAL"),
        ({"HEALTH_AUTOHEAL_LABEL": "autoheal=true"}, "HEALTH_AUTOHEAL_LABEL"),
        ({"HEALTH_MAX_CONNECTIONS": "0"}, "HEALTH_MAX_CONNECTIONS"),
        ({"HEALTH_WIFI_CONNECT_URL": "wifi-connect:8080"}, "HEALTH_WIFI_CONNECT_URL"),
        ({"HEALTH_DATA_MOUNTPOINTS": "data"}, "HEALTH_DATA_MOUNTPOINTS"),
        ({"HOST_PROC": "/nonexistent-proc"}, "HOST_PROC"),
        ({"HEALTH_LOG_LEVEL": "chatty"}, "HEALTH_LOG_LEVEL"),
        ({"HEALTH_FLUENT_PORT": "0"}, "HEALTH_FLUENT_PORT: '0': port must be 1-65535"),
        ({"HEALTH_FLUENT_PORT": "65536"}, "HEALTH_FLUENT_PORT: '65536': port must be"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(env)


@pytest.mark.parametrize(
    "variable",
    [
        "HEALTH_FAST_INTERVAL",
        "HEALTH_SLOW_INTERVAL",
        "HEALTH_HISTORY_MINUTES",
        "HEALTH_HEARTBEAT_MINUTES",
        "HEALTH_AUTOHEAL_BACKOFF",
        "HEALTH_CLIENT_TIMEOUT",
        "HEALTH_TELEMETRY_MIN_INTERVAL",  # except that 0 means "no cap"
    ],
)
@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e300", "86401", "0", "-5"])
def test_durations_must_be_finite_positive_and_at_most_a_day(variable: str, raw: str) -> None:
    """inf or 1e300 once passed and then overflowed threading.Event.wait inside the sampler."""
    if variable == "HEALTH_TELEMETRY_MIN_INTERVAL" and raw == "0":
        return
    env = {variable: raw}
    if variable == "HEALTH_FAST_INTERVAL":  # otherwise the slow interval (60) would be shorter
        env["HEALTH_SLOW_INTERVAL"] = "86400"
    if variable.endswith("_MINUTES") and raw == "86401":
        env[variable] = "1441"  # a day is 1440 minutes
    expected = rf"^{variable}: .*: must be a number of \w+ greater than 0 and at most"
    with pytest.raises(ConfigError, match=expected):
        Config.from_env(env)


def test_an_infinite_fast_interval_is_reported_as_itself() -> None:
    """It used to read "HEALTH_SLOW_INTERVAL (60.0) must not be shorter than HEALTH_FAST_INTERVAL"."""
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"HEALTH_FAST_INTERVAL": "inf"})
    assert str(raised.value) == (
        "HEALTH_FAST_INTERVAL: 'inf': must be a number of seconds greater than 0 and at most 86400"
    )


def test_the_longest_durations_are_accepted() -> None:
    config = Config.from_env(
        {
            "HEALTH_FAST_INTERVAL": "86400",
            "HEALTH_SLOW_INTERVAL": "86400",
            "HEALTH_HEARTBEAT_MINUTES": "1440",
            "HEALTH_AUTOHEAL_BACKOFF": "86400",
        }
    )
    assert config.fast_interval_seconds == config.autoheal.backoff_seconds == 86400
    assert config.telemetry.heartbeat_minutes == 1440


@pytest.mark.parametrize("variable", ["HEALTH_HOST_PROC", "HOST_PROC"])
def test_the_proc_error_names_the_variable_that_was_set(variable: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{variable}: '/nonexistent-proc' is not a directory"):
        Config.from_env({variable: "/nonexistent-proc"})


def test_health_host_proc_wins_over_host_proc(tmp_path) -> None:
    config = Config.from_env({"HEALTH_HOST_PROC": str(tmp_path), "HOST_PROC": "/nonexistent-proc"})
    assert config.paths.proc == tmp_path


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEALTH_COLLECTORS": "cpu,gpu"}, "HEALTH_COLLECTORS: unknown collector(s) gpu"),
        ({"HEALTH_COLLECTORS_DISABLED": "tpu"}, "HEALTH_COLLECTORS_DISABLED: unknown collector(s) tpu"),
        ({"HEALTH_COLLECTOR_OPTIONS": "{wifi: {iw: 5}}"}, "HEALTH_COLLECTOR_OPTIONS.wifi.iw: must be a str"),
        ({"HEALTH_COLLECTOR_OPTIONS": "{gpu: {}}"}, "HEALTH_COLLECTOR_OPTIONS: unknown collector(s) gpu"),
    ],
)
def test_collector_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        sampler_from_config(Config.from_env({"HEALTH_TELEMETRY": "0", **env}))


def run_main(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HEALTH_TELEMETRY": "0", **env}
    command = [sys.executable, "-m", "health_reporter", *args]
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=60)


def test_console_script_exits_2_with_one_readable_line() -> None:
    result = run_main({"HEALTH_CHECKS": "{temperature: {critcal: 90}}"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "health-reporter: configuration error: HEALTH_CHECKS.temperature.critcal: unknown key "
        "(known: critical, enabled, hysteresis, warn)"
    )


def test_collector_settings_are_validated_before_start() -> None:
    result = run_main({"HEALTH_COLLECTORS": "cpu,gpu"})
    assert result.returncode == 2 and "gpu" in result.stderr


def test_healthcheck_never_exits_2_even_with_a_bad_setting() -> None:
    """Docker reserves HEALTHCHECK exit status 2; a probe that cannot read its settings is unhealthy (1)."""
    result = run_main({"HEALTH_LISTEN": "nonsense"}, "--healthcheck")
    assert result.returncode == 1
    assert "configuration error: HEALTH_LISTEN" in result.stderr


def test_check_config_validates_and_exits_0() -> None:
    result = run_main({}, "--check-config")
    assert result.returncode == 0, result.stderr
