"""The state machine engine: table dispatch, generation-stamped timers, the daemon's loop."""

from __future__ import annotations

import threading

from wifi_connect.models import State
from wifi_connect.portal.states import Event, StateMachine, SystemClock

from tests.wifi_connect.portal.fakes import FakeClock


def machine_with(table_factory, clock=None) -> tuple[StateMachine, list]:
    seen: list = []
    machine = StateMachine(
        {}, clock or FakeClock(), lambda previous, state, reason: seen.append((state, reason))
    )
    machine.table = table_factory(machine, seen)
    return machine, seen


def test_a_timer_armed_in_an_earlier_visit_never_fires():
    def table(machine, seen):
        return {
            (State.STARTING, Event.START): lambda _: (
                machine.enter(State.PORTAL),
                machine.after(10, Event.RETRY_DUE),
            ),
            (State.PORTAL, Event.RETRY_DUE): lambda _: seen.append("retry"),
            (State.PORTAL, Event.SETUP_MODE): lambda _: machine.enter(State.PORTAL, "again"),
        }

    machine, seen = machine_with(table)
    machine.dispatch(Event.START)
    machine.dispatch(Event.SETUP_MODE)  # same state, new generation: the first timer is stale
    machine.clock.now = 11
    machine.run_pending()
    assert "retry" not in seen and machine.next_timer_due() is None


def test_a_timer_fires_once_when_due():
    def table(machine, seen):
        return {
            (State.STARTING, Event.START): lambda _: machine.after(5, Event.TICK),
            (State.STARTING, Event.TICK): lambda _: seen.append("tick"),
        }

    machine, seen = machine_with(table)
    machine.dispatch(Event.START)
    machine.clock.now = 4.9
    machine.run_pending()
    assert seen == []
    machine.clock.now = 5
    machine.run_pending()
    machine.run_pending()
    assert seen == ["tick"]


def test_events_without_a_handler_are_ignored():
    machine, seen = machine_with(lambda machine, seen: {})
    machine.post(Event.CONNECT, "payload")
    machine.run_pending()
    assert machine.state is State.STARTING and seen == []


def test_the_loop_handles_events_from_other_threads_and_returns_once_stopping():
    def table(machine, seen):
        return {
            (State.STARTING, Event.START): lambda _: machine.after(0.05, Event.TICK),
            (State.STARTING, Event.TICK): lambda _: machine.enter(State.PORTAL),
            (State.PORTAL, Event.STOP): lambda _: machine.enter(State.STOPPING),
        }

    machine, seen = machine_with(table, SystemClock())
    machine.dispatch(Event.START)
    loop = threading.Thread(target=machine.run_until_stopped)
    loop.start()
    for _ in range(500):  # at most 5 s
        if machine.state is State.PORTAL:
            break
        loop.join(0.01)
    machine.post(Event.STOP)
    loop.join(5)
    assert not loop.is_alive()
    assert [state for state, _ in seen] == [State.PORTAL, State.STOPPING]
