"""``LazyRegistry``: kind -> (ConfigClass, ComponentClass), importing a kind's module on first lookup.

The input and output registries are one of these each, so an agent imports only the modules of the
kinds its configuration names (an agent that only reads the journal never imports the Forward server).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping


class LazyRegistry(Mapping[str, tuple[type, type]]):
    """Read-only; ``kinds`` maps kind -> (module in ``package``, config class name, class name)."""

    def __init__(self, package: str, kinds: Mapping[str, tuple[str, str, str]]) -> None:
        self._package = package
        self._kinds = kinds

    def __getitem__(self, kind: str) -> tuple[type, type]:
        module_name, config_name, class_name = self._kinds[kind]
        module = importlib.import_module(f"{self._package}.{module_name}")
        return getattr(module, config_name), getattr(module, class_name)

    def __contains__(self, kind: object) -> bool:  # Mapping's would import the module
        return kind in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)
