"""Who may read the app: credentials from the environment or an exporter-toolkit web config file, checked
once at start with errors naming the key."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
from health_reporter.config import Config
from health_reporter.errors import ConfigError
from health_reporter.web.guard import BcryptUsers, protect

from tests.health.conftest import CONSOLE_SCRIPT
from tests.health.helpers import WsgiClient
from tests.health.test_serving import bcrypt

HASH_OF_SECRET = bcrypt("secret")


def web_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return {"HEALTH_WEB_CONFIG_FILE": str(path)}


def test_relative_paths_are_relative_to_the_web_config_file(tmp_path: Path) -> None:
    for name in ("server.pem", "server.key"):
        (tmp_path / name).write_text("not checked until the server starts\n")
    text = (
        "tls_server_config: {cert_file: server.pem, key_file: server.key}\n"
        f"basic_auth_users: {{ops: '{HASH_OF_SECRET}'}}\n"
    )
    access = Config.from_env({"HEALTH_LISTEN": "0.0.0.0:9199", **web_config(tmp_path, text)}).http.access
    assert access.tls is not None and access.tls.cert_file == str(tmp_path / "server.pem")
    assert access.bcrypt_users == {"ops": HASH_OF_SECRET} and access.authenticates


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "tls_server_config: {cert_file: a.pem, key_file: a.key, min_version: TLS13}",
            "tls_server_config.min_version",
        ),
        ("http_server_config: {http2: false}", "http_server_config"),
        ("basic_auth_users: {ops: plain-password}", "basic_auth_users.ops"),
        ("basic_users: {}", "HEALTH_WEB_CONFIG_FILE: basic_users"),
        ("tls_server_config: {cert_file: missing.pem, key_file: missing.key}", "tls_server_config.cert_file"),
        ("tls_server_config: {client_auth_type: RequireAnyClientCert}", "client_auth_type"),
        ("[not, a, mapping]", "HEALTH_WEB_CONFIG_FILE"),
    ],
)
def test_web_config_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        Config.from_env(web_config(tmp_path, text + "\n"))


def test_the_file_and_the_variables_are_not_mixed(tmp_path: Path) -> None:
    env = {**web_config(tmp_path, "{}\n"), "HEALTH_AUTH_TOKEN": "t"}
    with pytest.raises(ConfigError, match=r"^HEALTH_WEB_CONFIG_FILE: set either it or HEALTH_AUTH_TOKEN"):
        Config.from_env(env)


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"HEALTH_AUTH_USER": "ops"}, "HEALTH_AUTH_PASSWORD"),
        ({"HEALTH_AUTH_PASSWORD": "pw"}, "HEALTH_AUTH_USER"),
        ({"HEALTH_AUTH_TOKEN_FILE": "/nonexistent/token"}, "HEALTH_AUTH_TOKEN_FILE"),
        ({"HEALTH_TLS_CERT_FILE": "/etc/hostname"}, "HEALTH_TLS_KEY_FILE"),
        (
            {"HEALTH_TLS_CERT_FILE": "/nonexistent.pem", "HEALTH_TLS_KEY_FILE": "/etc/hostname"},
            "HEALTH_TLS_CERT_FILE",
        ),
    ],
)
def test_variable_errors_name_the_variable(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}"):
        Config.from_env(env)


def test_node_exporters_flag_names_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users: {ops: not-a-hash}\n")
    env = {**os.environ, "HEALTH_TELEMETRY": "0", "HEALTH_LISTEN": "0.0.0.0:9199"}
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), "--web.config.file", str(path), "--check-config"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "HEALTH_WEB_CONFIG_FILE: basic_auth_users.ops" in result.stderr


def test_bcrypt_users_are_checked_once_then_remembered() -> None:
    users = BcryptUsers({"ops": HASH_OF_SECRET})
    good = "Basic " + base64.b64encode(b"ops:secret").decode()
    assert users.check(good) and users.check(good)
    assert not users.check("Basic " + base64.b64encode(b"ops:wrong").decode())
    assert not users.check("Basic " + base64.b64encode(b"eve:secret").decode())
    assert not users.check("Basic !!!") and not users.check("Bearer secret")


def test_open_paths_need_no_credentials() -> None:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [])
        return [b"ok"]

    access = Config.from_env({"HEALTH_AUTH_TOKEN": "t"}).http.access
    client = WsgiClient(protect(app, access))
    assert client.get("/healthz").status_code == client.get("/readyz").status_code == 200
    assert client.get("/status").status_code == client.get("/metrics").status_code == 401
    assert client.get("/metrics", {"Authorization": "Bearer t"}).status_code == 200
