"""Where the host's /proc, /sys and / are seen from the reporter (a container bind-mounts them elsewhere).

psutil has no HOST_PROC setting of its own (that is gopsutil's), so ``use_for_psutil`` maps our proc root
onto ``psutil.PROCFS_PATH``; psutil's /sys reads are hard-coded, which is why the sysfs collectors read
files themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class Paths:
    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    root: Path = Path("/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Paths:
        """HOST_PROC (or HEALTH_HOST_PROC), HOST_SYS, HOST_ROOT; each must name an existing directory."""
        env = os.environ if env is None else env
        proc = env.get("HEALTH_HOST_PROC") or env.get("HOST_PROC") or "/proc"
        return cls(
            proc=_directory("HOST_PROC", proc),
            sys=_directory("HOST_SYS", env.get("HOST_SYS") or "/sys"),
            root=_directory("HOST_ROOT", env.get("HOST_ROOT") or "/"),
        )

    def in_proc(self, *parts: str) -> Path:
        return self.proc.joinpath(*parts)

    def in_sys(self, *parts: str) -> Path:
        return self.sys.joinpath(*parts)

    def on_host(self, host_path: str) -> Path:
        """A host path (e.g. a mount point from /proc/1/mounts) as reachable from here."""
        return self.root / host_path.lstrip("/")

    def use_for_psutil(self) -> None:
        """psutil reads /proc through a module global; cheap enough to re-assert before each read."""
        if str(self.proc) != psutil.PROCFS_PATH:
            psutil.PROCFS_PATH = str(self.proc)


def _directory(variable: str, value: str) -> Path:
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(f"{variable}: {value!r} is not a directory")
    return path
