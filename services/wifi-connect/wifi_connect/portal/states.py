"""The lifecycle as data: states, events, a {(state, event): handler} table and generation-stamped timers.

Every state entry bumps ``generation``; a timer remembers the generation it was armed in and is dropped
when it fires in a later one, so a timer armed by an earlier visit to a state can never act on this one
(comitup's ``state_id``, without globals). Events from other threads are queued; one thread runs handlers.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..models import State
from .ports import Clock

log = logging.getLogger(__name__)


class Event(enum.StrEnum):
    START = "start"
    TICK = "tick"  # periodic: re-check connectivity (a long safety net), supervise the portal's processes
    NM_CHANGED = "nm_changed"  # NetworkManager reported a change (its D-Bus signals); payload: None
    LOST_TIMEOUT = "lost_timeout"  # CONNECTED: connectivity has been missing for the tolerance
    LINGER_OVER = "linger_over"  # CONNECTED, two interfaces: the success page had its time; portal down
    GRACE_OVER = "grace_over"  # saved networks had their chance at start
    CONNECT = "connect"  # payload: (Attempt, Credentials)
    RETRY_DUE = "retry_due"  # time to retry saved networks from the portal
    ACTIVITY_TIMEOUT = "activity_timeout"
    SETUP_MODE = "setup_mode"
    STOP = "stop"


Handler = Callable[[object], None]
Table = Mapping[tuple[State, Event], Handler]


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(order=True)
class _Timer:
    due: float
    order: int
    generation: int = field(compare=False)
    event: Event = field(compare=False)


class StateMachine:
    """Dispatches events through ``table``; ``on_enter(previous, state, reason)`` hears every change."""

    def __init__(self, table: Table, clock: Clock, on_enter: Callable[[State, State, str], None]) -> None:
        self.table = table
        self.clock = clock
        self.on_enter = on_enter
        self.state = State.STARTING
        self.generation = 0
        self._events: queue.SimpleQueue[tuple[Event, object]] = queue.SimpleQueue()
        self._timers: list[_Timer] = []
        self._order = itertools.count()

    def enter(self, state: State, reason: str = "") -> None:
        previous, self.state = self.state, state
        self.generation += 1
        self.on_enter(previous, state, reason)

    def after(self, seconds: float, event: Event) -> None:
        """Fire ``event`` in ``seconds`` unless the state changes first."""
        due = self.clock.monotonic() + seconds
        heapq.heappush(self._timers, _Timer(due, next(self._order), self.generation, event))

    def post(self, event: Event, payload: object = None) -> None:
        """Queue an event; safe from any thread."""
        self._events.put((event, payload))

    def dispatch(self, event: Event, payload: object = None) -> None:
        """Run the handler for (current state, event) now, in this thread; unknown pairs are ignored."""
        handler = self.table.get((self.state, event))
        if handler is None:
            log.debug("ignored %s in %s", event, self.state)
            return
        handler(payload)

    def next_timer_due(self) -> float | None:
        self._drop_stale_timers()
        return self._timers[0].due if self._timers else None

    def run_pending(self) -> None:
        """Handle queued events and timers that are due now (the tests drive the machine with this)."""
        while True:
            try:
                event, payload = self._events.get_nowait()
            except queue.Empty:
                if not self._fire_one_due_timer():
                    return
            else:
                self.dispatch(event, payload)

    def run_until_stopped(self) -> None:
        """The daemon's loop: sleep until the next event or timer, handle it; return once STOPPING."""
        while self.state is not State.STOPPING:
            due = self.next_timer_due()
            wait = None if due is None else max(0.0, due - self.clock.monotonic())
            try:
                event, payload = self._events.get(timeout=wait)
            except queue.Empty:
                self._fire_one_due_timer()
            else:
                self.dispatch(event, payload)

    def _drop_stale_timers(self) -> None:
        while self._timers and self._timers[0].generation != self.generation:
            heapq.heappop(self._timers)

    def _fire_one_due_timer(self) -> bool:
        self._drop_stale_timers()
        if not self._timers or self._timers[0].due > self.clock.monotonic():
            return False
        self.dispatch(heapq.heappop(self._timers).event)
        return True
