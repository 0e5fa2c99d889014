"""node_os_info and node_os_version from the host's os-release (node_exporter's os collector).

Read from <root>/etc/os-release, else <root>/usr/lib/os-release, and parsed again only when the file's
(inode, size, mtime) changes: node_exporter re-reads it on every scrape, this reads a stat per sample.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import CollectorError
from ..models import Sample
from ..paths import Paths
from .base import Cadence
from .common import BaseCollector, gauge

INFO_HELP = (
    "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, "
    "name, pretty_name, variant, variant_id, version, version_codename, version_id."
)
VERSION_HELP = "Metric containing the major.minor part of the OS version."
SUPPORT_END_HELP = "Metric containing the end-of-life date timestamp of the OS."
FILES = ("etc/os-release", "usr/lib/os-release")
INFO_LABELS = {  # label -> os-release key, in node_exporter's label order
    "build_id": "BUILD_ID",
    "id": "ID",
    "id_like": "ID_LIKE",
    "image_id": "IMAGE_ID",
    "image_version": "IMAGE_VERSION",
    "name": "NAME",
    "pretty_name": "PRETTY_NAME",
    "variant": "VARIANT",
    "variant_id": "VARIANT_ID",
    "version": "VERSION",
    "version_codename": "VERSION_CODENAME",
    "version_id": "VERSION_ID",
}
MAJOR_MINOR = re.compile(r"^[0-9]+\.?[0-9]*")
MAX_BYTES = 64 * 1024  # os-release is a few hundred bytes; never read an arbitrary file whole


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting (os-release(5)); comments and blank lines skipped."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw, comments=False)
        except ValueError as err:
            raise CollectorError(f"os-release: {key}: {err}") from err
        values[key.strip()] = " ".join(words)
    return values


def os_release_samples(values: dict[str, str]) -> list[Sample]:
    samples = [
        gauge(
            "node_os_info", 1, INFO_HELP, **{label: values.get(key, "") for label, key in INFO_LABELS.items()}
        )
    ]
    major_minor = MAJOR_MINOR.match(values.get("VERSION_ID", ""))
    version = float(major_minor[0]) if major_minor else 0.0
    if version > 0:
        ids = {
            "id": values.get("ID", ""),
            "id_like": values.get("ID_LIKE", ""),
            "name": values.get("NAME", ""),
        }
        samples.append(gauge("node_os_version", version, VERSION_HELP, **ids))
    if support_end := values.get("SUPPORT_END"):
        try:
            end = datetime.strptime(support_end, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError as err:
            raise CollectorError(f"os-release: SUPPORT_END={support_end!r} is not YYYY-MM-DD") from err
        samples.append(gauge("node_os_support_end_timestamp_seconds", end.timestamp(), SUPPORT_END_HELP))
    return samples


class OsReleaseCollector(BaseCollector):
    name = "os"
    cadence = Cadence.SLOW

    def __init__(self, paths: Paths, options: Any = None) -> None:
        super().__init__(paths, options)
        self._cached: tuple[tuple[str, int, int, int], list[Sample]] | None = None

    def collect(self) -> list[Sample]:
        for relative in FILES:
            path = self.paths.on_host(relative)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            except OSError as err:
                raise CollectorError(f"cannot stat {path}: {err.strerror or err}") from err
            key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, os_release_samples(parse_os_release(_read_small(path))))
            return list(self._cached[1])
        return []  # no os-release: nothing to report (node_exporter: no data)


def _read_small(path: Path) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as err:
        raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err
    if len(data) > MAX_BYTES:
        raise CollectorError(f"{path} is larger than {MAX_BYTES} bytes")
    return data.decode("utf-8", errors="replace")
