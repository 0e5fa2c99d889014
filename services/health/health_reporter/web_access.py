"""Who may read the HTTP app, and over what: bearer token, basic-auth users, TLS.

Two ways to say it, never mixed:

- environment variables: ``HEALTH_AUTH_TOKEN`` / ``HEALTH_AUTH_TOKEN_FILE`` (bearer), ``HEALTH_AUTH_USER``
  with ``HEALTH_AUTH_PASSWORD`` / ``HEALTH_AUTH_PASSWORD_FILE`` (basic), ``HEALTH_TLS_CERT_FILE``,
  ``HEALTH_TLS_KEY_FILE``, ``HEALTH_TLS_CLIENT_CA_FILE``;
- node_exporter's ``--web.config.file`` (``HEALTH_WEB_CONFIG_FILE``): the exporter-toolkit YAML, so one
  file serves both exporters: ``tls_server_config`` (cert_file, key_file, client_ca_file,
  client_auth_type) and ``basic_auth_users`` (bcrypt hashes, checked with the C library's crypt(3)).

A listen address beyond loopback without any of them is a ConfigError naming HEALTH_LISTEN: the dashboard
and /status name SSIDs and containers, and the setup AP is open to any phone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar_common.auth import read_secret
from sidecar_common.http import Listen, TlsFiles

from .errors import ConfigError

WEB_CONFIG = "HEALTH_WEB_CONFIG_FILE"
ENV_KEYS = (
    "HEALTH_AUTH_TOKEN", "HEALTH_AUTH_TOKEN_FILE", "HEALTH_AUTH_USER", "HEALTH_AUTH_PASSWORD",
    "HEALTH_AUTH_PASSWORD_FILE", "HEALTH_TLS_CERT_FILE", "HEALTH_TLS_KEY_FILE", "HEALTH_TLS_CLIENT_CA_FILE",
)  # fmt: skip
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
# exporter-toolkit's client_auth_type values this server implements (Go's tls.ClientAuthType names).
CLIENT_AUTH_TYPES = ("NoClientCert", "RequireAndVerifyClientCert")


@dataclass(frozen=True, slots=True)
class WebAccess:
    bearer_token: str = field(default="", repr=False)
    basic_users: Mapping[str, str] = field(default_factory=dict, repr=False)  # user -> password
    bcrypt_users: Mapping[str, str] = field(default_factory=dict, repr=False)  # user -> bcrypt hash
    tls: TlsFiles | None = None
    source: str = ""  # the setting it came from, for messages

    @property
    def authenticates(self) -> bool:
        """Some credential is required: a token, a user, or a client certificate signed by our CA."""
        return bool(self.bearer_token or self.basic_users or self.bcrypt_users or self.client_certificates)

    @property
    def client_certificates(self) -> bool:
        return self.tls is not None and bool(self.tls.client_ca_file)


def access_from_env(env: Mapping[str, str], listen: Listen) -> WebAccess:
    web_config = env.get(WEB_CONFIG, "").strip()
    given = [key for key in ENV_KEYS if env.get(key, "").strip()]
    if web_config and given:
        raise ConfigError(WEB_CONFIG, f"set either it or {', '.join(given)}, not both")
    access = _from_web_config(Path(web_config)) if web_config else _from_variables(env)
    if not listen.is_loopback() and not access.authenticates:
        raise ConfigError(
            "HEALTH_LISTEN",
            f"{listen} is reachable from other machines: set HEALTH_AUTH_TOKEN(_FILE) or HEALTH_AUTH_USER "
            f"and HEALTH_AUTH_PASSWORD(_FILE), or basic_auth_users in {WEB_CONFIG}, or listen on "
            "127.0.0.1",
        )
    return access


def _from_variables(env: Mapping[str, str]) -> WebAccess:
    token = _secret(env, "HEALTH_AUTH_TOKEN")
    user = env.get("HEALTH_AUTH_USER", "").strip()
    password = _secret(env, "HEALTH_AUTH_PASSWORD")
    if bool(user) != bool(password):
        missing = "HEALTH_AUTH_PASSWORD(_FILE)" if user else "HEALTH_AUTH_USER"
        raise ConfigError(missing, "basic auth needs both a user and a password")
    if ":" in user:
        raise ConfigError("HEALTH_AUTH_USER", "a basic-auth user name cannot contain ':'")
    cert, key = env.get("HEALTH_TLS_CERT_FILE", "").strip(), env.get("HEALTH_TLS_KEY_FILE", "").strip()
    client_ca = env.get("HEALTH_TLS_CLIENT_CA_FILE", "").strip()
    names = ("HEALTH_TLS_CERT_FILE", "HEALTH_TLS_KEY_FILE", "HEALTH_TLS_CLIENT_CA_FILE")
    tls = _tls(cert, key, client_ca, names)
    return WebAccess(token, {user: password} if user else {}, {}, tls, "environment")


def _secret(env: Mapping[str, str], name: str) -> str:
    """``NAME`` or the contents of the file ``NAME_FILE`` (the file wins; one trailing newline dropped)."""
    path = env.get(f"{name}_FILE", "").strip()
    return read_secret(env.get(name, "").strip(), path, f"{name}_FILE" if path else name)


def _tls(cert: str, key: str, client_ca: str, names: tuple[str, str, str]) -> TlsFiles | None:
    if not (cert or key or client_ca):
        return None
    if not (cert and key):
        raise ConfigError(names[1] if cert else names[0], "TLS needs both a certificate and its key")
    for name, path in zip(names, (cert, key, client_ca), strict=True):
        if path and not Path(path).is_file():
            raise ConfigError(name, f"{path!r} is not a readable file")
    return TlsFiles(cert_file=cert, key_file=key, client_ca_file=client_ca)


def _from_web_config(path: Path) -> WebAccess:
    import yaml  # only with a web config file

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ConfigError(WEB_CONFIG, f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(WEB_CONFIG, f"{path} is not YAML: {err}") from err
    _only(data, ("tls_server_config", "basic_auth_users", "http_server_config"), "")
    if data.get("http_server_config"):
        raise ConfigError(f"{WEB_CONFIG}: http_server_config", "not supported by health-reporter")
    tls = _web_tls(data.get("tls_server_config") or {}, path.parent)
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise ConfigError(f"{WEB_CONFIG}: basic_auth_users", "expected a mapping of user to bcrypt hash")
    for user, hashed in users.items():
        valid_user = isinstance(user, str) and ":" not in user
        if not valid_user or not isinstance(hashed, str) or not _BCRYPT.match(hashed):
            raise ConfigError(
                f"{WEB_CONFIG}: basic_auth_users.{user}",
                "expected a bcrypt hash ($2y$10$..., e.g. from htpasswd -nBC 10 '' | tr -d ':\\n')",
            )
    return WebAccess("", {}, dict(users), tls, str(path))


def _web_tls(section: Any, directory: Path) -> TlsFiles | None:
    """exporter-toolkit's tls_server_config; relative paths are relative to the file, as there."""
    where = f"{WEB_CONFIG}: tls_server_config"
    if not isinstance(section, dict):
        raise ConfigError(where, "expected a mapping")
    _only(section, ("cert_file", "key_file", "client_ca_file", "client_auth_type"), "tls_server_config.")
    auth_type = section.get("client_auth_type", "NoClientCert")
    if auth_type not in CLIENT_AUTH_TYPES:
        raise ConfigError(f"{where}.client_auth_type", f"supported: {', '.join(CLIENT_AUTH_TYPES)}")

    def resolve(name: str) -> str:
        value = section.get(name) or ""
        if not isinstance(value, str):
            raise ConfigError(f"{where}.{name}", "expected a file path")
        return str(directory / value) if value else ""

    client_ca = resolve("client_ca_file")
    if (auth_type == "RequireAndVerifyClientCert") != bool(client_ca):
        raise ConfigError(f"{where}.client_auth_type", "RequireAndVerifyClientCert goes with client_ca_file")
    names = (f"{where}.cert_file", f"{where}.key_file", f"{where}.client_ca_file")
    return _tls(resolve("cert_file"), resolve("key_file"), client_ca, names)


def _only(section: dict[str, Any], known: tuple[str, ...], prefix: str) -> None:
    """exporter-toolkit rejects unknown fields; so do we, and say which of its fields we do not implement."""
    if not isinstance(section, dict):
        raise ConfigError(WEB_CONFIG, "expected a YAML mapping")
    for key in section:
        if key not in known:
            supported = ", ".join(known)
            raise ConfigError(f"{WEB_CONFIG}: {prefix}{key}", f"not supported (supported: {supported})")
