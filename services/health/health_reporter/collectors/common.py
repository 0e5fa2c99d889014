"""What every collector module shares: options parsing, file reads with clear errors, sample builders."""

from __future__ import annotations

import dataclasses
import errno
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from ..errors import CollectorError, ConfigError
from ..models import Sample, counter, gauge, info  # noqa: F401  (collectors import them from here)
from ..paths import Paths
from .base import Cadence
from .kept_files import read_file

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For collectors without settings: any key given to them is a mistake worth reporting."""


OPTIONS_VARIABLE = "HEALTH_COLLECTOR_OPTIONS"


def options_from_dict(cls: type, section: str, data: Mapping[str, Any]) -> Any:
    """Build the options dataclass ``cls``; an unknown key raises ConfigError naming ``section.key``."""
    known = {field.name for field in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{section}.{key}", f"unknown option (known: {', '.join(sorted(known)) or 'none'})"
            )
    try:
        return cls(**data)
    except OptionError as err:
        raise ConfigError(f"{section}.{err.key}", err.problem) from err
    except (TypeError, ValueError) as err:
        raise ConfigError(section, str(err)) from err


class BaseCollector(ABC):
    """Paths + options held for ``collect``; ``from_options`` is the REGISTRY factory."""

    name: ClassVar[str]
    cadence: ClassVar[Cadence] = Cadence.FAST
    Options: ClassVar[type] = NoOptions

    def __init__(self, paths: Paths, options: Any = None) -> None:
        self.paths = paths
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_options(cls, paths: Paths, options: Mapping[str, Any] | None = None) -> Self:
        section = f"{OPTIONS_VARIABLE}.{cls.name}"
        return cls(paths, options_from_dict(cls.Options, section, options or {}))

    @abstractmethod
    def collect(self) -> list[Sample]:
        """The samples of this area; raises CollectorError when the source cannot be read."""

    def read_with_psutil(self, source: str, call: Callable[[], T]) -> T:
        """``call`` a psutil function against our proc root; its failures name the file it reads."""
        self.paths.use_for_psutil()
        try:
            return call()
        # psutil signals a malformed or missing file with these (an assert for odd /proc/net/dev lines).
        except (OSError, ValueError, RuntimeError, NotImplementedError, AssertionError) as err:
            raise CollectorError(f"cannot read {self.paths.in_proc(source)}: {err}") from err


def run_tool(program: str, args: list[str], timeout: float) -> str | None:
    """stdout of an optional helper tool (vcgencmd, iw); None when it is not installed or disabled ("")."""
    path = shutil.which(program) if program else None
    if path is None:
        return None
    try:
        # No check=True: the callers' parsers judge the output (iw exits non-zero when not associated).
        return subprocess.run([path, *args], capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError) as err:
        raise CollectorError(f"{program} {' '.join(args)} failed: {err}") from err


class OptionError(ValueError):
    """One option's value is wrong; ``options_from_dict`` prefixes the key with its collector's section."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def check_regex(value: object, key: str) -> None:
    """OptionError naming ``key`` unless ``value`` compiles as a regular expression."""
    try:
        re.compile(value)  # type: ignore[call-overload]
    except (re.error, TypeError) as err:
        raise OptionError(key, f"not a regular expression: {err}") from err


def check_timeout(seconds: object) -> None:
    """For options' __post_init__: a timeout is a number of seconds in (0, 30]."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 30:
        raise OptionError("timeout", f"must be a number of seconds in (0, 30], got {seconds!r}")


def check_url(key: str, url: object) -> None:
    """For options' __post_init__: an http(s) URL, or "" for "don't probe"."""
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        raise OptionError(key, f"must be an http:// URL or empty, got {url!r}")


def check_text(key: str, value: object, allow_empty: bool = True) -> None:
    """For options' __post_init__: a string (a program name, a socket path, a metric family)."""
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise OptionError(key, f"must be {wanted}, got {value!r}")


def read_text(path: Path | str) -> str:
    """A file that must exist; any OSError (ENOENT, EACCES, EISDIR) becomes a CollectorError naming it."""
    try:
        return read_file(path)
    except OSError as err:
        raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err


# Errors a sysfs attribute gives when its sensor has no reading right now (a thermal zone of a WiFi card
# that is down answers ENODATA): no sample, like a missing file. EACCES or EISDIR stay errors.
_NO_READING = frozenset({errno.ENOENT, errno.ENODATA, errno.EINVAL, errno.EAGAIN, errno.ENXIO, errno.ENODEV})


def read_optional(path: Path | str) -> str | None:
    """A sensor file that may be absent (no sensor is not a failure); unreadable is still an error."""
    try:
        return read_file(path).strip()
    except OSError as err:
        if err.errno in _NO_READING:
            return None
        raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err


def parse_number(text: str, path: Path | str) -> float:
    try:
        return float(text)
    except ValueError as err:
        raise CollectorError(f"{path}: expected a number, got {text[:40]!r}") from err


def flag(value: bool) -> float:
    return 1.0 if value else 0.0
