"""Raspberry Pi under-voltage and throttling from the firmware's get_throttled word: sysfs first (no
subprocess), then `vcgencmd get_throttled`, then the rpi_volt hwmon alarm (under-voltage only).
Nothing to read means "not a Pi": no samples, no failure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CollectorError
from ..models import Sample
from .base import Cadence
from .common import BaseCollector, check_text, check_timeout, flag, gauge, read_optional, run_tool

RAW_HELP = "The firmware's get_throttled bit field."
FLAG_HELP = "1 when the condition is present now (period=now) or occurred since boot (period=since_boot)."
UNDERVOLTED_HELP = "1 when the supply voltage is below the Pi's limit now."

# Bits 0-3 are "now"; the same conditions 16 bits higher are "has occurred" (Raspberry Pi docs).
CONDITIONS = ("under_voltage", "frequency_capped", "throttled", "soft_temp_limit")
SINCE_BOOT_SHIFT = 16
SYSFS_GLOBS = (
    "devices/platform/soc/soc:firmware/get_throttled",
    "devices/platform/soc*/*firmware*/get_throttled",
)


def decode_throttled(raw: int) -> dict[tuple[str, str], bool]:
    """{(condition, period): set}; e.g. 0x50005 -> under_voltage and throttled, now and since boot."""
    flags = {}
    for bit, condition in enumerate(CONDITIONS):
        flags[(condition, "now")] = bool(raw >> bit & 1)
        flags[(condition, "since_boot")] = bool(raw >> (bit + SINCE_BOOT_SHIFT) & 1)
    return flags


def parse_throttled(text: str) -> int:
    """'0x50005', '50005' (sysfs prints hex without 0x) or vcgencmd's 'throttled=0x50005'."""
    match = re.fullmatch(r"\s*(?:throttled=)?(?:0x)?([0-9a-fA-F]+)\s*", text)
    if match is None:
        raise CollectorError(f"get_throttled: unexpected value {text[:40]!r}")
    return int(match[1], 16)


@dataclass(frozen=True)
class ThrottlingOptions:
    vcgencmd: str = "vcgencmd"  # looked up on PATH; "" disables the subprocess fallback
    timeout: float = 2.0

    def __post_init__(self) -> None:
        check_text("vcgencmd", self.vcgencmd)
        check_timeout(self.timeout)


class ThrottlingCollector(BaseCollector):
    name = "throttling"
    cadence = Cadence.SLOW
    Options = ThrottlingOptions

    def collect(self) -> list[Sample]:
        raw = self._sysfs_word()
        if raw is None:
            raw = self._vcgencmd_word()
        if raw is not None:
            return throttled_samples(raw)
        alarm = self._hwmon_alarm()
        if alarm is not None:
            return [gauge("device_undervolted", flag(alarm), UNDERVOLTED_HELP)]
        return []

    def _sysfs_word(self) -> int | None:
        for path in _first_matches(self.paths.sys, SYSFS_GLOBS):
            text = read_optional(path)
            if text:
                return parse_throttled(text)
        return None

    def _vcgencmd_word(self) -> int | None:
        output = run_tool(self.options.vcgencmd, ["get_throttled"], self.options.timeout)
        return None if output is None else parse_throttled(output)

    def _hwmon_alarm(self) -> bool | None:
        # rpi_volt (raspberrypi-hwmon) polls the firmware every 2 s; in0_lcrit_alarm is its
        # under-voltage bit from the last poll.
        for chip_dir in sorted(self.paths.in_sys("class", "hwmon").glob("hwmon*")):
            if read_optional(chip_dir / "name") == "rpi_volt":
                alarm = read_optional(chip_dir / "in0_lcrit_alarm")
                if alarm:
                    return alarm != "0"
        return None


def throttled_samples(raw: int) -> list[Sample]:
    samples = [gauge("device_throttled_raw", raw, RAW_HELP)]
    samples += [
        gauge("device_throttled", flag(is_set), FLAG_HELP, condition=condition, period=period)
        for (condition, period), is_set in decode_throttled(raw).items()
    ]
    samples.append(gauge("device_undervolted", flag(raw & 1), UNDERVOLTED_HELP))
    return samples


def _first_matches(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    return [path for pattern in patterns for path in sorted(root.glob(pattern))]
