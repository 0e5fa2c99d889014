"""The input registry: kind -> (module, ConfigClass, InputClass), like the outputs' registry.

An input module is imported when its kind is first looked up (an agent that only reads the journal
never imports the Forward server). To add an input: write ``inputs/<kind>.py`` with a
``<Kind>InputConfig(SectionConfig)`` (``from_dict`` rejects unknown keys, ``name`` field = metrics
label) and an ``Input`` class taking that config, then add one line to ``_KINDS`` and, if the
common case needs no YAML file, one line to ``ENV_SHORTCUTS``. config.py builds the ``inputs:`` list
from both; nothing else in the core changes.

    REGISTRY["forward"]            -> (ForwardInputConfig, ForwardInput)
    build_input("forward", config) -> a ForwardInput, not started
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..registry import LazyRegistry
from .base import Input

# kind -> (module, config class, input class)
_KINDS: dict[str, tuple[str, str, str]] = {
    "forward": ("forward", "ForwardInputConfig", "ForwardInput"),
    "journald": ("journald", "JournaldInputConfig", "JournaldInput"),
    "files": ("files", "FilesInputConfig", "FilesInput"),
    "syslog": ("syslog", "SyslogInputConfig", "SyslogInput"),
    "http": ("http", "HttpInputConfig", "HttpInput"),
}

# Environment variable -> (input kind, config key it sets). A variable that is set gives the first
# ``inputs:`` entry of that kind this key (the variable wins over the YAML file), or adds an entry
# ``{type: kind, key: value}`` when the list has none of that kind.
ENV_SHORTCUTS: dict[str, tuple[str, str]] = {
    "LOG_AGENT_FORWARD_LISTEN": ("forward", "listen"),
    "LOG_AGENT_JOURNALD": ("journald", "enabled"),
    "LOG_AGENT_JOURNAL_PATH": ("journald", "path"),
    "LOG_AGENT_TAIL": ("files", "paths"),
    "LOG_AGENT_SYSLOG_LISTEN": ("syslog", "listen"),
}


def default_inputs() -> list[dict[str, Any]]:
    """The ``inputs:`` list when neither the YAML file nor an env shortcut names any input."""
    from .journal_config import journal_mounted

    # balena's io.balena.features.journal-logs label mounts the host journal: read it by default.
    return [{"type": "forward"}, *([{"type": "journald"}] if journal_mounted() else [])]


REGISTRY: Mapping[str, tuple[type, type]] = LazyRegistry(__name__, _KINDS)


def config_from_dict(kind: str, options: Mapping[str, Any]) -> Any:
    """The kind's validated config from its options (ConfigError keys are "<kind>.<key>")."""
    if kind not in _KINDS:
        raise ConfigError("type", f"unknown input type {kind!r} (known: {', '.join(_KINDS)})")
    config_class, _ = REGISTRY[kind]
    return config_class.from_dict(dict(options))


def build_input(kind: str, config: Any) -> Input:
    """An input instance of ``kind`` (not started)."""
    _, input_class = REGISTRY[kind]
    return input_class(config)
