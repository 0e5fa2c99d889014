"""The AP on its own WiFi device (PORTAL_INTERFACE) while another (CLIENT_INTERFACE) joins networks,
and what the person is told afterwards (name and addresses), against fakes in fake time."""

from __future__ import annotations

from wifi_connect.models import State
from wifi_connect.portal.controller import SUCCESS_LINGER
from wifi_connect.ports import Connectivity

from tests.wifi_connect.portal.conftest import HOME, HOME_PASSWORD, Rig


def two_radio_rig(**settings: object) -> Rig:
    rig = Rig(portal_interface="wlan0", client_interface="wlan1", **settings)
    rig.backend.devices = ("wlan0", "wlan1")
    rig.backend.client_device = "wlan1"
    return rig


def connect(rig: Rig, passphrase: str = HOME_PASSWORD) -> dict:
    attempt = rig.controller.connect({"ssid": HOME, "passphrase": passphrase, "identity": ""})
    rig.advance(0)
    return attempt


def test_joining_keeps_the_portal_up_and_tells_the_phone_where_the_device_is():
    rig = two_radio_rig()
    rig.to_portal()
    assert rig.controller.status()["client_interface"] == "wlan1"
    connect(rig)
    assert rig.state is State.CONNECTED
    assert "stop_access_point" not in rig.backend.names()[rig.backend.names().index("start_access_point"):]
    assert ("add_profile", "wlan1", HOME) in rig.backend.calls
    assert ("scan", "wlan1", True) in rig.backend.calls  # the client radio scans; the AP radio serves
    assert rig.portal_is_up()  # the phone is still on the portal and sees the result
    status = rig.controller.status()
    assert status["last_attempt"]["result"] == "connected"
    assert status["reach"] == {"hostname": "kiosk-7", "mdns_name": None, "addresses": ["192.168.1.23"]}
    rig.advance(SUCCESS_LINGER - 1)
    assert rig.portal_is_up()
    rig.advance(1)
    assert not rig.portal_is_up() and rig.state is State.CONNECTED


def test_a_failed_attempt_leaves_the_portal_as_it_was():
    rig = two_radio_rig()
    rig.to_portal()
    connect(rig, passphrase="wrong password")
    assert rig.state is State.PORTAL and rig.portal_is_up()
    assert rig.backend.names().count("start_access_point") == 1 and rig.dhcp.starts == 1
    assert rig.controller.status()["last_attempt"]["reason"] == "wrong_password"


def test_setup_mode_while_connected_leaves_the_client_connection_alone():
    rig = two_radio_rig()
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    assert rig.state is State.CONNECTED
    before = len(rig.backend.calls)
    rig.controller.enter_setup_mode()
    rig.advance(0)
    assert rig.state is State.PORTAL and rig.portal_is_up()
    touched = {call[1] for call in rig.backend.calls[before:] if len(call) > 1 and call[0] != "connectivity"}
    assert ("start_access_point", "wlan0", "WiFi Connect", "192.168.42.1") in rig.backend.calls[before:]
    assert "activate_saved" not in rig.backend.names()[before:] and touched <= {"wlan0", "wlan1"}


def test_a_retry_of_saved_networks_does_not_drop_the_access_point():
    rig = two_radio_rig(retry_interval=100.0)
    rig.backend.saved = {HOME}
    rig.to_portal()
    rig.advance(100)
    assert ("activate_saved", "wlan1") in rig.backend.calls
    assert "stop_access_point" not in rig.backend.names()[rig.backend.names().index("start_access_point"):]
    assert rig.state is State.PORTAL and rig.portal_is_up()


def test_a_saved_network_coming_back_on_a_retry_takes_the_portal_down_at_once():
    rig = two_radio_rig(retry_interval=100.0)
    rig.backend.saved, rig.backend.saved_comes_up = {HOME}, True
    rig.to_portal()
    rig.advance(100)
    assert rig.state is State.CONNECTED and not rig.portal_is_up()


def test_with_mdns_the_device_is_named_host_dot_local_on_the_page_and_in_the_hook():
    rig = Rig()
    rig.controller.mdns = lambda: True
    rig.to_portal()
    connect(rig)
    assert rig.controller.status()["reach"]["mdns_name"] == "kiosk-7.local"
    connected = rig.hook.changes[-1]
    assert connected["state"] == "connected" and connected["mdns_name"] == "kiosk-7.local"
    assert connected["addresses"] == "192.168.1.23" and connected["hostname"] == "kiosk-7"


def test_one_interface_is_todays_behaviour():
    rig = Rig()
    rig.to_portal()
    connect(rig)
    names = rig.backend.names()
    assert names.index("stop_access_point", names.index("start_access_point")) < names.index("activate")
    assert rig.state is State.CONNECTED and not rig.portal_is_up()


def test_the_name_is_known_before_the_attempt_and_stale_addresses_are_dropped():
    rig = Rig()
    rig.controller.mdns = lambda: True
    rig.to_portal()
    assert rig.controller.status()["reach"] == {"hostname": "kiosk-7", "mdns_name": "kiosk-7.local",
                                                "addresses": []}  # for the connecting page
    connect(rig)
    assert rig.controller.status()["reach"]["addresses"] == ["192.168.1.23"]
    rig.controller.enter_setup_mode()
    rig.advance(0)
    assert rig.state is State.PORTAL and rig.controller.status()["reach"]["addresses"] == []
