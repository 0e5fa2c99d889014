"""A controller wired to fakes, and a driver that moves fake time through its timers."""

from __future__ import annotations

import dataclasses

import pytest
from wifi_connect.config import load_config
from wifi_connect.models import State
from wifi_connect.portal.controller import Controller

from tests.wifi_connect.portal.fakes import FakeBackend, FakeClock, FakeProcess, RecordingHook, access_point

HOME = "Home Net"
HOME_PASSWORD = "correct horse"


class Rig:
    """Owns the fakes; ``advance`` runs every timer due on the way, in order, like the daemon's loop."""

    def __init__(self, probe=None, saved: tuple[str, ...] = (), **settings: object) -> None:
        defaults = {
            "grace_period": 20.0,
            "retry_interval": 0.0,
            "check_interval": 5.0,
            "lost_tolerance": 30.0,
            "connect_timeout": 30.0,
        }
        self.config = dataclasses.replace(load_config([], {}), **{**defaults, **settings})
        self.clock = FakeClock()
        self.backend = FakeBackend(
            access_points=[access_point(HOME, 70), access_point("Cafe", 40, bssid="aa:aa:aa:aa:aa:aa")],
            passwords={HOME: HOME_PASSWORD, "Cafe": "espresso!"},
            saved=set(saved),
        )
        self.dhcp = FakeProcess()
        self.web = FakeProcess()
        self.hook = RecordingHook()
        self.controller = Controller(
            self.config, self.backend, self.dhcp, self.web, self.hook, self.clock, probe
        )

    @property
    def state(self) -> State:
        return self.controller.machine.state

    def start(self) -> None:
        self.controller.start()
        self.controller.machine.run_pending()

    def advance(self, seconds: float) -> None:
        machine, target = self.controller.machine, self.clock.now + seconds
        machine.run_pending()
        while (due := machine.next_timer_due()) is not None and due <= target:
            self.clock.now = max(self.clock.now, due)
            machine.run_pending()
        self.clock.now = max(self.clock.now, target)
        machine.run_pending()

    def to_portal(self) -> None:
        self.start()
        self.advance(self.config.grace_period)
        assert self.state is State.PORTAL

    def portal_is_up(self) -> bool:
        return self.backend.ap_up and self.dhcp.running and self.web.running

    def states(self) -> list[str]:
        return [change["state"] for change in self.hook.changes]


@pytest.fixture
def rig() -> Rig:
    return Rig()
