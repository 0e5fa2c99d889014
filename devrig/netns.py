"""A "device" and a "phone" network namespace joined by a veth pair.

Inside the device namespace the veth carries the WiFi interface's name (default ``wlan0``) and the
portal gateway address, so the service's real dnsmasq binds to it exactly as on a device. The phone
namespace resolves names through the gateway (``/etc/netns/<phone>/resolv.conf``, which
``ip netns exec`` bind-mounts over /etc/resolv.conf) and can take a DHCP lease with busybox udhcpc.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from devrig.proc import StartedWith

# udhcpc calls this script with the lease in its environment; we record it and configure the address.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    env | grep -E '^(ip|mask|subnet|router|dns|lease|serverid|opt114|opt160)=' > "$LEASE_FILE"
    ;;
esac
exit 0
"""


def can_use_namespaces() -> bool:
    """Root and the ``ip`` tool: what every namespace test needs."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


class NetnsPair(StartedWith):
    """``with NetnsPair() as pair: pair.run(pair.phone, ["ping", "-c1", pair.gateway])``."""

    def __init__(
        self,
        interface: str = "wlan0",
        gateway: str = "192.168.42.1",
        prefix: int = 24,
        phone_interface: str = "phone0",
    ) -> None:
        suffix = secrets.token_hex(4)
        self.device = f"dev-{suffix}"
        self.phone = f"phone-{suffix}"
        self.interface = interface
        self.phone_interface = phone_interface
        self.gateway = gateway
        self.network = ipaddress.ip_network(f"{gateway}/{prefix}", strict=False)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"devrig-{suffix}-"))
        self._started: list[subprocess.Popen] = []

    def start(self) -> None:
        try:
            for ns in (self.device, self.phone):
                _ip("netns", "add", ns)
                _ip("-n", ns, "link", "set", "lo", "up")
            _ip(
                "link",
                "add",
                "name",
                self.interface,
                "netns",
                self.device,
                "type",
                "veth",
                "peer",
                "name",
                self.phone_interface,
                "netns",
                self.phone,
            )
            _ip(
                "-n",
                self.device,
                "addr",
                "add",
                f"{self.gateway}/{self.network.prefixlen}",
                "dev",
                self.interface,
            )
            _ip("-n", self.device, "link", "set", self.interface, "up")
            _ip("-n", self.phone, "link", "set", self.phone_interface, "up")
            resolv = Path("/etc/netns") / self.phone
            resolv.mkdir(parents=True, exist_ok=True)
            (resolv / "resolv.conf").write_text(f"nameserver {self.gateway}\n")
        except BaseException:
            self.stop()
            raise

    # -- running things inside ---------------------------------------------------------------

    def command(self, namespace: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]

    def run(
        self,
        namespace: str,
        argv: list[str],
        timeout: float = 10.0,
        check: bool = False,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``namespace`` (``pair.device`` or ``pair.phone``) with a timeout."""
        return subprocess.run(
            self.command(namespace, argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            input=input,
        )

    def popen(self, namespace: str, argv: list[str], **kwargs: object) -> subprocess.Popen:
        """Start a long-running process inside ``namespace``; ``stop()`` ends it if the caller did not."""
        process = subprocess.Popen(self.command(namespace, argv), **kwargs)  # type: ignore[call-overload]
        self._started.append(process)
        return process

    def dhcp_lease(self, timeout: float = 15.0) -> dict[str, str]:
        """Ask for a lease from the phone with busybox udhcpc; returns its fields (ip, router, dns, ...).
        Raises ``RuntimeError`` when no server answered."""
        script = self.work_dir / "udhcpc.sh"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o700)
        lease_file = self.work_dir / "lease.env"
        lease_file.unlink(missing_ok=True)
        argv = [
            "env",
            f"LEASE_FILE={lease_file}",
            "busybox",
            "udhcpc",
            "-f",
            "-q",
            "-n",
            "-i",
            self.phone_interface,
            "-t",
            "5",
            "-T",
            "1",
            "-O",
            "114",
            "-s",
            str(script),
        ]
        result = self.run(self.phone, argv, timeout=timeout)
        if not lease_file.exists():
            raise RuntimeError(f"no DHCP lease: {result.stdout}{result.stderr}".strip())
        return dict(line.split("=", 1) for line in lease_file.read_text().splitlines() if "=" in line)

    # -- cleanup -----------------------------------------------------------------------------

    def stop(self) -> None:
        for process in self._started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        for ns in (self.device, self.phone):
            self._kill_namespace_processes(ns)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False, timeout=10)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    @staticmethod
    def pids(namespace: str) -> list[int]:
        """Processes running inside ``namespace`` (``ip netns pids``)."""
        result = subprocess.run(
            ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False, timeout=10
        )
        return [int(pid) for pid in result.stdout.split()]

    def _kill_namespace_processes(self, namespace: str) -> None:
        for pid in self.pids(namespace):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
