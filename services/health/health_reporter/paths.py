"""Where the host's /proc, /sys and / are seen from the reporter (a container bind-mounts them elsewhere).

psutil has no HOST_PROC setting of its own (that is gopsutil's), so ``use_for_psutil`` maps our proc root
onto ``psutil.PROCFS_PATH``; psutil's /sys reads are hard-coded, which is why the sysfs collectors read
files themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class Paths:
    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    root: Path = Path("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Paths:
        """HOST_PROC (or HEALTH_HOST_PROC), HOST_SYS, HOST_ROOT; each must name an existing directory.
        ``env`` is the one mapping config.Config.from_env reads."""
        return cls(
            proc=_directory(env, ("HEALTH_HOST_PROC", "HOST_PROC"), "/proc"),
            sys=_directory(env, ("HOST_SYS",), "/sys"),
            root=_directory(env, ("HOST_ROOT",), "/"),
        )

    def in_proc(self, *parts: str) -> Path:
        return _joined(self.proc, parts)

    def in_sys(self, *parts: str) -> Path:
        return _joined(self.sys, parts)

    def on_host(self, host_path: str) -> Path:
        """A host path (e.g. a mount point from /proc/1/mounts) as reachable from here."""
        return self.root / host_path.lstrip("/")

    def use_for_psutil(self) -> None:
        """psutil reads /proc through a module global; cheap enough to re-assert before each read."""
        if str(self.proc) != psutil.PROCFS_PATH:
            psutil.PROCFS_PATH = str(self.proc)


@lru_cache(maxsize=2048)
def _joined(base: Path, parts: tuple[str, ...]) -> Path:
    """The same few hundred /proc and /sys paths are joined every sample; pathlib's joining cost about a
    quarter of a fast sample. Bounded: devices coming and going only evict the oldest."""
    return base.joinpath(*parts)


def _directory(env: Mapping[str, str], variables: tuple[str, ...], default: str) -> Path:
    """The first of ``variables`` that is set (else ``default``); an error names the one that was set."""
    variable, value = next(((name, env[name]) for name in variables if env.get(name)), ("", default))
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(variable or variables[0], f"{value!r} is not a directory")
    return path
