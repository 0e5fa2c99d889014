"""The simulated device itself: what tests and the demo rely on, checked with the real nmcli."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devrig.netns import NetnsPair, can_use_namespaces
from devrig.nm import SimulatedNetworkManager


def add_profile(nm_sim: SimulatedNetworkManager, ssid: str, *settings: str) -> None:
    add = ["connection", "add", "type", "wifi", "ifname", "wlan0", "con-name", ssid, "ssid", ssid]
    added = nm_sim.nmcli(*add, *settings)
    assert added.returncode == 0, added.stderr


def up(nm_sim: SimulatedNetworkManager, ssid: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return nm_sim.nmcli("-w", "10", "connection", "up", "id", ssid, *extra)


def passwd_file(tmp_path: Path, line: str) -> tuple[str, str]:
    path = tmp_path / "secrets"
    path.write_text(line + "\n")
    return "passwd-file", str(path)


def test_wrong_then_right_password_through_nmcli_secret_agent(nm_sim, tmp_path) -> None:
    nm_sim.add_network("Home", "wpa-psk", "right password")
    add_profile(nm_sim, "Home", "wifi-sec.key-mgmt", "wpa-psk")
    wrong = up(nm_sim, "Home", *passwd_file(tmp_path, "802-11-wireless-security.psk:wrong password"))
    assert wrong.returncode == 4
    assert "Secrets were required, but not provided" in wrong.stderr
    right = up(nm_sim, "Home", *passwd_file(tmp_path, "802-11-wireless-security.psk:right password"))
    assert right.returncode == 0, right.stderr
    shown = nm_sim.nmcli("-s", "-g", "802-11-wireless-security.psk", "connection", "show", "id", "Home")
    assert shown.stdout.strip() == "right password", "NM-style: the agent's secret is saved in the profile"


def test_deleting_the_active_profile_takes_the_connection_down(nm_sim) -> None:
    nm_sim.add_network("Open", "open")
    add_profile(nm_sim, "Open")
    assert up(nm_sim, "Open").returncode == 0
    assert nm_sim.nmcli("-t", "networking", "connectivity").stdout.strip() == "full"
    assert nm_sim.nmcli("connection", "delete", "id", "Open").returncode == 0
    assert nm_sim.nmcli("-t", "networking", "connectivity").stdout.strip() == "none"
    device = nm_sim.nmcli("-t", "-f", "DEVICE,STATE", "device", "status").stdout
    assert "wlan0:disconnected" in device


def test_add_network_keeps_the_password_out_of_argv(nm_sim, monkeypatch) -> None:
    """Other tests watch every command line for secrets: the simulator's own calls must pass too."""
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):  # a spy: the real busctl still runs
        argvs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    nm_sim.add_network("Argv", "wpa-eap", "never-in-argv-42", identity="alice")
    assert argvs and not [argv for argv in argvs if "never-in-argv-42" in " ".join(argv)]
    assert not list(nm_sim.bus.run_dir.glob("spec-*"))  # the 0600 spec file is gone after the call
    monkeypatch.undo()
    listing = nm_sim.nmcli("-t", "-f", "SSID,SECURITY", "device", "wifi", "list", timeout=10)
    assert "Argv:WPA2 802.1X" in listing.stdout


def test_failure_messages_match_network_manager(nm_sim) -> None:
    nm_sim.add_network("NoDhcp", "open", behaviour="no_ip")
    add_profile(nm_sim, "NoDhcp")
    add_profile(nm_sim, "Nowhere")
    no_ip = up(nm_sim, "NoDhcp")
    assert (no_ip.returncode, "IP configuration could not be reserved" in no_ip.stderr) == (4, True)
    missing = up(nm_sim, "Nowhere")
    assert (missing.returncode, "The Wi-Fi network could not be found" in missing.stderr) == (4, True)


def test_rescan_and_list_do_not_hang(nm_sim) -> None:
    nm_sim.add_network("Home", "wpa-psk", "pw123456")
    assert nm_sim.nmcli("device", "wifi", "rescan", timeout=10).returncode == 0
    listing = nm_sim.nmcli("-t", "-f", "SSID", "device", "wifi", "list", "--rescan", "yes", timeout=10)
    assert listing.stdout.split() == ["Home"]


def test_stop_leaves_no_bus_or_mock_process() -> None:
    sim = SimulatedNetworkManager()
    sim.start()
    socket = sim.bus.socket
    sim.stop()
    assert not socket.exists()
    assert sim.nmcli("general", timeout=10).returncode != 0


@pytest.mark.rig
@pytest.mark.skipif(not can_use_namespaces(), reason="network namespaces need root and iproute2")
def test_namespace_pair_is_removed_with_its_processes() -> None:
    pair = NetnsPair()
    pair.start()
    sleeper = pair.popen(pair.device, ["sleep", "60"])
    assert pair.run(pair.phone, ["ip", "-br", "link", "show", "phone0"]).returncode == 0
    assert Path(f"/etc/netns/{pair.phone}/resolv.conf").read_text() == f"nameserver {pair.gateway}\n"
    pair.stop()
    assert sleeper.poll() is not None
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert pair.device not in namespaces and pair.phone not in namespaces
    assert not os.path.exists(f"/etc/netns/{pair.phone}")
