"""The journald input's configuration, and whether a journal is mounted at all (the default-on test)."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..confparse import PARSE, SectionConfig, parse_duration, parse_size
from ..errors import ConfigError
from ..processors import ProcessorSpec, parse_processors
from .journal_fields import FIELDS_READ

DEFAULT_JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")


def journal_mounted() -> bool:
    """True when a journal file exists in a journal directory or the <machine-id> directory below it
    (balena's io.balena.features.journal-logs label mounts both); an empty directory does not count."""
    for directory in DEFAULT_JOURNAL_DIRS:
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                if entry.name.endswith(".journal") or (
                        entry.is_dir() and any(n.endswith(".journal") for n in os.listdir(entry.path))):
                    return True
    return False


def _patterns(value: Any, key: str) -> tuple[str, ...]:
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigError(key, "expected a glob pattern, a comma-separated string or a list of them")
    return tuple(items)


def _field_names(value: Any, key: str) -> tuple[str, ...]:
    names = _patterns(value, key)
    for name in names:
        if not name.replace("_", "").isalnum() or not name.isupper():
            raise ConfigError(key, f"{name!r} is not a journal field name (upper case, digits, '_')")
    return names


@dataclass(slots=True)
class JournaldInputConfig(SectionConfig):
    """``path``: a journal directory or one ``.journal`` file (empty: the system journal).
    ``read_from`` applies to the first run only (no checkpoint yet)."""

    SECTION: ClassVar[str] = "journald"
    name: str = "journald"
    enabled: bool = True
    path: str = ""
    tag: str = "journal"
    include_units: tuple[str, ...] = field(default=(), metadata={PARSE: _patterns})
    exclude_units: tuple[str, ...] = field(default=(), metadata={PARSE: _patterns})
    include_containers: tuple[str, ...] = field(default=(), metadata={PARSE: _patterns})
    exclude_containers: tuple[str, ...] = field(default=(), metadata={PARSE: _patterns})
    read_from: Literal["head", "tail"] = "tail"
    batch_max_entries: int = 5000
    batch_wait: float = field(default=0.05, metadata={PARSE: parse_duration})  # latency for fewer fsyncs
    checkpoint_interval: float = field(default=5.0, metadata={PARSE: parse_duration})
    max_line_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    max_entry_bytes: int = field(default=16 * 1024 * 1024, metadata={PARSE: parse_size})  # JSON of one entry
    partial_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})
    journalctl: str = "journalctl"
    # The agent's own container's lines: with a stdout output they would come back through the
    # journal, be printed again, and so on without end.
    exclude_self: bool = True
    extra_fields: tuple[str, ...] = field(default=(), metadata={PARSE: _field_names})
    state_dir: str = ""  # the checkpoint's directory; empty: <spool dir>/inputs (config.py fills it)
    processors: tuple[ProcessorSpec, ...] = field(default=(), metadata={PARSE: parse_processors})

    def validate(self) -> None:
        if self.enabled and self.path and not os.path.exists(self.path):
            raise ConfigError("journald.path", f"{self.path!r} does not exist (mount the journal)")
        if self.enabled and shutil.which(self.journalctl) is None:
            raise ConfigError("journald.journalctl", f"{self.journalctl!r} not found (the image needs "
                              "journalctl: Debian's systemd package)")
        if self.enabled and not self.path and not journal_mounted():
            raise ConfigError("journald.enabled", "no journal under /var/log/journal or /run/log/journal: "
                              "mount it (balena: io.balena.features.journal-logs) or set path")
        if self.batch_max_entries <= 0:
            raise ConfigError("journald.batch_max_entries", "must be positive")
        if not self.tag:
            raise ConfigError("journald.tag", "must not be empty")

    def location(self) -> list[str]:
        if not self.path:
            return []
        return [f"--file={self.path}" if os.path.isfile(self.path) else f"--directory={self.path}"]

    def fields_read(self) -> tuple[str, ...]:
        """The fields asked of journalctl and kept from its output (the cursor and time too)."""
        return tuple(dict.fromkeys(("__CURSOR", "__REALTIME_TIMESTAMP", *FIELDS_READ, *self.extra_fields)))

    def command(self, cursor: str | None) -> list[str]:
        fields = ",".join(name for name in self.fields_read() if not name.startswith("__"))
        command = [self.journalctl, "--output=export", f"--output-fields={fields}", "--follow", "--all",
                   "--no-pager"]
        command += self.location()
        if cursor:
            command.append(f"--cursor={cursor}")  # not --after-cursor: it skips one entry blindly
        else:
            command.append("--no-tail" if self.read_from == "head" else "--lines=0")
        return command
