"""Power supplies and batteries from <sys>/class/power_supply (node_exporter's powersupplyclass
collector: its whole-number attributes, e.g. node_power_supply_online; the voltage, current, energy
and info series are not read here)."""

from __future__ import annotations

from ..models import Sample, gauge
from .base import Cadence
from .common import BaseCollector, parse_number, read_optional

ATTRIBUTES = {  # sysfs file -> node_exporter's name
    "authentic": "authentic",
    "calibrate": "calibrate",
    "capacity": "capacity",
    "capacity_alert_max": "capacity_alert_max",
    "capacity_alert_min": "capacity_alert_min",
    "cycle_count": "cyclecount",
    "online": "online",
    "present": "present",
    "time_to_empty_now": "time_to_empty_seconds",
    "time_to_full_now": "time_to_full_seconds",
}


class PowerSupplyCollector(BaseCollector):
    name = "power_supply"
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        root = self.paths.in_sys("class", "power_supply")
        samples = []
        for supply in sorted(root.iterdir()) if root.is_dir() else ():
            for file, name in ATTRIBUTES.items():
                text = read_optional(supply / file)
                if text:
                    help_text = f"{name} value of /sys/class/power_supply/<power_supply>."
                    value = parse_number(text, supply / file)
                    samples.append(
                        gauge(f"node_power_supply_{name}", value, help_text, power_supply=supply.name)
                    )
        return samples
