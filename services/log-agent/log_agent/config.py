"""The agent's configuration: environment variables for the common case, a YAML file for the rest.

Precedence: built-in defaults < YAML file (LOG_AGENT_CONFIG) < environment variables. Everything is
validated once, at start-up (and on SIGHUP reload); any problem is a ConfigError naming the key, e.g.
``outputs[1].url: unsupported scheme 'ftp'`` or ``LOG_AGENT_SPOOL_MAX_BYTES: not a size: 'lots'``.
An environment variable set to the empty string counts as unset. See CONFIGURATION.md.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .budget import DEFAULT_BUDGET_BYTES
from .confparse import parse_size, rekey, secret_values
from .enrich import IDENTITY_ENV, Enricher, IdentityConfig
from .errors import ConfigError
from .httpconfig import HttpConfig
from .inputs import ENV_SHORTCUTS, build_input, default_inputs
from .inputs import REGISTRY as INPUT_REGISTRY
from .inputs import config_from_dict as input_config_from_dict
from .inputs.base import Input
from .outputs import REGISTRY, build_output, config_from_dict, config_from_url, kind_of_url
from .outputs.base import Output
from .outputs.stdout import StdoutOutputConfig
from .retry import RetryConfig
from .routing import Router, TagMatcher
from .spool import SpoolConfig

ENV_CONFIG = "LOG_AGENT_CONFIG"
ENV_FORWARD_LISTEN = "LOG_AGENT_FORWARD_LISTEN"
ENV_SPOOL_DIR = "LOG_AGENT_SPOOL_DIR"
ENV_SPOOL_MAX_BYTES = "LOG_AGENT_SPOOL_MAX_BYTES"
ENV_OUTPUT = "LOG_AGENT_OUTPUT"
ENV_HTTP_LISTEN = "LOG_AGENT_HTTP_LISTEN"
ENV_LOG_LEVEL = "LOG_AGENT_LOG_LEVEL"
ENV_HTTP_TOKEN = "LOG_AGENT_HTTP_TOKEN"
ENV_HTTP_TOKEN_FILE = "LOG_AGENT_HTTP_TOKEN_FILE"

DEFAULT_MATCH = ("**",)
LOG_LEVELS = ("debug", "info", "warning", "error")
# section -> {field: environment variable that overrides it}
_SECTION_ENV = {
    "http": {"listen": ENV_HTTP_LISTEN, "bearer_token": ENV_HTTP_TOKEN,
             "bearer_token_file": ENV_HTTP_TOKEN_FILE},
    "spool": {"dir": ENV_SPOOL_DIR, "max_bytes": ENV_SPOOL_MAX_BYTES},
}
_TOP_LEVEL_KEYS = ("inputs", "forward", "spool", "retry", "outputs", "http", "http_listen", "identity",
                   "log_level", "run_dir", "memory_budget")
MIN_MEMORY_BUDGET = 4 * 1024 * 1024  # one 1 MiB piece being inflated and stored needs about this
# Also accepted from files written for earlier releases: run_dir (there is no run directory any more)
# is ignored, http_listen is http.listen.
# Opened once at start (the spool, the dead-letter file, the metrics directory): a reload keeps them.
_RESTART_ONLY_RETRY_KEYS = ("dead_letter_path", "dead_letter_max_bytes")
_SPEC_KEYS = ("name", "url", "kind", "match")  # the rest of an outputs[] item is the kind's config
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # also a cursor file name and metric label


@dataclass(frozen=True)
class OutputSpec:
    """One configured output: a unique name, its kind, the tags it takes and the kind's config."""

    name: str
    kind: str
    match: tuple[str, ...]
    config: Any

    def build(self) -> Output:
        return build_output(self.kind, self.config, self.name)

    def matcher(self) -> TagMatcher:
        return TagMatcher(self.match)


@dataclass(frozen=True)
class InputSpec:
    """One configured input: its kind (registry key) and the kind's validated config."""

    kind: str
    config: Any

    @property
    def name(self) -> str:
        return str(getattr(self.config, "name", self.kind))

    def build(self) -> Input:
        return build_input(self.kind, self.config)


@dataclass(frozen=True)
class AgentConfig:
    inputs: tuple[InputSpec, ...]
    spool: SpoolConfig
    retry: RetryConfig
    outputs: tuple[OutputSpec, ...]
    http: HttpConfig = field(default_factory=HttpConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    # The BALENA_* variables the identity comes from, read here with everything else (not a key).
    identity_env: Mapping[str, str] = field(default_factory=dict, metadata={"not_a_key": True})
    log_level: str = "info"
    # bytes all inputs together may hold before they are stored (budget.py); restart-only
    memory_budget: int = DEFAULT_BUDGET_BYTES

    @classmethod
    def load(cls, env: Mapping[str, str], yaml_path: str | None = None) -> AgentConfig:
        """Read ``yaml_path`` (default: $LOG_AGENT_CONFIG, if set), apply ``env`` on top, validate."""
        env = {k: v for k, v in env.items() if v != ""}
        path_key = "config" if yaml_path else ENV_CONFIG
        path = yaml_path or env.get(ENV_CONFIG)
        document = read_yaml(path, path_key) if path else {}
        return cls.from_sources(document, env)

    @classmethod
    def from_sources(cls, document: Mapping[str, Any], env: Mapping[str, str]) -> AgentConfig:
        for key in document:
            if key not in _TOP_LEVEL_KEYS:
                raise ConfigError(str(key), f"unknown key (known keys: {', '.join(_TOP_LEVEL_KEYS)})")
        spool = _section(SpoolConfig, document, "spool", env)
        return cls(
            inputs=_with_state_dir(_inputs(document, env), spool),
            spool=spool,
            retry=_section(RetryConfig, document, "retry", env),
            outputs=_outputs(document, env),
            http=_section(HttpConfig, _with_legacy_http_listen(document), "http", env),
            identity=IdentityConfig.from_dict(_mapping(document.get("identity"), "identity")),
            identity_env={var: env[var] for var in IDENTITY_ENV.values() if var in env},
            log_level=_log_level(document, env),
            memory_budget=_memory_budget(document),
        )

    def restart_only_changes(self, new: AgentConfig) -> list[str]:
        """The keys ``new`` changes that a reload cannot apply (they wait for the next start)."""
        old_values, new_values = self._restart_only_values(), new._restart_only_values()
        return [key for key in old_values if old_values[key] != new_values[key]]

    def keeping_restart_only(self, new: AgentConfig) -> AgentConfig:
        """``new`` with this configuration's restart-only values: what a reload really runs."""
        kept_retry = {key: getattr(self.retry, key) for key in _RESTART_ONLY_RETRY_KEYS}
        return dataclasses.replace(new, spool=self.spool, memory_budget=self.memory_budget,
                                   retry=dataclasses.replace(new.retry, **kept_retry))

    def _restart_only_values(self) -> dict[str, Any]:
        values = {f"spool.{f.name}": getattr(self.spool, f.name) for f in dataclasses.fields(self.spool)}
        values.update({f"retry.{key}": getattr(self.retry, key) for key in _RESTART_ONLY_RETRY_KEYS})
        values["memory_budget"] = self.memory_budget
        return values

    @property
    def forward(self) -> Any:
        """The first Forward input's config (None without one): the common single-input case."""
        return next((spec.config for spec in self.inputs if spec.kind == "forward"), None)

    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value (shared keys, passwords, tokens, header values)."""
        configs = [self.http, *(spec.config for spec in self.inputs), *(spec.config for spec in self.outputs)]
        return tuple(sorted(set().union(*(secret_values(c) for c in configs))))

    def router(self) -> Router:
        return Router({spec.name: spec.matcher() for spec in self.outputs})

    def enricher(self) -> Enricher:
        return Enricher.from_config(self.identity, self.identity_env)


def read_yaml(path: str, key: str) -> dict[str, Any]:
    """The YAML document at ``path`` as a mapping (empty file = {}); ConfigError naming ``key``."""
    import yaml  # only with a file: an env-only agent saves PyYAML's ~1.4 MiB

    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as err:
        raise ConfigError(key, f"cannot read {path!r}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ConfigError(key, f"{path!r} is not UTF-8 text") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(key, f"{path!r} is not valid YAML{where}") from err
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(key, f"{path!r} must hold a mapping at the top level")
    return document


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
    return value


def _section(config_class: Any, document: Mapping[str, Any], key: str, env: Mapping[str, str]) -> Any:
    """``config_class.from_dict`` of a YAML section with its env overrides on top; a failure caused
    by an env value is reported under the variable's name."""
    overrides = {field: var for field, var in _SECTION_ENV.get(key, {}).items() if var in env}
    data = _mapping(document.get(key), key) | {f: _env_value(env, var) for f, var in overrides.items()}
    try:
        return config_class.from_dict(data)
    except ConfigError as err:
        field_name = err.key.partition(".")[2]
        if field_name in overrides:
            raise ConfigError(overrides[field_name], err.message) from err
        raise


def _env_value(env: Mapping[str, str], var: str) -> Any:
    # Sizes are parsed here so "LOG_AGENT_SPOOL_MAX_BYTES: not a size" names the variable.
    return parse_size(env[var], var) if var == ENV_SPOOL_MAX_BYTES else env[var]


def _top_level(document: Mapping[str, Any], env: Mapping[str, str], key: str, var: str,
               default: Any) -> tuple[Any, str]:
    """A top-level setting and the name to blame for it: the variable beats the YAML key."""
    if var in env:
        return env[var], var
    return document.get(key, default), key


def _with_legacy_http_listen(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The top-level ``http_listen`` of earlier releases as ``http.listen``."""
    if "http_listen" not in document:
        return document
    section = _mapping(document.get("http"), "http")
    if "listen" in section:
        raise ConfigError("http_listen", "use http.listen only (http_listen is its older name)")
    return {**document, "http": {**section, "listen": document["http_listen"]}}


def _memory_budget(document: Mapping[str, Any]) -> int:
    value = parse_size(document.get("memory_budget", DEFAULT_BUDGET_BYTES), "memory_budget")
    if value < MIN_MEMORY_BUDGET:
        raise ConfigError("memory_budget", f"must be at least {MIN_MEMORY_BUDGET} (4 MiB)")
    return value


def _log_level(document: Mapping[str, Any], env: Mapping[str, str]) -> str:
    level, key = _top_level(document, env, "log_level", ENV_LOG_LEVEL, "info")
    if not isinstance(level, str) or level.lower() not in LOG_LEVELS:
        raise ConfigError(key, f"must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return level.lower()


def _inputs(document: Mapping[str, Any], env: Mapping[str, str]) -> tuple[InputSpec, ...]:
    """The ``inputs:`` list (default: one Forward input), the legacy ``forward:`` section as the one
    Forward input, then the env shortcuts (inputs.ENV_SHORTCUTS) on top; errors name the item."""
    if "forward" in document:
        if "inputs" in document:
            raise ConfigError("forward", "use the inputs: list or the forward: section, not both")
        items: list[Any] = [{"type": "forward", **_mapping(document["forward"], "forward")}]
        keys = ["forward"]
    else:
        items = document["inputs"] if "inputs" in document else default_inputs()
        if not isinstance(items, list):
            raise ConfigError("inputs", "expected a list of inputs, each {type: <kind>, ...options}")
        items = [dict(_mapping(item, f"inputs[{i}]")) for i, item in enumerate(items)]
        keys = [f"inputs[{i}]" for i in range(len(items))]
    from_env: dict[tuple[int, str], str] = {}  # (item index, option) -> the variable that set it
    for var, (kind, option) in ENV_SHORTCUTS.items():
        if var not in env:
            continue
        index = next((i for i, item in enumerate(items) if item.get("type") == kind), None)
        if index is None:
            items.append({"type": kind})
            keys.append(var)
            index = len(items) - 1
        items[index][option] = env[var]
        from_env[index, option] = var
    specs: list[InputSpec] = []
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        options = dict(item)
        kind = options.pop("type", None)
        if kind not in INPUT_REGISTRY:
            known = ", ".join(INPUT_REGISTRY)
            raise ConfigError(f"{key}.type", f"unknown input type {kind!r} (known: {known})")
        try:
            config = input_config_from_dict(kind, options)
        except ConfigError as err:
            option = err.key.partition(".")[2]
            raise (ConfigError(from_env[index, option], err.message) if (index, option) in from_env
                   else rekey(err, key)) from err
        spec = InputSpec(kind, config)
        if spec.name in {s.name for s in specs}:
            message = f"input name {spec.name!r} is used twice; give each a unique name"
            raise ConfigError(f"{key}.name", message)
        specs.append(spec)
    return tuple(specs)


# --- L3: inputs that keep a checkpoint (journald, files) -------------------------------------------
def _with_state_dir(specs: tuple[InputSpec, ...], spool: SpoolConfig) -> tuple[InputSpec, ...]:
    """Give every input with a ``state_dir`` option left empty ``<spool dir>/inputs``: checkpoints live
    on the spool's volume, next to the records they describe."""
    default = os.path.join(spool.dir, "inputs")
    return tuple(InputSpec(spec.kind, dataclasses.replace(spec.config, state_dir=default))
                 if getattr(spec.config, "state_dir", None) == "" else spec for spec in specs)
# --- end L3 ---------------------------------------------------------------------------------------


def _outputs(document: Mapping[str, Any], env: Mapping[str, str]) -> tuple[OutputSpec, ...]:
    """LOG_AGENT_OUTPUT replaces the YAML ``outputs`` list; with neither, records go to stdout."""
    if ENV_OUTPUT in env:
        urls = [u.strip() for u in env[ENV_OUTPUT].split(",") if u.strip()]
        items: list[Any] = [{"url": url} for url in urls]
        prefix = ENV_OUTPUT
    else:
        items = document.get("outputs") or []
        prefix = "outputs"
        if not isinstance(items, list):
            raise ConfigError("outputs", "expected a list of outputs")
    if not items:
        return (OutputSpec("stdout", "stdout", DEFAULT_MATCH, StdoutOutputConfig()),)
    specs: list[OutputSpec] = []
    for index, item in enumerate(items):
        spec = _output_spec(item, f"{prefix}[{index}]")
        specs.append(_unique(spec, {s.name for s in specs}, f"{prefix}[{index}]"))
    return tuple(specs)


def _output_spec(item: Any, key: str) -> OutputSpec:
    item = dict(_mapping(item, key))
    url, kind = item.pop("url", None), item.pop("kind", None)
    name, match = item.pop("name", None), item.pop("match", DEFAULT_MATCH)
    if url is not None:
        if not isinstance(url, str):
            raise ConfigError(f"{key}.url", "expected a URL string")
        url_kind = kind_of_url(url, f"{key}.url")
        if kind is not None and kind != url_kind:
            raise ConfigError(f"{key}.kind", f"{kind!r} does not match the url's scheme ({url_kind})")
        kind = url_kind
    elif kind is None:
        raise ConfigError(key, f"needs url or kind (one of {', '.join(REGISTRY)})")
    elif kind not in REGISTRY:
        raise ConfigError(f"{key}.kind", f"unknown output kind {kind!r} (known: {', '.join(REGISTRY)})")
    try:
        config = config_from_url(url, item)[1] if url is not None else config_from_dict(kind, item)
    except ConfigError as err:
        raise rekey(err, key) from err
    except ValueError:  # urlsplit: "Invalid IPv6 URL"; never echo the URL, it may carry a password
        raise ConfigError(f"{key}.url", "malformed URL (check brackets, port and escaping)") from None
    if name is not None and (not isinstance(name, str) or not _OUTPUT_NAME.match(name)):
        raise ConfigError(f"{key}.name", "use 1-64 letters, digits, '_', '.' or '-', starting alphanumeric")
    patterns = [match] if isinstance(match, str) else match
    if not isinstance(patterns, list | tuple) or not all(isinstance(p, str) for p in patterns):
        raise ConfigError(f"{key}.match", "expected a tag pattern or a list of them")
    return OutputSpec(name or kind, kind, TagMatcher(patterns, f"{key}.match").patterns, config)


def _unique(spec: OutputSpec, taken: set[str], key: str) -> OutputSpec:
    """Env outputs get kind, kind-2, kind-3...; YAML names must be unique (they name spool cursors)."""
    if spec.name not in taken:
        return spec
    if key.startswith("outputs"):
        raise ConfigError(f"{key}.name", f"output name {spec.name!r} is used twice; give each a unique name")
    number = 2
    while f"{spec.name}-{number}" in taken:
        number += 1
    return OutputSpec(f"{spec.name}-{number}", spec.kind, spec.match, spec.config)

