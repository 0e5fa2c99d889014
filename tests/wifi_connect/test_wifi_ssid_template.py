"""A setup SSID per device: PORTAL_SSID="Setup {id4}" from BALENA_DEVICE_UUID or the interface's MAC."""

from __future__ import annotations

import dataclasses

import pytest
from wifi_connect.adapters.nmcli import NmcliBackend
from wifi_connect.config import load_config
from wifi_connect.errors import ConfigError
from wifi_connect.ssid_template import expand, portal_ssid_for

UUID = "5a0b9c3e8d7f41e2a6b4c1d0e9f83f9a"


def never() -> str:
    raise AssertionError("the MAC address must not be asked for")


def test_the_last_characters_of_the_balena_uuid_make_the_ssid():
    config = load_config([], {"PORTAL_SSID": "Setup {id4}", "BALENA_DEVICE_UUID": UUID})
    assert config.portal_ssid == "Setup {id4}" and config.device_id == UUID
    assert portal_ssid_for(config, never) == "Setup 3f9a"
    assert portal_ssid_for(dataclasses.replace(config, portal_ssid="{id12}"), never) == "c1d0e9f83f9a"


def test_without_a_device_id_the_mac_address_is_used():
    config = load_config([], {"PORTAL_SSID": "Cam-{id6}"})
    assert portal_ssid_for(config, lambda: "02:E5:AF:7F:B3:67") == "Cam-7fb367"


def test_plain_ssids_are_unchanged_and_double_braces_are_literal():
    assert portal_ssid_for(load_config([], {}), never) == "WiFi Connect"
    assert (
        portal_ssid_for(load_config([], {"PORTAL_SSID": "{{lab}} {id2}", "BALENA_DEVICE_UUID": UUID}), never)
        == "{lab} 9a"
    )
    assert expand("Setup {id4}", "12") == "Setup 0012"  # a short ID is padded, the length stays fixed


@pytest.mark.parametrize("template", ["x" * 29 + "{id4}", "é" * 14 + "{id5}"])
def test_a_template_whose_ssid_could_exceed_32_bytes_is_refused_at_start(template):
    with pytest.raises(ConfigError) as caught:
        load_config([], {"PORTAL_SSID": template})
    assert "--portal-ssid/PORTAL_SSID" in str(caught.value) and "32 bytes" in str(caught.value)


def test_the_longest_template_that_fits_is_accepted():
    config = load_config([], {"PORTAL_SSID": "x" * 28 + "{id4}", "BALENA_DEVICE_UUID": UUID})
    assert len(portal_ssid_for(config, never).encode()) == 32


def test_the_per_device_ssid_is_the_simulated_access_point(nm_sim):
    backend = NmcliBackend(timeout=10, env=nm_sim.env)
    nm_sim.add_wifi_device("wlan1")
    config = load_config([], {"PORTAL_SSID": "Setup {id4}"})
    ssids = {
        name: portal_ssid_for(config, lambda n=name: backend.hardware_address(n))
        for name in ("wlan0", "wlan1")
    }
    assert ssids["wlan0"] != ssids["wlan1"]  # two devices, two names
    mac = nm_sim.nmcli("-g", "GENERAL.HWADDR", "device", "show", "wlan0").stdout.strip().replace("\\:", "")
    assert ssids["wlan0"] == f"Setup {mac[-4:].lower()}"
    backend.start_access_point("wlan0", ssids["wlan0"], None, "192.168.42.1")
    assert [(p["ssid"], p["mode"]) for p in nm_sim.profiles()] == [(ssids["wlan0"], "ap")]
    backend.stop_access_point(ssids["wlan0"])
    assert nm_sim.profiles() == []
