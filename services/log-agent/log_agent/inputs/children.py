"""Children of the agent that die with it, also when it is SIGKILLed (journalctl for the journald input).

Linux's ``prctl(PR_SET_PDEATHSIG, SIGTERM)`` asks the kernel to SIGTERM the child when the *thread*
that started it ends: start children from the thread that owns them for as long as they are wanted.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_agent() -> Callable[[], None] | None:
    """A preexec_fn: the kernel SIGTERMs journalctl when the thread that started it ends, also when the
    agent is SIGKILLed (prctl PR_SET_PDEATHSIG; that thread is the input's, alive as long as the
    child is wanted). None off Linux. The same idea as wifi_connect.children; candidate for
    sidecar_common."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the agent died between fork and prctl
            os._exit(1)

    return set_death_signal
