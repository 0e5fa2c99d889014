"""One memory budget for the whole agent: bytes held for input that is not stored yet.

Every input reserves what it is about to hold (a frame being received, a payload being inflated, a
chunk being spliced) and releases it once the bytes are in the spool or thrown away. A reservation
that does not fit waits up to its timeout for others to finish, then fails with BudgetExceeded: the
Forward input closes that connection (counted as ``memory_budget``), the record-building inputs wait
and retry. So sixteen connections each inflating a bomb share one cap instead of sixteen.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import BudgetExceeded

DEFAULT_BUDGET_BYTES = 32 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_MMAP_THRESHOLD_BYTES = 128 * 1024

log = logging.getLogger(__name__)


def return_freed_memory_promptly() -> None:
    """Serve buffers of 128 KiB and more (frames, inflated pieces, chunks) from mmap, given back to
    the kernel when freed. glibc raises this threshold by itself after such frees, and then keeps
    tens of MiB after a burst (measured: 16 inflating connections left RSS at 76 MiB instead of 40).
    Same as MALLOC_MMAP_THRESHOLD_=131072; does nothing on a libc without mallopt (musl)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES):
            log.debug("mallopt(M_MMAP_THRESHOLD) refused")
    except (OSError, AttributeError) as err:
        log.debug("mallopt not available: %s", err)


class MemoryBudget:
    def __init__(self, limit_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.limit = limit_bytes
        self.in_use = 0
        self.peak = 0
        self.refused = 0  # reservations that did not fit in time
        self.waits = 0  # reservations that had to wait
        self._cond = threading.Condition()

    def acquire(self, amount: int, timeout: float = 0.0) -> None:
        """Reserve ``amount`` bytes, waiting up to ``timeout`` seconds; BudgetExceeded otherwise."""
        if amount <= 0:
            return
        with self._cond:
            if amount > self.limit:
                self.refused += 1
                raise BudgetExceeded(f"{amount} bytes is more than the whole memory budget ({self.limit})")
            if self.in_use + amount > self.limit:
                self.waits += 1
                deadline = time.monotonic() + timeout
                while self.in_use + amount > self.limit:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self.refused += 1
                        raise BudgetExceeded(f"memory budget in use ({self.in_use} of {self.limit} bytes)")
                    self._cond.wait(remaining)
            self.in_use += amount
            self.peak = max(self.peak, self.in_use)

    def release(self, amount: int) -> None:
        if amount <= 0:
            return
        with self._cond:
            self.in_use = max(0, self.in_use - amount)
            self._cond.notify_all()

    @contextmanager
    def hold(self, amount: int, timeout: float = 0.0) -> Iterator[None]:
        self.acquire(amount, timeout)
        try:
            yield
        finally:
            self.release(amount)


class BudgetCollector:
    """/metrics: ``log_agent_memory_budget_bytes{state="in_use|peak|limit"}`` and
    ``log_agent_memory_budget_refused_total`` (reservations that found no room in time)."""

    def __init__(self, budget: MemoryBudget) -> None:
        self.budget = budget

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        sizes = GaugeMetricFamily("log_agent_memory_budget_bytes",
                                  "Bytes of input held before it is stored, against the one budget.",
                                  labels=["state"])
        for state, value in (("in_use", self.budget.in_use), ("peak", self.budget.peak),
                             ("limit", self.budget.limit)):
            sizes.add_metric([state], value)
        yield sizes
        yield CounterMetricFamily("log_agent_memory_budget_refused",
                                  "Reservations that found no room in the memory budget in time.",
                                  value=self.budget.refused)
