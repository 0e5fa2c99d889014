"""NmcliBackend against the real nmcli and devrig's simulated NetworkManager (private bus, no root)."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wifi_connect.adapters.nmcli import NmcliBackend
from wifi_connect.adapters.nmcli_security import passwd_file_value
from wifi_connect.adapters.nmcli_terse import escape_terse, parse_scan, split_terse
from wifi_connect.config import load_config
from wifi_connect.errors import AdapterError, DeviceError, NmcliError
from wifi_connect.models import Credentials, FailureReason, Security
from wifi_connect.portal.controller import Controller
from wifi_connect.ports import ActivationFailed, Connectivity
from wifi_connect.validation import credentials_from_request

from tests.wifi_connect.portal.fakes import FakeClock, FakeProcess, RecordingHook

PSK = "correct horse battery"
ODD_SSIDS = ["Café ☕", "a:b:c", "back\\slash", "ends\\", "é" * 16, "x" * 32, " spaced out ", "\\:\\\\:"]


@pytest.fixture
def backend(nm_sim) -> NmcliBackend:
    return NmcliBackend(timeout=10, env=nm_sim.env)


def wpa(ssid: str, passphrase: str = PSK, **kwargs) -> Credentials:
    return Credentials(ssid=ssid, security=Security.WPA, passphrase=passphrase, **kwargs)


def connect(backend: NmcliBackend, credentials: Credentials, timeout: float = 10) -> str:
    uuid = backend.add_profile("wlan0", credentials)
    backend.activate(uuid, credentials, timeout)
    return uuid


def autoconnects(saved: dict) -> bool:
    return bool(saved["settings"]["connection"].get("autoconnect", True))  # NM's default is yes


def profile(nm_sim, ssid: str) -> dict:
    return next(p for p in nm_sim.profiles() if p["ssid"] == ssid)


# ---- the terse splitter (pure) -------------------------------------------------------------------

fields = st.lists(st.text(st.characters(blacklist_characters="\n\r"), max_size=40), min_size=1, max_size=8)


@given(fields)
def test_split_terse_inverts_nmcli_escaping(values: list[str]) -> None:
    assert split_terse(":".join(escape_terse(v) for v in values)) == values


def test_parse_scan_keeps_backslashes_and_trailing_backslash() -> None:
    output = (
        "*:ends\\\\:02\\:00\\:00\\:00\\:00\\:01:WPA2:70:2437 MHz\n"
        " :a\\:b:02\\:00\\:00\\:00\\:00\\:02::40:5180 MHz\n"
    )
    first, second = parse_scan(output)
    assert (first.ssid, first.bssid, first.in_use) == ("ends\\", "02:00:00:00:00:01", True)
    assert first.security == Security.WPA
    assert (second.ssid, second.security, second.signal, second.band) == ("a:b", Security.NONE, 40, "5GHz")


def test_passwd_file_value_rejects_line_breaks() -> None:
    with pytest.raises(AdapterError, match="line break"):
        passwd_file_value("two\nlines")


def test_text_without_a_utf8_form_is_an_adapter_error_not_a_crash(nm_sim, backend) -> None:
    """Validation refuses lone surrogates; if one slips through, argv and the passwd-file still refuse it."""
    with pytest.raises(NmcliError, match="not valid Unicode"):
        backend.add_profile("wlan0", wpa("bad \ud800"))
    nm_sim.add_network("Home", "wpa-psk", PSK)
    credentials = wpa("Home", passphrase="pass \ud800 word")
    uuid = backend.add_profile("wlan0", credentials)
    with pytest.raises(AdapterError, match="not valid Unicode"):
        backend.activate(uuid, credentials, 5)


# ---- scanning and devices -------------------------------------------------------------------------


def test_scan_round_trips_odd_ssids_exactly(nm_sim, backend) -> None:
    for i, ssid in enumerate(ODD_SSIDS):
        nm_sim.add_network(ssid, "wpa-psk", PSK, signal=90 - i)
    nm_sim.add_network("Secret", "wpa-psk", PSK, hidden=True)
    points = backend.scan("wlan0", rescan=False)
    assert sorted(p.ssid for p in points if p.ssid) == sorted(ODD_SSIDS)
    assert any(p.ssid == "" for p in points), "hidden APs come back with an empty SSID"


def test_scan_reports_security_signal_and_band(nm_sim, backend) -> None:
    nm_sim.add_network("Open", "open", signal=80, frequency=5180)
    nm_sim.add_network("Wep", "wep", "abcde")
    nm_sim.add_network("Wpa3", "sae", PSK)
    nm_sim.add_network("Corp", "wpa-eap", PSK, identity="alice", aps=2, signal=60)
    by_ssid: dict[str, list] = {}
    for point in backend.scan("wlan0", rescan=True):
        by_ssid.setdefault(point.ssid, []).append(point)
    assert by_ssid["Open"][0].security == Security.NONE and by_ssid["Open"][0].band == "5GHz"
    assert by_ssid["Wep"][0].security == Security.WEP
    assert by_ssid["Wpa3"][0].security == Security.WPA
    assert [p.security for p in by_ssid["Corp"]] == [Security.ENTERPRISE] * 2
    assert sorted(p.signal for p in by_ssid["Corp"]) == [55, 60]


def test_find_wifi_device(backend) -> None:
    assert backend.find_wifi_device(None) == "wlan0"
    assert backend.find_wifi_device("wlan0") == "wlan0"
    with pytest.raises(DeviceError, match="wlan9"):
        backend.find_wifi_device("wlan9")


# ---- profiles -------------------------------------------------------------------------------------


def test_profiles_for_every_security_type(nm_sim, backend, tmp_path) -> None:
    nm_sim.add_network("Wpa3", "sae", PSK)
    backend.scan("wlan0", rescan=False)  # the scan tells the backend Wpa3 is WPA3-only
    ca = Path(sorted(glob.glob("/etc/ssl/certs/*.pem"))[0])
    cases = {
        "Open": Credentials(ssid="Open", security=Security.NONE),
        "Wep": Credentials(ssid="Wep", security=Security.WEP, passphrase="abcde"),
        "Wpa": wpa("Wpa"),
        "Wpa3": wpa("Wpa3"),
        "Hidden": wpa("Hidden", hidden=True),
        "Peap": Credentials(
            ssid="Peap",
            security=Security.ENTERPRISE,
            passphrase=PSK,
            identity="alice",
            anonymous_identity="anon",
            ca_cert=str(ca),
            domain_suffix_match="example.com",
        ),
        "Ttls": Credentials(
            ssid="Ttls", security=Security.ENTERPRISE, passphrase=PSK, identity="bob", eap="ttls"
        ),
    }
    for credentials in cases.values():
        backend.add_profile("wlan0", credentials)
    settings = {p["ssid"]: p["settings"] for p in nm_sim.profiles()}
    wsec = "802-11-wireless-security"
    assert wsec not in settings["Open"]
    assert settings["Wep"][wsec]["key-mgmt"] == "none" and settings["Wep"][wsec]["wep-key-type"] == 1
    assert settings["Wpa"][wsec]["key-mgmt"] == "wpa-psk"
    assert settings["Wpa3"][wsec]["key-mgmt"] == "sae"
    assert settings["Hidden"]["802-11-wireless"]["hidden"] is True
    peap = settings["Peap"]["802-1x"]
    assert (peap["eap"], peap["identity"], peap["anonymous-identity"]) == (["peap"], "alice", "anon")
    assert peap["domain-suffix-match"] == "example.com" and peap["ca-cert"]
    assert settings["Ttls"]["802-1x"]["eap"] == ["ttls"]
    assert all(p["secrets"] == {} for p in nm_sim.profiles()), "profiles are created without secrets"
    assert backend.saved_wifi_ssids() == set(cases)


def test_ssid_that_nmcli_could_take_for_a_path_is_just_an_ssid(nm_sim, backend) -> None:
    # a bare "1" means the profile at .../Settings/1 to nmcli; we always say "uuid"
    nm_sim.add_network("First", "open")
    nm_sim.add_network("1", "open")
    backend.add_profile("wlan0", Credentials(ssid="First", security=Security.NONE))
    connect(backend, Credentials(ssid="1", security=Security.NONE))
    assert backend.active_wifi_ssid("wlan0") == "1"
    assert set(backend.set_aside_profiles("1")) == {profile(nm_sim, "1")["uuid"]}
    assert autoconnects(profile(nm_sim, "First")) and not autoconnects(profile(nm_sim, "1"))


def test_delete_and_forget(nm_sim, backend) -> None:
    for ssid in ("A", "B", "A"):
        backend.add_profile("wlan0", wpa(ssid))
    backend.start_access_point("wlan0", "Portal", None, "192.168.42.1")
    for uuid in backend.set_aside_profiles("A"):
        backend.delete_profile(uuid)
    assert backend.saved_wifi_ssids() == {"B"}
    assert list(backend.forget_wifi_networks()) == ["B"]
    assert [p["mode"] for p in nm_sim.profiles()] == ["ap"], "forgetting leaves the portal's AP profile"
    backend.delete_profile("00000000-0000-0000-0000-000000000000")  # already gone: no error


# ---- activation through the secret agent -----------------------------------------------------------


def test_wrong_password_fails_through_the_agent(nm_sim, backend) -> None:
    nm_sim.add_network("Home", "wpa-psk", PSK)
    with pytest.raises(ActivationFailed) as failure:
        connect(backend, wpa("Home", "not the password"))
    assert failure.value.reason == FailureReason.WRONG_PASSWORD
    assert "Secrets were required" in failure.value.detail
    assert backend.active_wifi_ssid("wlan0") is None


def test_right_password_connects_and_the_profile_keeps_it(nm_sim, backend) -> None:
    odd = " pa:ss\\word "  # blanks, ':' and '\' survive the passwd-file escaping
    nm_sim.add_network("Home", "wpa-psk", odd)
    uuid = connect(backend, wpa("Home", odd))
    assert backend.active_wifi_ssid("wlan0") == "Home"
    assert nm_sim.saved_secrets("Home") == {"802-11-wireless-security": {"psk": odd}}
    assert nm_sim.reboot_autoconnect() == uuid, "after a reboot the saved secret alone brings it up"


@pytest.mark.parametrize(
    ("security", "credentials"),
    [
        ("wep", Credentials(ssid="N", security=Security.WEP, passphrase="abcde")),
        ("sae", wpa("N")),
        ("wpa-eap", Credentials(ssid="N", security=Security.ENTERPRISE, passphrase=PSK, identity="alice")),
        ("open", Credentials(ssid="N", security=Security.NONE)),
    ],
)
def test_each_security_type_activates(nm_sim, backend, security, credentials) -> None:
    nm_sim.add_network("N", security, credentials.passphrase, identity=credentials.identity)
    connect(backend, credentials)
    assert backend.active_wifi_ssid("wlan0") == "N"


def test_enterprise_wrong_identity_fails(nm_sim, backend) -> None:
    nm_sim.add_network("Corp", "wpa-eap", PSK, identity="alice")
    with pytest.raises(ActivationFailed) as failure:
        connect(
            backend, Credentials(ssid="Corp", security=Security.ENTERPRISE, passphrase=PSK, identity="eve")
        )
    assert failure.value.reason == FailureReason.WRONG_PASSWORD


def test_hidden_network_needs_the_hidden_flag(nm_sim, backend) -> None:
    nm_sim.add_network("Cloak", "wpa-psk", PSK, hidden=True)
    with pytest.raises(ActivationFailed) as failure:
        connect(backend, wpa("Cloak"))
    assert failure.value.reason == FailureReason.NOT_FOUND
    connect(backend, wpa("Cloak", hidden=True))
    assert backend.active_wifi_ssid("wlan0") == "Cloak"


def test_vanished_network_is_not_found(nm_sim, backend) -> None:
    nm_sim.add_network("Gone", "wpa-psk", PSK)
    uuid = backend.add_profile("wlan0", wpa("Gone"))
    nm_sim.remove_network("Gone")
    with pytest.raises(ActivationFailed) as failure:
        backend.activate(uuid, wpa("Gone"), 10)
    assert failure.value.reason == FailureReason.NOT_FOUND


def test_activation_that_hangs_times_out(nm_sim, backend) -> None:
    nm_sim.add_network("Slow", "wpa-psk", PSK, behaviour="hang")
    started = time.monotonic()
    with pytest.raises(ActivationFailed) as failure:
        connect(backend, wpa("Slow"), timeout=1)
    assert failure.value.reason == FailureReason.TIMEOUT
    assert time.monotonic() - started < 8
    assert backend.active_wifi_ssid("wlan0") is None


def test_no_ip_address(nm_sim, backend) -> None:
    nm_sim.add_network("NoDhcp", "open", behaviour="no_ip")
    with pytest.raises(ActivationFailed) as failure:
        connect(backend, Credentials(ssid="NoDhcp", security=Security.NONE))
    assert failure.value.reason == FailureReason.NO_IP


def test_no_secret_in_any_argv_while_connecting(nm_sim, backend) -> None:
    secret = "argv-canary-5f3a9c"
    nm_sim.add_network("Home", "wpa-psk", secret)
    seen: list[str] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
                with contextlib.suppress(OSError):  # the process may have gone
                    seen.append(Path(cmdline).read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        connect(backend, wpa("Home", secret))
    finally:
        done.set()
        sampler.join()
    assert any("passwd-file" in line for line in seen), "the sampler saw nmcli running"
    assert not [line for line in seen if secret in line]


# ---- saved networks, the access point, connectivity -----------------------------------------------


def test_activate_saved_uses_the_saved_secret(nm_sim, backend) -> None:
    assert backend.activate_saved("wlan0", 3) is False, "nothing saved yet"
    nm_sim.add_network("Home", "wpa-psk", PSK)
    connect(backend, wpa("Home"))
    nm_sim.drop_connection()
    assert backend.active_wifi_ssid("wlan0") is None
    assert backend.activate_saved("wlan0", 5) is True
    assert backend.active_wifi_ssid("wlan0") == "Home"


def test_access_point_up_and_down(nm_sim, backend) -> None:
    backend.start_access_point("wlan0", "WiFi Connect", "portalpass1", "192.168.42.1")
    ap = profile(nm_sim, "WiFi Connect")
    assert ap["mode"] == "ap" and ap["settings"]["ipv4"]["method"] == "manual"
    assert ap["settings"]["802-11-wireless"]["band"] == "bg"
    assert ap["key_mgmt"] == "wpa-psk" and ap["settings"]["connection"]["autoconnect"] is False
    assert backend.active_wifi_ssid("wlan0") is None, "the AP is not a client connection"
    assert backend.saved_wifi_ssids() == set()
    backend.stop_access_point("WiFi Connect")
    assert nm_sim.profiles() == []


def test_connectivity_follows_network_manager(nm_sim, backend) -> None:
    assert backend.connectivity() == Connectivity.NONE
    nm_sim.add_network("Home", "open")
    connect(backend, Credentials(ssid="Home", security=Security.NONE))
    assert backend.connectivity() == Connectivity.FULL
    for value in ("limited", "portal", "none", "full"):
        nm_sim.set_connectivity(value)
        assert backend.connectivity() == Connectivity(value)
    nm_sim.drop_connection()
    assert backend.connectivity() == Connectivity.NONE


def test_hung_nmcli_raises_within_the_timeout(tmp_path) -> None:
    fake = tmp_path / "nmcli"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    backend = NmcliBackend(timeout=1, env=env)
    started = time.monotonic()
    with pytest.raises(NmcliError) as failure:
        backend.connectivity()
    assert failure.value.exit_code is None
    assert time.monotonic() - started < 3


def test_rescan_refused_in_ap_mode_is_an_error_but_the_list_still_works(nm_sim, backend) -> None:
    nm_sim.add_network("Home", "wpa-psk", PSK)
    nm_sim.refuse_scan_in_ap_mode()
    backend.start_access_point("wlan0", "Portal", None, "192.168.42.1")
    with pytest.raises(NmcliError, match="Scanning not allowed"):
        backend.scan("wlan0", rescan=True)
    assert [p.ssid for p in backend.scan("wlan0", rescan=False)] == ["Home"]


def test_controller_lists_networks_when_the_first_rescan_is_refused(nm_sim, backend) -> None:
    """The portal's first list must not be empty because the driver refused a fresh scan."""
    nm_sim.add_network("Home", "wpa-psk", PSK)
    nm_sim.refuse_every_scan()
    with pytest.raises(NmcliError, match="Scanning not allowed"):
        backend.scan("wlan0", rescan=True)
    controller = controller_on(backend)
    controller.interface = "wlan0"
    assert [n["ssid"] for n in controller.rescan()] == ["Home"]


def controller_on(backend: NmcliBackend) -> Controller:
    """The real policy on the real adapter; only the web app, dnsmasq, the hook and time are stand-ins."""
    config = dataclasses.replace(load_config([], {}), connect_timeout=10.0)
    return Controller(config, backend, FakeProcess(), FakeProcess(), RecordingHook(), FakeClock())


def test_a_mistyped_password_keeps_the_saved_network_and_a_right_one_replaces_it(nm_sim, backend) -> None:
    nm_sim.add_network("Home", "wpa-psk", PSK)
    old = connect(backend, wpa("Home"))  # a network that worked before
    controller = controller_on(backend)
    controller.start()
    controller.connect({"ssid": "Home", "passphrase": "mistyped password"})
    controller.machine.run_pending()
    assert controller.status()["last_attempt"]["reason"] == FailureReason.WRONG_PASSWORD
    saved = [p for p in nm_sim.profiles() if p["ssid"] == "Home"]
    assert [p["uuid"] for p in saved] == [old] and autoconnects(saved[0])
    backend.stop_access_point(controller.config.portal_ssid)
    assert nm_sim.reboot_autoconnect() == old, "the old profile still autoconnects with its saved secret"
    controller.connect({"ssid": "Home", "passphrase": PSK})
    controller.machine.run_pending()
    assert controller.status()["last_attempt"]["result"] == "connected"
    remaining = [p["uuid"] for p in nm_sim.profiles() if p["ssid"] == "Home"]
    assert len(remaining) == 1 and remaining != [old], "the new profile replaced the old one"


def test_set_aside_and_restore_keep_each_profiles_autoconnect(nm_sim, backend) -> None:
    first = backend.add_profile("wlan0", wpa("Home"))
    second = backend.add_profile("wlan0", wpa("Home"))
    backend._cmd.run(["connection", "modify", "uuid", second, "connection.autoconnect", "no"])
    set_aside = backend.set_aside_profiles("Home")
    assert set_aside == {first: True, second: False}
    assert not any(autoconnects(p) for p in nm_sim.profiles())
    backend.restore_profiles(set_aside)
    autoconnect = {p["uuid"]: autoconnects(p) for p in nm_sim.profiles()}
    assert autoconnect == {first: True, second: False}


def test_find_wifi_device_refuses_an_unmanaged_device(nm_sim, backend) -> None:
    nm_sim.set_managed("wlan0", False)
    with pytest.raises(DeviceError, match="no WiFi device managed"):
        backend.find_wifi_device(None)
    with pytest.raises(DeviceError, match="'wlan0' is not managed"):
        backend.find_wifi_device("wlan0")
    nm_sim.set_managed("wlan0", True)
    assert backend.find_wifi_device(None) == backend.find_wifi_device("wlan0") == "wlan0"


def test_a_wired_device_is_not_a_portal_interface(nm_sim, backend) -> None:
    nm_sim.add_ethernet_device("eth0", connected=True)
    with pytest.raises(DeviceError, match="not WiFi"):
        backend.find_wifi_device("eth0")
    assert backend.find_wifi_device(None) == "wlan0"
    nm_sim.set_connectivity("full")
    assert backend.connectivity() == Connectivity.FULL, "Ethernet alone can make the device online"
    assert backend.active_wifi_ssid("wlan0") is None


def test_hidden_wep_network_as_the_portal_form_sends_it(nm_sim, backend) -> None:
    """"Other network…" + security WEP: the request's fields, validated, reach the real nmcli."""
    nm_sim.add_network("Old Cam", "wep", "13charsecret!", hidden=True)
    fields = {"ssid": "Old Cam", "hidden": "true", "security": "wep", "passphrase": "13charsecret!"}
    connect(backend, credentials_from_request(fields, None))
    assert backend.active_wifi_ssid("wlan0") == "Old Cam"
