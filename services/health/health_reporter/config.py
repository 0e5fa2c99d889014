"""Settings from the environment, read and validated once at start-up (``Config.from_env``) and handed on as
values: nothing else in the reporter reads the environment.

Every bad value raises ``ConfigError(key, message)`` naming the variable (or YAML key); ``__main__`` turns
that into exit status 2. Check thresholds are one YAML/JSON mapping in HEALTH_CHECKS (``{disk: {warn:
0.85}, temperature: {critical: 82}}``) so each check's own ``from_dict`` can reject unknown keys with the
key's name. Who may reach the HTTP app (listen address, auth, TLS) is parsed by ``web_access``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sidecar_common.http import Listen, ServeLimits, parse_listen

from .errors import ConfigError
from .paths import Paths
from .web_access import WebAccess, access_from_env

DEFAULT_PORT = 9199  # clashes with none of 48484 (supervisor), 9100 (node_exporter), 24220/24224 (log agent)
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"  # loopback: listening beyond it needs auth (web_access)
# balena's io.balena.features.balena-socket mounts the engine here; plain Docker uses the second.
DEFAULT_ENGINE_SOCKETS = ("/var/run/balena.sock", "/var/run/docker.sock")
# Upper bounds keep every wait finite for threading.Event.wait (inf or 1e300 overflow it) and the
# history ring buffer a sane size; nobody samples a device less often than daily.
MAX_SECONDS = 86400.0
MAX_MINUTES = MAX_SECONDS / 60
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AutohealConfig:
    enabled: bool = False
    # docker-autoheal's convention: only containers labelled autoheal=true are restarted; "all" restarts
    # any unhealthy container except the balena supervisor and the sidecars (unless they carry the label).
    label: str = "autoheal"
    max_restarts: int = 3  # per container, until it has been seen healthy again
    backoff_seconds: float = 60.0  # wait before the first restart; doubles after each restart
    stop_timeout_seconds: int = 10  # the engine's ?t= for POST /containers/<id>/restart


@dataclass(frozen=True, slots=True)
class TelemetryConfig:
    enabled: bool = True
    fluent_host: str = "127.0.0.1"
    fluent_port: int = 24224
    tag_prefix: str = "health"
    heartbeat_minutes: float = 5.0
    metrics_min_interval_seconds: float = 60.0  # at most one metrics record per this; 0: no cap
    buffer_bytes: int = 256 * 1024  # fluent-logger keeps unsent records in RAM up to this, then drops them
    timeout_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """Where and how the app is served (sidecar_common.http.HttpServer) and who may read it."""

    listen: Listen = field(default_factory=lambda: Listen("127.0.0.1", DEFAULT_PORT))
    access: WebAccess = field(default_factory=WebAccess)
    limits: ServeLimits = field(default_factory=ServeLimits)


# Beyond sidecar_common's defaults: 200 idle connections from a handful of addresses must still leave
# room for the operator's request (issue 8), at a few KiB each; per address, a phone on the AP gets 32.
HEALTH_LIMITS = ServeLimits(max_connections=256, max_per_client=32, header_timeout=10.0, body_timeout=10.0)


@dataclass(frozen=True, slots=True)
class Config:
    http: HttpConfig = field(default_factory=HttpConfig)
    log_level: str = "INFO"
    paths: Paths = field(default_factory=Paths)
    fast_interval_seconds: float = 10.0
    slow_interval_seconds: float = 60.0
    history_minutes: float = 60.0
    collectors_enabled: tuple[str, ...] = ()  # empty: every registered collector
    collectors_disabled: tuple[str, ...] = ()
    # None: the collector's own default (see collectors/); given, they fill collector_options below.
    data_mountpoints: tuple[str, ...] | None = None
    wifi_connect_url: str | None = None
    log_agent_url: str | None = None
    textfile_directory: str | None = None  # node_exporter's --collector.textfile.directory
    # Container states from the engine: on with HEALTH_CONTAINERS or autoheal. Off, the socket is never
    # looked up, let alone opened (least privilege: the engine socket is root on the host).
    containers: bool = False
    engine_socket: str = ""  # resolved only when containers is on; "" then means "no engine found"
    collector_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    autoheal: AutohealConfig = field(default_factory=AutohealConfig)

    @property
    def disabled_collectors(self) -> tuple[str, ...]:
        """HEALTH_COLLECTORS_DISABLED, plus ``containers`` while container health is off."""
        return self.collectors_disabled + (() if self.containers else ("containers",))

    def options_for_collectors(self) -> dict[str, dict[str, Any]]:
        """HEALTH_COLLECTOR_OPTIONS with the dedicated variables laid over it."""
        options = {name: dict(values) for name, values in self.collector_options.items()}
        dedicated = {
            ("filesystem", "data_mounts"): self.data_mountpoints,
            ("sidecars", "wifi_connect_url"): self.wifi_connect_url,
            ("wifi", "wifi_connect_url"): self.wifi_connect_url,
            ("sidecars", "log_agent_url"): self.log_agent_url,
            ("textfile", "directory"): self.textfile_directory,
            ("containers", "socket"): self.engine_socket if self.containers else None,
        }
        for (collector, key), value in dedicated.items():
            if value is not None:
                options.setdefault(collector, {})[key] = value
        return options

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        reader = _EnvReader(os.environ if env is None else env)
        fast = reader.get("HEALTH_FAST_INTERVAL", _seconds, 10.0)
        slow = reader.get("HEALTH_SLOW_INTERVAL", _seconds, 60.0)
        if slow < fast:
            raise ConfigError(
                "HEALTH_SLOW_INTERVAL", f"{slow:g} must not be shorter than HEALTH_FAST_INTERVAL ({fast:g})"
            )
        autoheal = _autoheal_from(reader)
        enabled = reader.get("HEALTH_COLLECTORS", _name_list, ())
        disabled = reader.get("HEALTH_COLLECTORS_DISABLED", _name_list, ())
        if autoheal.enabled and "containers" in disabled:
            raise ConfigError(
                "HEALTH_AUTOHEAL", "needs the containers collector, off in HEALTH_COLLECTORS_DISABLED"
            )
        wanted = (
            reader.get("HEALTH_CONTAINERS", parse_bool, False) or autoheal.enabled or "containers" in enabled
        )
        containers = wanted and "containers" not in disabled
        docker_host = reader.get("DOCKER_HOST", _unix_url, "")
        return cls(
            http=_http_from(reader),
            log_level=reader.get("HEALTH_LOG_LEVEL", _log_level, "INFO"),
            paths=Paths.from_env(reader.env),
            fast_interval_seconds=fast,
            slow_interval_seconds=slow,
            history_minutes=reader.get("HEALTH_HISTORY_MINUTES", _minutes, 60.0),
            collectors_enabled=enabled,
            collectors_disabled=disabled,
            data_mountpoints=reader.get("HEALTH_DATA_MOUNTPOINTS", _path_list, None),
            wifi_connect_url=reader.get("HEALTH_WIFI_CONNECT_URL", _sidecar_url, None),
            log_agent_url=reader.get("HEALTH_LOG_AGENT_URL", _sidecar_url, None),
            textfile_directory=reader.get("HEALTH_TEXTFILE_DIRECTORY", _directory, None),
            containers=containers,
            engine_socket=_engine_socket(docker_host) if containers else "",
            collector_options=reader.get("HEALTH_COLLECTOR_OPTIONS", _mapping_of_mappings, {}),
            checks=reader.get("HEALTH_CHECKS", _mapping_of_mappings, {}),
            telemetry=_telemetry_from(reader),
            autoheal=autoheal,
        )


def _engine_socket(docker_host: str) -> str:
    """DOCKER_HOST's path, else the first default socket that exists ("" when there is none)."""
    if docker_host:
        return docker_host.removeprefix("unix://")
    return next((path for path in DEFAULT_ENGINE_SOCKETS if Path(path).exists()), "")


def _http_from(reader: _EnvReader) -> HttpConfig:
    listen = parse_listen(reader.env.get("HEALTH_LISTEN", "").strip() or DEFAULT_LISTEN, "HEALTH_LISTEN")
    timeout = reader.get("HEALTH_CLIENT_TIMEOUT", _seconds, HEALTH_LIMITS.header_timeout)
    limits = ServeLimits(
        max_connections=reader.get("HEALTH_MAX_CONNECTIONS", _positive_int, HEALTH_LIMITS.max_connections),
        max_per_client=reader.get(
            "HEALTH_MAX_CONNECTIONS_PER_CLIENT", _positive_int, HEALTH_LIMITS.max_per_client
        ),
        header_timeout=timeout,
        body_timeout=timeout,
    )
    return HttpConfig(listen, access_from_env(reader.env, listen), limits)


def _telemetry_from(reader: _EnvReader) -> TelemetryConfig:
    default = TelemetryConfig()
    return TelemetryConfig(
        enabled=reader.get("HEALTH_TELEMETRY", parse_bool, default.enabled),
        fluent_host=reader.get("HEALTH_FLUENT_HOST", _non_empty, default.fluent_host),
        fluent_port=reader.get("HEALTH_FLUENT_PORT", _destination_port, default.fluent_port),
        tag_prefix=reader.get("HEALTH_TAG_PREFIX", _tag, default.tag_prefix),
        heartbeat_minutes=reader.get("HEALTH_HEARTBEAT_MINUTES", _minutes, default.heartbeat_minutes),
        metrics_min_interval_seconds=reader.get(
            "HEALTH_TELEMETRY_MIN_INTERVAL", _seconds_or_zero, default.metrics_min_interval_seconds
        ),
        buffer_bytes=reader.get("HEALTH_TELEMETRY_BUFFER_BYTES", _positive_int, default.buffer_bytes),
    )


def _autoheal_from(reader: _EnvReader) -> AutohealConfig:
    default = AutohealConfig()
    return AutohealConfig(
        enabled=reader.get("HEALTH_AUTOHEAL", parse_bool, default.enabled),
        label=reader.get("HEALTH_AUTOHEAL_LABEL", _label_key, default.label),
        max_restarts=reader.get("HEALTH_AUTOHEAL_MAX_RESTARTS", _positive_int, default.max_restarts),
        backoff_seconds=reader.get("HEALTH_AUTOHEAL_BACKOFF", _seconds, default.backoff_seconds),
        stop_timeout_seconds=reader.get(
            "HEALTH_AUTOHEAL_STOP_TIMEOUT", _positive_int, default.stop_timeout_seconds
        ),
    )


class _EnvReader:
    """Reads one variable through a parser; a parser's ValueError becomes ConfigError naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except ValueError as err:  # yaml.YAMLError is turned into ValueError by _mapping_of_mappings
            raise ConfigError(name, f"{raw!r}: {err}") from err


def parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError("port must be 0-65535")
    return port


def _destination_port(raw: str) -> int:
    """A port to connect to: 0 is only meaningful when binding (any free port)."""
    port = _port(raw)
    if port == 0:
        raise ValueError("port must be 1-65535")
    return port


def _bounded_float(raw: str, maximum: float, unit: str) -> float:
    value = float(raw)
    if not 0 < value <= maximum:  # also false for NaN
        raise ValueError(f"must be a number of {unit} greater than 0 and at most {maximum:g}")
    return value


def _seconds(raw: str) -> float:
    return _bounded_float(raw, MAX_SECONDS, "seconds")


def _seconds_or_zero(raw: str) -> float:
    return 0.0 if float(raw) == 0 else _seconds(raw)


def _minutes(raw: str) -> float:
    return _bounded_float(raw, MAX_MINUTES, "minutes")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be an integer greater than 0")
    return value


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def _non_empty(raw: str) -> str:
    return raw


def _tag(raw: str) -> str:
    if any(part == "" for part in raw.split(".")) or any(ch.isspace() for ch in raw):
        raise ValueError("a fluent tag is dot-separated words without spaces, e.g. health or device.health")
    return raw


def _label_key(raw: str) -> str:
    if any(ch.isspace() or ch == "=" for ch in raw):
        raise ValueError("expected a container label key (autoheal, com.example.autoheal) or all")
    return raw


def _name_list(raw: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _path_list(raw: str) -> tuple[str, ...]:
    paths = _name_list(raw)
    if not all(path.startswith("/") for path in paths):
        raise ValueError("expected absolute paths separated by commas")
    return paths


def _directory(raw: str) -> str:
    if not Path(raw).is_dir():
        raise ValueError("not a directory")
    return raw


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


def _sidecar_url(raw: str) -> str:
    """A sidecar's URL, or "off" when the bundle leaves that sidecar out: no probe, so no alarm."""
    return "" if raw.lower() == "off" else _http_url(raw)


def _unix_url(raw: str) -> str:
    if not raw.startswith("unix://"):
        raise ValueError("only unix:// engine sockets are supported, e.g. unix:///var/run/balena.sock")
    return raw


def _mapping_of_mappings(raw: str) -> dict[str, dict[str, Any]]:
    import yaml  # only when such a setting is given: 1 MiB of PSS the default configuration never needs

    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ValueError(str(err)) from err
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("expected a mapping of name to settings, e.g. {disk: {warn: 0.85}}")
    return data
