"""``Dnsmasq``: ports.Dhcp - the portal's own DHCP server and wildcard DNS, like wifi-connect and comitup.

One dnsmasq bound to the portal interface only: it leases addresses from the range with the gateway
as router and DNS server, answers every A query with the gateway (so any URL a phone probes lands on
the portal), answers no AAAA (a phone would otherwise try IPv6 first and fail), keeps TTLs short (a
phone that joins its real network must not keep the portal's answers), and announces the portal URL
in DHCP option 114 (RFC 8910 captive-portal API). Nothing is read from /etc: ``--conf-file=/dev/null
--no-hosts --no-resolv``. Leases and pid live in ``run_dir``. dnsmasq's log goes to a file there, so
a start-up failure (typically port 53 already taken) surfaces as an ``AdapterError`` with its words.
dnsmasq drops root for ``nobody`` once its sockets are bound (under a root ``sh`` guard that keeps the
parent-death signal). The daemon gives a fixed ``run_dir`` (next to its RPC socket): a SIGKILLed
daemon leaves nothing behind that the next start does not clear. Without one, a private temp directory
is made and removed on stop.
"""

from __future__ import annotations

import grp
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ..children import die_with_parent
from ..errors import AdapterError

READY_MARK = "started, version"  # dnsmasq logs this once its sockets are bound
DNS_TTL_SECONDS = 1
RUN_FILES = ("dnsmasq.leases", "dnsmasq.pid", "dnsmasq.log")
UNPRIVILEGED_USER = "nobody"  # dnsmasq runs as it once its sockets are bound and its files open
# dnsmasq's change of user makes the kernel forget the parent-death signal (children.py), so it runs under
# a root shell that keeps it and, when signalled (also by that signal), stops dnsmasq and exits with it.
GUARD = (
    'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT HUP\n'
    '"$@" &\n'
    "child=$!\n"
    'wait "$child"; status=$?\n'
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done\n'
    'exit "$status"\n'
)


def _user_and_group(user: str) -> tuple[str, str]:
    """``user`` and its primary group's name (Debian: nobody/nogroup); root's when there is no such user."""
    try:
        entry = pwd.getpwnam(user)
        return user, grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        return "root", "root"


class Dnsmasq:
    """Start/stop/alive for one dnsmasq. ``command_prefix`` runs it through a wrapper (tests use
    ``ip netns exec <ns>``)."""

    def __init__(self, interface: str, gateway: str, dhcp_range: str, run_dir: str | Path | None = None,
                 portal_url: str | None = None, lease_time: str = "10m", binary: str = "dnsmasq",
                 command_prefix: Sequence[str] = (), start_timeout: float = 5.0) -> None:
        self.interface = interface
        self.gateway = gateway
        self.dhcp_range = dhcp_range if dhcp_range.count(",") >= 2 else f"{dhcp_range},{lease_time}"
        self.portal_url = portal_url or f"http://{gateway}/"
        self._own_run_dir = run_dir is None
        self._run_dir = Path(run_dir) if run_dir is not None else None
        self._binary = binary
        self._prefix = list(command_prefix)
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._user, self._group = _user_and_group(UNPRIVILEGED_USER)

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            self._run_dir = Path(tempfile.mkdtemp(prefix="wifi-connect-dnsmasq-"))
        return self._run_dir

    @property
    def lease_file(self) -> Path:
        return self.run_dir / "dnsmasq.leases"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "dnsmasq.log"

    def argv(self) -> list[str]:
        run_dir = self.run_dir
        return [
            self._binary,
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-hosts",
            "--no-resolv",
            "--bind-interfaces",
            f"--interface={self.interface}",
            "--except-interface=lo",
            f"--address=/#/{self.gateway}",
            "--local=/#/",  # every name is ours: AAAA gets an empty NOERROR answer, not REFUSED
            "--filter-AAAA",
            f"--local-ttl={DNS_TTL_SECONDS}",
            f"--neg-ttl={DNS_TTL_SECONDS}",
            f"--dhcp-range={self.dhcp_range}",
            f"--dhcp-option=option:router,{self.gateway}",
            f"--dhcp-option=option:dns-server,{self.gateway}",
            f"--dhcp-option=114,{self.portal_url}",
            "--dhcp-authoritative",  # answer phones that still hold a lease from elsewhere at once
            "--no-ping",  # no 3 s ICMP probe per offer: the portal network is ours alone
            f"--dhcp-leasefile={self.lease_file}",
            f"--pid-file={run_dir / 'dnsmasq.pid'}",
            f"--log-facility={self.log_file}",
            # root only to bind ports 53/67 and open its files (the private run dir stays root's 0700)
            f"--user={self._user}",
            f"--group={self._group}",
        ]

    def start(self) -> None:
        if self.alive():
            return
        self._clear_run_dir()
        self.log_file.write_text("")
        try:
            argv = [*self._prefix, "/bin/sh", "-c", GUARD, "dnsmasq-guard", *self.argv()]
            self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE, preexec_fn=die_with_parent())
        except OSError as err:
            raise AdapterError(f"cannot run {self._binary}: {err}") from err
        self._wait_until_ready()

    def _clear_run_dir(self) -> None:
        """Leases, pid and log of an earlier dnsmasq (a killed daemon's) are stale: start from nothing."""
        try:
            self.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in RUN_FILES:
                (self.run_dir / name).unlink(missing_ok=True)
        except OSError as err:
            raise AdapterError(f"cannot prepare dnsmasq's run directory {self.run_dir}: {err}") from err

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AdapterError(self._failure_message())
            if READY_MARK in self.log_file.read_text(errors="replace"):
                return
            time.sleep(0.02)
        self.stop()
        raise AdapterError(f"dnsmasq on {self.interface} did not start within {self._start_timeout:g}s")

    def _failure_message(self) -> str:
        assert self._process is not None
        stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
        words = " ".join((stderr + self.log_file.read_text(errors="replace")).split())
        self._process = None
        if "Address already in use" in words:
            return f"dnsmasq cannot listen on {self.gateway}:53, another DNS server holds the port: {words}"
        return f"dnsmasq on {self.interface} exited at start: {words}"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None and process.stderr is not None:
            process.stderr.close()
        if self._own_run_dir and self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None
