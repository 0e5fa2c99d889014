"""Metrics that apps publish as ``*.prom`` files in a directory (node_exporter's textfile collector), so
a device app needs no exporter of its own.

As node_exporter: files in the Prometheus text format; a file that does not parse, or that carries
timestamps, is skipped whole and sets ``node_textfile_scrape_error`` to 1; each file read successfully
gets ``node_textfile_mtime_seconds{file}``; the same metric in several files must have the same help
text. Write files atomically (write ``x.prom.$$`` then rename), as node_exporter's README says.

Unlike node_exporter, a file is parsed again only when its (inode, size, mtime) changes, every input is
bounded (``max_file_bytes`` per file, ``max_files`` files, ``max_series`` series in all: beyond them the
rest is skipped and counted as an error), families named like the reporter's own (``device_*``,
``process_*``, ``node_textfile_*``) are skipped and counted as an error, and histogram and summary
series are exported untyped under their sample names (``x_bucket``, ``x_sum``, ``x_count``): the same
series and values for queries.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..models import Kind, Sample, gauge
from ..paths import Paths
from .common import BaseCollector, OptionError, check_text

log = logging.getLogger(__name__)

MTIME_HELP = "Unixtime mtime of textfiles successfully read."
ERROR_HELP = "1 if there was an error opening or reading a file, 0 otherwise"
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SAMPLE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*")
LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')
TYPES = {"counter", "gauge", "untyped", "histogram", "summary"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
# The reporter's own namespaces: a file must not feed the checks (device_cpu_temperature_celsius...) or
# pose as the reporter's process or this collector (node_exporter refuses such collisions too).
RESERVED_PREFIXES = ("device_", "process_", "node_textfile_")
ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class TextfileOptions:
    directory: str = ""  # "" = off (node_exporter's default); a glob selects several directories
    max_file_bytes: int = 1024 * 1024
    max_files: int = 100
    max_series: int = 10_000

    def __post_init__(self) -> None:
        check_text("directory", self.directory)
        if self.directory and not self.directory.startswith("/"):
            raise OptionError("directory", f"must be an absolute path, got {self.directory!r}")
        for key in ("max_file_bytes", "max_files", "max_series"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise OptionError(key, f"must be a whole number above 0, got {value!r}")


class TextfileError(ValueError):
    """One file is unusable: it is skipped whole."""


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str | None = None
    typed: bool = False  # a TYPE line was seen
    samples: list[tuple[str, tuple[tuple[str, str], ...], float]] = field(default_factory=list)


def parse_text_format(text: str) -> dict[str, Family]:
    """The Prometheus text format 0.0.4, strictly enough that node_exporter's rejects are rejected."""
    families: dict[str, Family] = {}
    current: Family | None = None
    for number, line in enumerate(text.splitlines(), 1):
        try:
            current = _parse_line(line.strip(), families, current)
        except TextfileError as err:
            raise TextfileError(f"line {number}: {err}") from None
    return families


def _parse_line(line: str, families: dict[str, Family], current: Family | None) -> Family | None:
    if not line:
        return current
    if line.startswith("#"):
        parts = line[1:].split(None, 2)
        if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
            return current  # an ordinary comment
        keyword, name = parts[0], parts[1]
        if not METRIC_NAME.match(name):
            raise TextfileError(f"invalid metric name {name!r}")
        family = families.setdefault(name, Family(name))
        if keyword == "HELP":
            if family.help is not None:
                raise TextfileError(f"second HELP line for {name}")
            family.help = _unescape(parts[2] if len(parts) > 2 else "", help_text=True)
        else:
            kind = parts[2].strip() if len(parts) > 2 else ""
            if kind not in TYPES:
                raise TextfileError(f"unknown type {kind!r} for {name}")
            if family.samples or family.typed:
                raise TextfileError(f"TYPE line for {name} after its samples or twice")
            family.type, family.typed = kind, True
        return family
    name, labels, value = _parse_sample(line)
    family = _family_of(name, families, current)
    family.samples.append((name, labels, value))
    return family


def _family_of(name: str, families: dict[str, Family], current: Family | None) -> Family:
    inside = current is not None and current.type in SUFFIXES and name.startswith(current.name)
    if inside and (name == current.name or name.removeprefix(current.name) in SUFFIXES[current.type]):
        return current
    return families.setdefault(name, Family(name))


def _parse_sample(line: str) -> tuple[str, tuple[tuple[str, str], ...], float]:
    match = SAMPLE_NAME.match(line)
    if match is None:
        raise TextfileError(f"not a sample: {line[:60]!r}")
    name, rest = match[1], line[match.end() :]
    labels: list[tuple[str, str]] = []
    if rest.startswith("{"):
        rest = rest[1:]
        while not rest.lstrip().startswith("}"):
            pair = LABEL_PAIR.match(rest)
            if pair is None:
                raise TextfileError(f"bad labels in {line[:60]!r}")
            labels.append((pair[1], _unescape(pair[2])))
            rest = rest[pair.end() :]
            if not pair[3] and not rest.lstrip().startswith("}"):
                raise TextfileError(f"expected , or }} in {line[:60]!r}")
        rest = rest.lstrip()[1:]
    fields = rest.split()
    if len(fields) == 2:
        raise TextfileError("client-side timestamps are not supported")
    if len(fields) != 1:
        raise TextfileError(f"expected one value in {line[:60]!r}")
    if len({key for key, _ in labels}) != len(labels):
        raise TextfileError(f"a label appears twice in {line[:60]!r}")
    return name, tuple(labels), _parse_value(fields[0])


def _parse_value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError:
        raise TextfileError(f"bad value {text[:30]!r}") from None


def _unescape(text: str, help_text: bool = False) -> str:
    pattern = r"\\\\|\\n" if help_text else r'\\\\|\\"|\\n'
    return re.sub(pattern, lambda m: ESCAPES[m[0]], text)


@dataclass(frozen=True)
class ParsedFile:
    path: str
    mtime: float
    families: dict[str, Family]


class TextfileCollector(BaseCollector):
    name = "textfile"
    Options = TextfileOptions

    def __init__(self, paths: Paths, options: Any = None) -> None:
        super().__init__(paths, options)
        self._parsed: dict[tuple[str, int, int, int], ParsedFile | str] = {}

    def collect(self) -> list[Sample]:
        files, errored = self._files()
        samples: list[Sample] = []
        helps: dict[str, str | None] = {}
        types: dict[str, str] = {}
        sources: dict[str, list[str]] = {}
        mtimes: list[tuple[str, float]] = []
        series = 0
        for parsed in files:
            if isinstance(parsed, str):
                errored = True
                continue
            for family in parsed.families.values():
                if family.name.startswith(RESERVED_PREFIXES):
                    log.warning(
                        "textfile %s: %s is the reporter's own name, skipped", parsed.path, family.name
                    )
                    errored = True
                    continue
                if family.name in helps and (
                    family.help != helps[family.name] or family.type != types[family.name]
                ):
                    log.warning(
                        "textfile %s: %s has another help text or type than before", parsed.path, family.name
                    )
                    errored = True
                    continue
                helps.setdefault(family.name, family.help)
                types.setdefault(family.name, family.type)
                sources.setdefault(family.name, []).append(parsed.path)
                if series + len(family.samples) > self.options.max_series:
                    log.warning("textfile: more than %d series, the rest skipped", self.options.max_series)
                    errored = True
                    continue
                series += len(family.samples)
                samples += _family_samples(family)
            mtimes.append((parsed.path, parsed.mtime))
        samples = [_with_help(sample, helps, sources) for sample in samples]
        samples += [
            gauge("node_textfile_mtime_seconds", mtime, MTIME_HELP, file=path)
            for path, mtime in sorted(mtimes)
        ]
        samples.append(gauge("node_textfile_scrape_error", float(errored), ERROR_HELP))
        return samples

    def _files(self) -> tuple[list[ParsedFile | str], bool]:
        """Each *.prom file parsed (or the reason it was skipped); True when a directory failed."""
        directory = self.options.directory
        if not directory:
            return [], False
        directories = sorted(glob.glob(directory)) if glob.has_magic(directory) else [directory]
        errored = not directories
        entries: list[str] = []
        for path in directories:
            try:
                entries += [
                    os.path.join(path, name) for name in sorted(os.listdir(path)) if name.endswith(".prom")
                ]
            except OSError as err:
                log.warning("textfile: cannot read directory %s: %s", path, err.strerror or err)
                errored = True
        if len(entries) > self.options.max_files:
            log.warning("textfile: %d files, only the first %d read", len(entries), self.options.max_files)
            entries, errored = entries[: self.options.max_files], True
        results = [self._parse_cached(path) for path in entries]
        live = {key for key, _ in results}
        self._parsed = {key: value for key, value in self._parsed.items() if key in live}
        return [parsed for _, parsed in results], errored

    def _parse_cached(self, path: str) -> tuple[tuple[str, int, int, int], ParsedFile | str]:
        try:
            stat = os.stat(path)
        except OSError as err:
            return (path, 0, 0, 0), f"{path}: {err.strerror or err}"
        key = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in self._parsed:
            self._parsed[key] = self._parse(path, stat.st_mtime)
            if isinstance(self._parsed[key], str):
                log.warning("textfile: skipped %s", self._parsed[key])
        return key, self._parsed[key]

    def _parse(self, path: str, mtime: float) -> ParsedFile | str:
        try:
            with open(path, "rb") as file:
                data = file.read(self.options.max_file_bytes + 1)
        except OSError as err:
            return f"{path}: {err.strerror or err}"
        if len(data) > self.options.max_file_bytes:
            return f"{path}: larger than {self.options.max_file_bytes} bytes"
        try:
            families = parse_text_format(data.decode("utf-8"))
        except (TextfileError, UnicodeDecodeError) as err:
            return f"{path}: {err}"
        return ParsedFile(path, float(int(mtime)), families)


def _family_samples(family: Family) -> list[Sample]:
    """Counters keep their type when their samples end in _total (what OpenMetrics can carry)."""
    if family.type == "gauge":
        kind = Kind.GAUGE
    elif family.type == "counter" and all(name.endswith("_total") for name, _, _ in family.samples):
        kind = Kind.COUNTER
    else:
        kind = Kind.UNTYPED
    return [Sample(name, value, kind, family.name, labels) for name, labels, value in family.samples]


def _with_help(sample: Sample, helps: dict[str, str | None], sources: dict[str, list[str]]) -> Sample:
    """The sample's help field carried its family name until every file was seen."""
    family = sample.help
    text = helps.get(family) or f"Metric read from {', '.join(sources.get(family, []))}"
    return Sample(sample.name, sample.value, sample.kind, text, sample.labels)
