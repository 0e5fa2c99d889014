"""The output registry: kind -> (ConfigClass, OutputClass), and URL schemes -> kind.

Output modules are imported when a kind is first looked up (no work at import time, and an agent
that only ships to Loki never imports the Forward client).

    REGISTRY["loki"]                   -> (LokiOutputConfig, LokiOutput)
    output_from_url("loki+https://...") -> a ready LokiOutput
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..registry import LazyRegistry
from .base import Output

# kind -> (module, config class, output class)
_KINDS: dict[str, tuple[str, str, str]] = {
    "forward": ("forward", "ForwardOutputConfig", "ForwardOutput"),
    "http": ("http", "HttpOutputConfig", "HttpOutput"),
    "loki": ("loki", "LokiOutputConfig", "LokiOutput"),
    "elasticsearch": ("elasticsearch", "ElasticsearchOutputConfig", "ElasticsearchOutput"),
    "file": ("file", "FileOutputConfig", "FileOutput"),
    "stdout": ("stdout", "StdoutOutputConfig", "StdoutOutput"),
}

# URL scheme (LOG_AGENT_OUTPUT, outputs[].url) -> kind
SCHEMES: dict[str, str] = {
    "forward": "forward",
    "forwards": "forward",
    "http": "http",
    "https": "http",
    "loki+http": "loki",
    "loki+https": "loki",
    "es+http": "elasticsearch",
    "es+https": "elasticsearch",
    "opensearch+http": "elasticsearch",
    "opensearch+https": "elasticsearch",
    "file": "file",
    "stdout": "stdout",
    "stderr": "stdout",
}


REGISTRY: Mapping[str, tuple[type, type]] = LazyRegistry(__name__, _KINDS)


def kind_of_url(url: str, key: str = "url") -> str:
    """The output kind a URL's scheme selects; ConfigError naming ``key`` otherwise."""
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise ConfigError(key, f"unsupported scheme {scheme!r} (supported: {known})")
    return SCHEMES[scheme]


def config_from_url(url: str, options: Mapping[str, Any] | None = None) -> tuple[str, Any]:
    """(kind, config) from a URL, with ``options`` (YAML keys) overriding what the URL says."""
    kind = kind_of_url(url)
    config_class, _ = REGISTRY[kind]
    config = config_class.from_url(url)
    if options:
        # Round-trip through from_dict so the options get the same checks as a YAML-only output.
        config = config_class.from_dict({**dataclasses.asdict(config), **options})
    return kind, config


def config_from_dict(kind: str, options: Mapping[str, Any]) -> Any:
    if kind not in _KINDS:
        raise ConfigError("kind", f"unknown output kind {kind!r} (known: {', '.join(_KINDS)})")
    config_class, _ = REGISTRY[kind]
    return config_class.from_dict(dict(options))


def build_output(kind: str, config: Any, name: str | None = None) -> Output:
    """An output instance of ``kind``; ``name`` (metrics label, cursor name) defaults to the kind's."""
    _, output_class = REGISTRY[kind]
    output = output_class(config)
    if name:
        output.name = name
    return output


def output_from_url(url: str, name: str | None = None) -> Output:
    """A ready output from one LOG_AGENT_OUTPUT URL such as ``es+https://host:9200/logs``."""
    kind, config = config_from_url(url)
    return build_output(kind, config, name)
