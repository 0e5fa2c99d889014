"""Child processes that die with the daemon, even when it is SIGKILLed (OOM killer, ``docker kill``).

Linux's ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` asks the kernel to send SIGTERM to the child when the
*thread* that forked it exits, so children must be started from a thread that lives as long as the
daemon needs them (the main thread or the controller thread). The setting survives ``exec`` (also through
``ip netns exec``) but not a fork (the portal's forked worker sets it again itself, ``web.server``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()  # resolved here, not in the forked child, where only async-safe work belongs


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: SIGTERM this child when the calling thread's process dies.

    None off Linux (no such call; the orphan then outlives us, as before). Combine it with
    ``start_new_session``/``process_group`` rather than calling setsid here: those stay race-free."""
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody would signal us
            os._exit(1)

    return set_parent_death_signal
