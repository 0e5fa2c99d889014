"""Clock synchronisation from the kernel's NTP state, read with adjtimex(2) in read-only mode (modes=0;
needs no privilege and is not namespaced), falling back to systemd-timesyncd's marker file."""

from __future__ import annotations

import ctypes
import functools
import os
from dataclasses import dataclass

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, OptionError, flag, gauge

STA_UNSYNC = 0x0040
STA_NANO = 0x2000
# The kernel sets maxerror to NTP_PHASE_LIMIT (16 s) while unsynchronised; systemd's ntp_synced() uses
# maxerror < 16 s rather than STA_UNSYNC because chrony leaves STA_UNSYNC set unless rtcsync is on.
UNSYNCED_MAXERROR_US = 16_000_000
TIMESYNCD_MARKER = "run/systemd/timesync/synchronized"

SYNCED_HELP = "1 when the system clock is synchronised (maximum error below 16 s, as systemd decides)."


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Timex(ctypes.Structure):
    """struct timex from <sys/timex.h> (glibc's non-time64 layout, which the plain adjtimex symbol uses)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)  # the C library already loaded into this process


def libc_adjtimex(timex_pointer: object) -> int:
    """adjtimex(2): the clock state (TIME_OK... TIME_ERROR); OSError when the call is refused."""
    state = _libc().adjtimex(timex_pointer)
    if state < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return state


def read_timex() -> Timex:
    timex = Timex()  # modes = 0: read only
    libc_adjtimex(ctypes.byref(timex))
    return timex


def timex_samples(timex: Timex) -> list[Sample]:
    """The reporter's own verdict; the timex collector exports node_exporter's node_timex_* series."""
    return [gauge("device_clock_synchronized", flag(timex.maxerror < UNSYNCED_MAXERROR_US), SYNCED_HELP)]


@dataclass(frozen=True)
class ClockOptions:
    use_adjtimex: bool = True  # off: only the timesyncd marker (e.g. seccomp profiles that deny adjtimex)

    def __post_init__(self) -> None:
        if not isinstance(self.use_adjtimex, bool):
            raise OptionError("use_adjtimex", f"must be true or false, got {self.use_adjtimex!r}")


class ClockCollector(BaseCollector):
    name = "clock"
    Options = ClockOptions

    def collect(self) -> list[Sample]:
        if self.options.use_adjtimex:
            try:
                return timex_samples(read_timex())
            except (OSError, AttributeError):
                pass  # the marker file below is the fallback
        marker = self.paths.on_host(TIMESYNCD_MARKER)
        if not marker.parent.is_dir():
            raise CollectorError(f"adjtimex unavailable and {marker.parent} does not exist")
        # timesyncd touches the marker on each successful sync and never removes it: a weaker signal.
        return [gauge("device_clock_synchronized", flag(marker.exists()), SYNCED_HELP)]
