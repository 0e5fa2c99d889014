"""Every node_exporter timex series from adjtimex(2) in read-only mode (modes=0: no privilege needed).

The synchronised flag is adjtimex's return value (TIME_ERROR = 5 means unsynchronised), as upstream;
the clock collector's device_clock_synchronized applies systemd's stricter maxerror rule instead.
"""

from __future__ import annotations

import ctypes

from ..models import Sample, counter, gauge
from .clock import STA_NANO, Timex, libc_adjtimex
from .common import BaseCollector

TIME_ERROR = 5
PPM16FRAC = 1_000_000.0 * 65536.0  # freq, ppsfreq and stabil are ppm with a 16-bit fraction


def timex_samples(state: int, timex: Timex) -> list[Sample]:
    divisor = 1e9 if timex.status & STA_NANO else 1e6
    values = [
        (
            "sync_status",
            float(state != TIME_ERROR),
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
        ),
        (
            "offset_seconds",
            timex.offset / divisor,
            "Time offset in between local system and reference clock.",
        ),
        ("frequency_adjustment_ratio", 1 + timex.freq / PPM16FRAC, "Local clock frequency adjustment."),
        ("maxerror_seconds", timex.maxerror / 1e6, "Maximum error in seconds."),
        ("estimated_error_seconds", timex.esterror / 1e6, "Estimated error in seconds."),
        ("status", float(timex.status), "Value of the status array bits."),
        ("loop_time_constant", float(timex.constant), "Phase-locked loop time constant."),
        ("tick_seconds", timex.tick / 1e6, "Seconds between clock ticks."),
        ("pps_frequency_hertz", timex.ppsfreq / PPM16FRAC, "Pulse per second frequency."),
        ("pps_jitter_seconds", timex.jitter / divisor, "Pulse per second jitter."),
        ("pps_shift_seconds", float(timex.shift), "Pulse per second interval duration."),
        (
            "pps_stability_hertz",
            timex.stabil / PPM16FRAC,
            "Pulse per second stability, average of recent frequency changes.",
        ),
        ("tai_offset_seconds", float(timex.tai), "International Atomic Time (TAI) offset."),
    ]
    counts = [
        ("pps_jitter_total", timex.jitcnt, "Pulse per second count of jitter limit exceeded events."),
        ("pps_calibration_total", timex.calcnt, "Pulse per second count of calibration intervals."),
        ("pps_error_total", timex.errcnt, "Pulse per second count of calibration errors."),
        (
            "pps_stability_exceeded_total",
            timex.stbcnt,
            "Pulse per second count of stability limit exceeded events.",
        ),
    ]
    return [gauge(f"node_timex_{name}", value, text) for name, value, text in values] + [
        counter(f"node_timex_{name}", value, text) for name, value, text in counts
    ]


class TimexCollector(BaseCollector):
    name = "timex"

    def collect(self) -> list[Sample]:
        timex = Timex()  # modes = 0: read only
        state = libc_adjtimex(ctypes.byref(timex))
        return timex_samples(state, timex)
