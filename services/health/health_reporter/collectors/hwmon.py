"""Every hwmon sensor under <sys>/class/hwmon as node_exporter's hwmon collector names it: temperatures
(node_hwmon_temp_celsius, _max/_crit/_crit_hyst...), fans (node_hwmon_fan_rpm, _min_rpm...), voltages,
currents, power, energy, humidity, alarms, plus node_hwmon_chip_names and node_hwmon_sensor_label.

The ``chip`` label is node_exporter's: derived from the sensor's device path (``platform_coretemp_0``),
else the ``name`` file, else ``hwmonN``, so dashboards and alerts keyed on it match. Slow cadence: a Pi
has a few files, a PC a few hundred.
"""

from __future__ import annotations

import errno
import os
import re
from collections import Counter
from pathlib import Path

from ..errors import CollectorError
from ..models import Sample, counter, gauge
from .base import Cadence
from .common import BaseCollector

INVALID_CHARS = re.compile(r"[^a-z0-9:_]")
FILENAME = re.compile(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$")
SENSOR_TYPES = frozenset(
    {
        "vrm",
        "beep_enable",
        "update_interval",
        "in",
        "cpu",
        "fan",
        "pwm",
        "temp",
        "curr",
        "power",
        "energy",
        "humidity",
        "intrusion",
        "freq",
    }
)
READ_LIMIT = 128  # node_exporter reads one 128-byte chunk: some drivers answer EAGAIN forever otherwise


def clean_name(name: str) -> str:
    return INVALID_CHARS.sub("_", name.lower()).strip("_")


def split_filename(filename: str) -> tuple[str, int, str] | None:
    """'temp1_crit_alarm' -> ('temp', 1, 'crit_alarm'); 'fan2_input' -> ('fan', 2, 'input')."""
    match = FILENAME.match(filename)
    if match is None:
        return None
    return match["type"], int(match["id"] or 0), match["property"] or ""


def read_value(path: Path) -> str | None:
    """One read of a sensor file; None when the sensor has no reading (node_exporter skips it too)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, READ_LIMIT).decode("utf-8", errors="replace").strip("\n")
    except OSError:
        return None
    finally:
        os.close(fd)


def sensor_data(directory: Path, data: dict[str, dict[str, str]]) -> None:
    try:
        names = os.listdir(directory)
    except OSError as err:
        raise CollectorError(f"cannot list {directory}: {err.strerror or err}") from err
    for filename in names:
        parts = split_filename(filename)
        if parts is None or parts[0] not in SENSOR_TYPES:
            continue
        kind, number, prop = parts
        value = read_value(directory / filename)
        if value is not None:
            data.setdefault(f"{kind}{number}", {})[prop] = value


def chip_base_name(directory: Path) -> str | None:
    """node_exporter's hwmonName: <device type>_<device name> from the resolved device link, else the
    name file, else the hwmonN directory name."""
    device = directory / "device"
    if os.path.lexists(device):
        resolved = Path(os.path.realpath(device))
        dev_name, dev_type = clean_name(resolved.name), clean_name(resolved.parent.name)
        if dev_type and dev_name:
            return f"{dev_type}_{dev_name}"
        if dev_name:
            return dev_name
    name = _name_file(directory)
    if name and clean_name(name):
        return clean_name(name)
    return clean_name(Path(os.path.realpath(directory)).name) or None


def _name_file(directory: Path) -> str:
    try:
        return (directory / "name").read_text(errors="replace").strip()
    except OSError:
        return ""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def sensor_samples(chip: str, sensor: str, values: dict[str, str]) -> list[Sample]:
    """node_exporter's updateHwmon for one sensor: metric name and unit by sensor type and property."""
    kind = split_filename(sensor)[0]  # type: ignore[index]  (sensor names are built from a match)
    labels = {"chip": chip, "sensor": sensor}
    samples = []
    if "label" in values:
        samples.append(
            gauge(
                "node_hwmon_sensor_label",
                1,
                "Label for given chip and sensor",
                **labels,
                label=values["label"],
            )
        )
    if kind == "beep_enable":
        return [
            *samples,
            gauge("node_hwmon_beep_enabled", float(values.get("") == "1"), "Hardware beep enabled", **labels),
        ]
    if kind in ("vrm", "update_interval"):
        value = _number(values.get("", ""))
        if value is None:
            return samples
        if kind == "vrm":
            return [
                *samples,
                gauge("node_hwmon_voltage_regulator_version", value, "Hardware voltage regulator", **labels),
            ]
        return [
            *samples,
            gauge(
                "node_hwmon_update_interval_seconds",
                value * 0.001,
                "Hardware monitor update interval",
                **labels,
            ),
        ]
    prefix = f"node_hwmon_{kind}"
    for element, text in values.items():
        if element == "label":
            continue
        value = _number(text)
        if value is None:
            continue
        name = prefix
        if element == "input":
            if "" in values:
                name += "_input"
        elif element:
            name += "_" + clean_name(element)
        sample = _unit_sample(kind, element, name, value, values, labels)
        if sample is not None:
            samples.append(sample)
    return samples


def _unit_sample(
    kind: str, element: str, name: str, value: float, values: dict[str, str], labels: dict[str, str]
) -> Sample | None:
    if element in ("fault", "alarm"):
        return gauge(name, value, f"Hardware sensor {element} status ({kind})", **labels)
    if element == "beep":
        return gauge(name + "_enabled", value, "Hardware monitor sensor has beeping enabled", **labels)
    if kind in ("in", "cpu"):
        return gauge(name + "_volts", value * 0.001, f"Hardware monitor for voltage ({element})", **labels)
    if kind == "temp" and element != "type":
        return gauge(
            name + "_celsius",
            value * 0.001,
            f"Hardware monitor for temperature ({element or 'input'})",
            **labels,
        )
    if kind == "curr":
        return gauge(name + "_amps", value * 0.001, f"Hardware monitor for current ({element})", **labels)
    if kind == "energy":
        return counter(
            name + "_joule_total",
            value / 1e6,
            f"Hardware monitor for joules used so far ({element})",
            **labels,
        )
    if kind == "power" and element == "accuracy":
        return gauge(name, value / 1e6, "Hardware monitor power meter accuracy, as a ratio", **labels)
    if kind == "power" and element in ("average_interval", "average_interval_min", "average_interval_max"):
        return gauge(
            name + "_seconds",
            value * 0.001,
            f"Hardware monitor power usage update interval ({element})",
            **labels,
        )
    if kind == "power":
        return gauge(
            name + "_watt", value / 1e6, f"Hardware monitor for power usage in watts ({element})", **labels
        )
    if kind == "humidity":
        return gauge(name, value / 1e6, f"Hardware monitor for humidity, as a ratio ({element})", **labels)
    if kind == "fan" and element in ("input", "min", "max", "target"):
        return gauge(
            name + "_rpm", value, f"Hardware monitor for fan revolutions per minute ({element})", **labels
        )
    if kind == "freq":
        if element == "input" and "label" in values:
            freq_labels = {"chip": labels["chip"], "sensor": clean_name(values["label"])}
            return gauge(
                name + "_freq_mhz", value / 1e6, "Hardware monitor for GPU frequency in MHz", **freq_labels
            )
        return None
    return gauge(name, value, f"Hardware monitor {kind} element {element}", **labels)


class HwmonCollector(BaseCollector):
    name = "hwmon"
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        root = self.paths.in_sys("class", "hwmon")
        try:
            entries = sorted(os.listdir(root))
        except OSError as err:
            if err.errno == errno.ENOENT:
                return []  # no hwmon drivers on this machine
            raise CollectorError(f"cannot list {root}: {err.strerror or err}") from err
        chips = []
        for entry in entries:
            directory = root / entry
            if directory.is_dir():
                base = chip_base_name(directory)
                if base is not None:
                    chips.append((directory, base, _name_file(directory)))
        return [
            sample for directory, chip in unique_chip_names(chips) for sample in self._chip(directory, chip)
        ]

    def _chip(self, directory: Path, chip: str) -> list[Sample]:
        data: dict[str, dict[str, str]] = {}
        sensor_data(directory, data)
        if (directory / "device").is_dir():
            sensor_data(directory / "device", data)
        samples = []
        name = clean_name(_name_file(directory))
        if name:
            samples.append(
                gauge(
                    "node_hwmon_chip_names",
                    1,
                    "Annotation metric for human-readable chip names",
                    chip=chip,
                    chip_name=name,
                )
            )
        for sensor in sorted(data):
            samples += sensor_samples(chip, sensor, data[sensor])
        return samples


def unique_chip_names(chips: list[tuple[Path, str, str]]) -> list[tuple[Path, str]]:
    """Several hwmon nodes of one device share a base name: suffix the name file, else hwmonN (upstream)."""
    bases = Counter(base for _, base, _ in chips)
    pairs = Counter((base, name) for _, base, name in chips)
    unique = []
    for directory, base, name in chips:
        chip = base
        if bases[base] > 1:
            suffix = clean_name(name)
            if not suffix or pairs[(base, name)] > 1:
                suffix = clean_name(directory.name)
            chip = f"{base}_{suffix}"
        unique.append((directory, chip))
    return unique
