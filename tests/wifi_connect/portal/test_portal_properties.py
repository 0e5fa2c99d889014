"""Property test of the policy: any sequence of what the world and the person do keeps the invariants."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from wifi_connect.errors import BusyError, InputError
from wifi_connect.models import State
from wifi_connect.ports import Connectivity

from tests.wifi_connect.portal.conftest import HOME, HOME_PASSWORD, Rig

STEPS = st.one_of(
    st.tuples(st.just("advance"), st.floats(min_value=0, max_value=400)),
    st.tuples(st.just("connectivity"), st.sampled_from(list(Connectivity))),
    st.tuples(st.just("connect"), st.sampled_from([HOME_PASSWORD, "wrong password", "short"])),
    st.tuples(st.just("toggle"), st.sampled_from(["scan_fails", "ap_fails", "saved_comes_up"])),
    st.tuples(st.sampled_from(["touch", "setup_mode", "forget", "rescan", "dnsmasq_dies"]), st.none()),
)
AT_REST = {State.WAITING, State.PORTAL, State.CONNECTED}


def apply(rig: Rig, action: str, value: object) -> None:
    controller = rig.controller
    if action == "advance":
        rig.advance(value)
    elif action == "connectivity":
        rig.backend.connectivity_value = value
    elif action == "connect":
        with contextlib.suppress(BusyError, InputError):
            controller.connect({"ssid": HOME, "passphrase": value})
    elif action == "toggle":
        setattr(rig.backend, value, not getattr(rig.backend, value))
    elif action == "dnsmasq_dies":
        rig.dhcp.running = False
    else:
        {
            "touch": controller.touch,
            "setup_mode": controller.enter_setup_mode,
            "forget": controller.forget_networks,
            "rescan": controller.rescan,
        }[action]()


@settings(max_examples=150, deadline=None)
@given(st.lists(STEPS, max_size=25), st.integers(min_value=0, max_value=300), st.sampled_from([0.0, 60.0]))
def test_any_history_keeps_the_invariants(steps, activity_timeout, retry_interval):
    rig = Rig(activity_timeout=activity_timeout, retry_interval=retry_interval)
    rig.start()
    for action, value in steps:
        apply(rig, action, value)
        rig.advance(0)
        if action == "dnsmasq_dies":
            rig.advance(5)  # supervision brings it back within one interval
        assert rig.state in AT_REST
        portal = rig.state is State.PORTAL
        assert rig.backend.ap_up is portal and rig.web.running is portal and rig.dhcp.running is portal
        json.dumps(rig.controller.status())
    rig.controller.request_stop()
    rig.advance(0)
    assert rig.state is State.STOPPING and not (rig.backend.ap_up or rig.web.running or rig.dhcp.running)
