"""CPU frequencies and governors from <sys>/devices/system/cpu/cpu<N>/cpufreq (node_exporter's cpufreq).

sysfs gives kHz; node_exporter exports hertz. cpuinfo_cur_freq is readable by root only: without
privilege that one series is left out, as node_exporter (procfs) does.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from ..errors import CollectorError
from ..models import Sample
from .base import Cadence
from .common import BaseCollector, gauge, parse_number

CPU_DIR = re.compile(r"^cpu(\d+)$")
KHZ_FILES = {  # file -> (metric, help), node_exporter's names
    "cpuinfo_cur_freq": ("node_cpu_frequency_hertz", "Current CPU thread frequency in hertz."),
    "cpuinfo_avg_freq": ("node_cpu_frequency_avg_hertz", "Average CPU thread frequency in hertz."),
    "cpuinfo_min_freq": ("node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz."),
    "cpuinfo_max_freq": ("node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz."),
    "scaling_cur_freq": ("node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."),
    "scaling_min_freq": (
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    "scaling_max_freq": (
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
}
GOVERNOR_HELP = "Current enabled CPU frequency governor."
# A file a driver does not provide, or one only root may read: that value is simply not reported.
_ABSENT = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENODATA, errno.EINVAL, errno.EBUSY})


def read_attribute(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as err:
        if err.errno in _ABSENT:
            return None
        raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err


class CpuFreqCollector(BaseCollector):
    name = "cpufreq"
    cadence = Cadence.FAST  # the current frequency is what the dashboard plots

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        for cpu, cpufreq in self._cpus():
            for file, (metric, help_text) in KHZ_FILES.items():
                text = read_attribute(cpufreq / file)
                if text:
                    samples.append(
                        gauge(metric, parse_number(text, cpufreq / file) * 1000, help_text, cpu=cpu)
                    )
            governor = read_attribute(cpufreq / "scaling_governor")
            if governor:
                available = (read_attribute(cpufreq / "scaling_available_governors") or "").split(" ")
                samples += [
                    gauge(
                        "node_cpu_scaling_governor",
                        float(name == governor),
                        GOVERNOR_HELP,
                        cpu=cpu,
                        governor=name,
                    )
                    for name in available
                ]
        return samples

    def _cpus(self) -> list[tuple[str, Path]]:
        """(cpu number, its cpufreq directory) for each CPU that has one, in CPU order."""
        cpus = []
        for entry in self.paths.in_sys("devices", "system", "cpu").glob("cpu*"):
            match = CPU_DIR.match(entry.name)
            if match and (entry / "cpufreq").is_dir():
                cpus.append((int(match[1]), entry / "cpufreq"))
        return [(str(number), path) for number, path in sorted(cpus)]
