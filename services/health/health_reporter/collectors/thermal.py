"""Thermal zones and cooling devices from <sys>/class/thermal and one normalised CPU temperature, read
directly: psutil's sensors_temperatures() costs ~25 ms and hard-codes /sys. A Pi shows its CPU
temperature as hwmon cpu_thermal or only as thermal zone cpu-thermal (node_exporter #1722), so both are
looked at; the hwmon series themselves come from the hwmon collector, with node_exporter's chip labels."""

from __future__ import annotations

from pathlib import Path

from ..models import Sample
from .base import Cadence
from .common import BaseCollector, gauge, parse_number, read_optional

ZONE_HELP = "Thermal zone temperature in degrees Celsius."
COOLING_HELP = {
    "cur_state": "Current throttle state of the cooling device",
    "max_state": "Maximum throttle state of the cooling device",
}
CPU_HELP = "CPU temperature: a CPU hwmon chip if there is one, else a CPU thermal zone."

CPU_CHIPS = ("cpu_thermal", "coretemp", "k10temp", "zenpower", "soc_thermal", "cpu-thermal")
CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "soc-thermal", "soc_thermal", "x86_pkg_temp")


def millidegrees(path: Path) -> float | None:
    text = read_optional(path)
    return None if text is None or text == "" else parse_number(text, path) / 1000


class ThermalCollector(BaseCollector):
    name = "thermal"
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        hwmon = self._hwmon()
        zones = self._zones()
        samples = [
            gauge("node_thermal_zone_temp", celsius, ZONE_HELP, zone=zone, type=kind)
            for zone, kind, celsius in zones
        ]
        samples += self._cooling_devices()
        cpu = cpu_temperature(hwmon, zones)
        if cpu is not None:
            samples.append(gauge("device_cpu_temperature_celsius", cpu, CPU_HELP))
        return samples

    def _hwmon(self) -> list[tuple[str, str, float]]:
        readings = []
        for chip_dir in sorted(self.paths.in_sys("class", "hwmon").glob("hwmon*")):
            chip = read_optional(chip_dir / "name") or chip_dir.name
            for sensor_file in sorted(chip_dir.glob("temp*_input")):
                celsius = millidegrees(sensor_file)
                if celsius is not None:
                    readings.append((chip, sensor_file.name.removesuffix("_input"), celsius))
        return readings

    def _cooling_devices(self) -> list[Sample]:
        """Fans and throttling states (node_exporter's thermal_zone collector exports them too)."""
        samples = []
        for device in sorted(self.paths.in_sys("class", "thermal").glob("cooling_device*")):
            name = device.name.removeprefix("cooling_device")
            kind = read_optional(device / "type") or ""
            for state in ("cur_state", "max_state"):
                text = read_optional(device / state)
                if text:
                    value = parse_number(text, device / state)
                    samples.append(
                        gauge(
                            f"node_cooling_device_{state}", value, COOLING_HELP[state], name=name, type=kind
                        )
                    )
        return samples

    def _zones(self) -> list[tuple[str, str, float]]:
        readings = []
        for zone_dir in sorted(self.paths.in_sys("class", "thermal").glob("thermal_zone*")):
            celsius = millidegrees(zone_dir / "temp")
            if celsius is not None:
                kind = read_optional(zone_dir / "type") or ""
                readings.append((zone_dir.name.removeprefix("thermal_zone"), kind, celsius))
        return readings


def cpu_temperature(hwmon: list[tuple[str, str, float]], zones: list[tuple[str, str, float]]) -> float | None:
    for chip, _sensor, celsius in hwmon:
        if chip in CPU_CHIPS:
            return celsius
    for _zone, kind, celsius in zones:
        if kind in CPU_ZONE_TYPES:
            return celsius
    return None
