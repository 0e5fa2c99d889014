"""Dnsmasq adapter: the real dnsmasq inside devrig's "device" namespace, a "phone" asking it for a lease."""

from __future__ import annotations

import ipaddress

import pytest
from wifi_connect.adapters.dnsmasq import Dnsmasq
from wifi_connect.errors import AdapterError

GATEWAY = "192.168.42.1"
RANGE = "192.168.42.2,192.168.42.254"


@pytest.fixture
def dnsmasq(netns_pair, tmp_path):
    server = Dnsmasq(
        interface=netns_pair.interface,
        gateway=GATEWAY,
        dhcp_range=RANGE,
        run_dir=tmp_path,
        command_prefix=["ip", "netns", "exec", netns_pair.device],
    )
    server.start()
    yield server
    server.stop()


def nslookup(netns_pair, query_type: str, name: str) -> str:
    result = netns_pair.run(
        netns_pair.phone, ["busybox", "nslookup", f"-type={query_type}", name], timeout=10
    )
    return result.stdout + result.stderr


def test_argv_reads_nothing_from_etc_and_hijacks_dns() -> None:
    argv = Dnsmasq("wlan0", GATEWAY, RANGE, run_dir="/run/x").argv()
    for flag in (
        "--keep-in-foreground",
        "--bind-interfaces",
        "--interface=wlan0",
        "--except-interface=lo",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        f"--address=/#/{GATEWAY}",
        "--filter-AAAA",
        f"--dhcp-range={RANGE},10m",
        f"--dhcp-option=option:router,{GATEWAY}",
        f"--dhcp-option=114,http://{GATEWAY}/",
        "--dhcp-leasefile=/run/x/dnsmasq.leases",
    ):
        assert flag in argv


@pytest.mark.rig
def test_phone_gets_a_lease_with_gateway_dns_and_portal_url(netns_pair, dnsmasq) -> None:
    lease = netns_pair.dhcp_lease()
    address = ipaddress.ip_address(lease["ip"])
    assert ipaddress.ip_address("192.168.42.2") <= address <= ipaddress.ip_address("192.168.42.254")
    assert (lease["router"].strip(), lease["dns"].strip(), lease["lease"]) == (GATEWAY, GATEWAY, "600")
    assert bytes.fromhex(lease["opt114"]).decode() == f"http://{GATEWAY}/"
    assert lease["ip"] in dnsmasq.lease_file.read_text()


@pytest.mark.rig
def test_every_name_resolves_to_the_gateway_and_aaaa_is_empty(netns_pair, dnsmasq) -> None:
    netns_pair.dhcp_lease()  # the phone needs an address to ask
    for name in (
        "connectivitycheck.gstatic.com",
        "captive.apple.com",
        "www.msftconnecttest.com",
        "x.example",
    ):
        answer = nslookup(netns_pair, "a", name)
        assert f"Address: {GATEWAY}" in answer, answer
    answer = nslookup(netns_pair, "aaaa", "captive.apple.com").split("\n\n", 1)[1]
    # NOERROR with no record: the phone falls back to IPv4 at once (REFUSED/NXDOMAIN would not be empty)
    assert answer.strip() == "Non-authoritative answer:", answer


@pytest.mark.rig
def test_port_53_clash_is_a_clear_error(netns_pair, dnsmasq, tmp_path) -> None:
    second = Dnsmasq(
        interface=netns_pair.interface,
        gateway=GATEWAY,
        dhcp_range=RANGE,
        run_dir=tmp_path / "b",
        command_prefix=["ip", "netns", "exec", netns_pair.device],
    )
    (tmp_path / "b").mkdir()
    with pytest.raises(AdapterError, match="53"):
        second.start()
    assert not second.alive() and dnsmasq.alive()


@pytest.mark.rig
def test_stop_ends_the_process_and_start_again_works(netns_pair, dnsmasq) -> None:
    dnsmasq.stop()
    assert not dnsmasq.alive()
    assert netns_pair.pids(netns_pair.device) == [], "no process left in the device namespace"
    dnsmasq.start()
    assert dnsmasq.alive()
    assert netns_pair.dhcp_lease()["router"].strip() == GATEWAY


@pytest.mark.rig
def test_a_killed_runs_leftovers_are_cleared_at_start(netns_pair, tmp_path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "dnsmasq.leases").write_text("0 02:00:00:00:00:99 192.168.42.99 stale *\n")
    (run_dir / "dnsmasq.pid").write_text("999999\n")
    (run_dir / "dnsmasq.log").write_text("started, version stale\n")  # must not pass for "ready"
    server = Dnsmasq(interface=netns_pair.interface, gateway=GATEWAY, dhcp_range=RANGE, run_dir=run_dir,
                     command_prefix=["ip", "netns", "exec", netns_pair.device])
    try:
        server.start()
        assert netns_pair.dhcp_lease()["router"].strip() == GATEWAY
        assert "stale" not in (run_dir / "dnsmasq.leases").read_text()
    finally:
        server.stop()
    assert run_dir.is_dir()  # a fixed run dir is kept (and cleared again by the next start)


@pytest.mark.rig
def test_dnsmasq_drops_root_once_bound_and_still_dies_with_its_parent(netns_pair, dnsmasq) -> None:
    import signal

    import psutil

    guard = psutil.Process(dnsmasq._process.pid)
    (server,) = guard.children()
    assert "dnsmasq" in server.name() and server.uids().effective != 0  # nobody
    assert guard.uids().effective == 0  # the guard keeps the parent-death signal (root, no setuid)
    assert netns_pair.dhcp_lease()["router"].strip() == GATEWAY  # leases still written as nobody
    guard.send_signal(signal.SIGTERM)  # what the kernel sends when the daemon dies
    psutil.wait_procs([guard, server], timeout=10)
    assert not server.is_running()
