"""``NmcliBackend``: ports.NetworkBackend on the real ``nmcli``.

The PyPI ``nmcli`` package does what it does well (device status, connectivity, rescan, ``connection
add``); it runs through ``TimedNmcli`` (``nmcli_runner``), so every call has a timeout and LANG is
C.UTF-8. What the package lacks - terse escaped scan output (``nmcli_terse``), ``passwd-file``
(``nmcli_security``: secrets never reach argv), ``uuid``/``id`` keywords, ``--wait`` on activation -
goes through the same runner.
"""

from __future__ import annotations

import contextlib
import math
import uuid as uuidlib
from collections.abc import Mapping, Sequence

import nmcli

from ..errors import DeviceError, NmcliError
from ..models import AccessPoint, Credentials, FailureReason
from ..ports import ActivationFailed, Connectivity
from .nmcli_runner import EXIT_NOT_FOUND, EXIT_TIMEOUT, TimedNmcli
from .nmcli_security import passwd_file, passwd_file_value, secret_lines, security_options
from .nmcli_terse import SCAN_FIELDS, access_point_from_row, split_terse, terse_rows

WIFI_TYPE = "802-11-wireless"
PROFILE_FIELDS = "connection.uuid,802-11-wireless.ssid,802-11-wireless.mode,connection.autoconnect"
AP_START_TIMEOUT = 30.0
# nmcli's words for a failed activation (NM device state reasons), most specific first
FAILURE_MESSAGES = (
    ("Secrets were required", FailureReason.WRONG_PASSWORD),
    ("802.1X supplicant", FailureReason.WRONG_PASSWORD),
    ("could not be found", FailureReason.NOT_FOUND),
    ("No network with SSID", FailureReason.NOT_FOUND),
    ("IP configuration could not be reserved", FailureReason.NO_IP),
    ("DHCP", FailureReason.NO_IP),
)


class NmcliBackend:
    """ports.NetworkBackend through nmcli. ``env`` reaches a non-default bus (the simulator)."""

    def __init__(
        self,
        timeout: float = 15.0,
        env: Mapping[str, str] | None = None,
        binary: str = "nmcli",
    ) -> None:
        nmcli.disable_use_sudo()
        self._cmd = TimedNmcli(timeout, env, binary)
        self._device = nmcli.DeviceControl(self._cmd)
        self._connection = nmcli.ConnectionControl(self._cmd)
        self._networking = nmcli.NetworkingControl(self._cmd)
        self._security_words: dict[str, set[str]] = {}  # ssid -> SECURITY words from the last scan

    # -- devices and state -----------------------------------------------------------------

    def find_wifi_device(self, interface: str | None) -> str:
        devices = self._device.status()
        if interface is None:
            managed = [d.device for d in devices if d.device_type == "wifi" and d.state != "unmanaged"]
            if not managed:
                raise DeviceError("no WiFi device managed by NetworkManager (set --portal-interface)")
            return managed[0]
        found = next((d for d in devices if d.device == interface), None)
        if found is None:
            raise DeviceError(f"interface {interface!r} does not exist (PORTAL_INTERFACE)")
        if found.device_type != "wifi":
            raise DeviceError(f"interface {interface!r} is {found.device_type}, not WiFi (PORTAL_INTERFACE)")
        if found.state == "unmanaged":
            raise DeviceError(f"interface {interface!r} is not managed by NetworkManager (PORTAL_INTERFACE)")
        return interface

    def hardware_address(self, interface: str) -> str:
        """The device's MAC address as NM reports it (``GENERAL.HWADDR``), e.g. ``11:22:33:44:55:66``."""
        return self._values(["-f", "GENERAL.HWADDR", "device", "show", interface])[0]

    def hostname(self) -> str:
        return self._cmd.run(["general", "hostname"]).stdout.strip()

    def ipv4_addresses(self, interface: str) -> list[str]:
        """``-g IP4.ADDRESS``: ``10.1.2.3/24 | 10.1.2.4/24`` (nothing while unconfigured)."""
        output = self._cmd.run(["-g", "IP4.ADDRESS", "device", "show", interface]).stdout
        return [item.strip().split("/")[0] for item in output.replace("\n", " ").split("|") if item.strip()]

    def connectivity(self, check: bool = False) -> Connectivity:
        """NM's last verdict (a property read); ``check`` makes NM probe again first (its own URI)."""
        return Connectivity(self._networking.connectivity(check=check).value)

    def scan(self, interface: str, rescan: bool) -> list[AccessPoint]:
        if rescan:
            # an explicit rescan first: `list --rescan yes` would hide a driver's refusal (e.g. in AP mode)
            self._device.wifi_rescan(ifname=interface)
        listing = ["device", "wifi", "list", "ifname", interface, "--rescan", "yes" if rescan else "no"]
        rows = terse_rows(self._cmd.run(["-t", "-e", "yes", "-f", SCAN_FIELDS, *listing]).stdout)
        self._security_words.update({row[1]: set(row[3].split()) for row in rows})
        return [access_point_from_row(row) for row in rows]

    def active_wifi_ssid(self, interface: str) -> str | None:
        fields = "GENERAL.STATE,GENERAL.CON-UUID"
        state, con_uuid = self._values(["-f", fields, "device", "show", interface])[:2]
        if not state.startswith("100") or not con_uuid:
            return None
        profile = self._profiles([con_uuid])
        return profile[0].ssid if profile and profile[0].mode != "ap" else None

    # -- profiles ----------------------------------------------------------------------------

    def saved_wifi_ssids(self) -> set[str]:
        return {p.ssid for p in self._profiles() if p.mode != "ap"}

    def set_aside_profiles(self, ssid: str) -> dict[str, bool]:
        set_aside: dict[str, bool] = {}
        try:
            for profile in self._profiles():
                if profile.ssid == ssid and profile.mode != "ap":
                    self._set_autoconnect(profile.uuid, False)
                    set_aside[profile.uuid] = profile.autoconnect
        except NmcliError:
            self.restore_profiles(set_aside)  # all or nothing
            raise
        return set_aside

    def restore_profiles(self, set_aside: Mapping[str, bool]) -> None:
        for uuid, autoconnect in set_aside.items():
            self._set_autoconnect(uuid, autoconnect)

    def _set_autoconnect(self, uuid: str, on: bool) -> None:
        self._cmd.run(["connection", "modify", "uuid", uuid, "connection.autoconnect", "yes" if on else "no"])

    def forget_wifi_networks(self) -> Sequence[str]:
        forgotten = []
        for profile in self._profiles():
            if profile.mode != "ap":
                self.delete_profile(profile.uuid)
                forgotten.append(profile.ssid)
        return forgotten

    def delete_profile(self, uuid: str) -> None:
        try:
            self._cmd.run(["connection", "delete", "uuid", uuid])
        except NmcliError as err:
            if err.exit_code != EXIT_NOT_FOUND:  # already gone is what we wanted
                raise

    def add_profile(self, interface: str, credentials: Credentials) -> str:
        new_uuid = str(uuidlib.uuid4())  # ours, so we need not parse nmcli's message for it
        options = {
            "connection.uuid": new_uuid,
            "ssid": credentials.ssid,
            **security_options(credentials, self._security_words.get(credentials.ssid) == {"WPA3"}),
        }
        if credentials.hidden:
            options["802-11-wireless.hidden"] = "yes"
        self._connection.add("wifi", options, ifname=interface, name=credentials.ssid, autoconnect=True)
        return new_uuid

    # -- activation --------------------------------------------------------------------------

    def activate(self, uuid: str, credentials: Credentials, timeout: float) -> None:
        try:
            self._up(uuid, secret_lines(credentials), timeout)
        except NmcliError as err:
            raise self._activation_failure(uuid, err) from err

    def _up(self, uuid: str, secret_lines: list[str], timeout: float) -> None:
        """``connection up uuid U [passwd-file F]``: nmcli's agent hands F's secrets to NetworkManager."""
        wait = max(1, math.ceil(timeout))
        with passwd_file(secret_lines) as path:
            extra = ["passwd-file", str(path)] if path else []
            self._cmd.run(["-w", str(wait), "connection", "up", "uuid", uuid, *extra], timeout=wait + 10)

    def _activation_failure(self, uuid: str, err: NmcliError) -> ActivationFailed:
        if err.exit_code == EXIT_TIMEOUT:
            self._quietly(["connection", "down", "uuid", uuid])  # don't leave it activating
            return ActivationFailed(FailureReason.TIMEOUT, "NetworkManager did not finish in time")
        if err.exit_code is None:
            return ActivationFailed(FailureReason.TIMEOUT, str(err))
        message = err.stderr or str(err)
        for words, reason in FAILURE_MESSAGES:
            if words in message:
                return ActivationFailed(reason, _first_error_line(message))
        if err.exit_code == EXIT_NOT_FOUND:
            return ActivationFailed(FailureReason.NOT_FOUND, _first_error_line(message))
        return ActivationFailed(FailureReason.FAILED, _first_error_line(message))

    def activate_saved(self, interface: str, timeout: float) -> bool:
        wait = max(1, math.ceil(timeout))
        try:
            self._cmd.run(["-w", str(wait), "device", "connect", interface], timeout=wait + 10)
        except NmcliError as err:
            if err.exit_code == EXIT_TIMEOUT:
                self._quietly(["device", "disconnect", interface])
            return False
        return self.active_wifi_ssid(interface) is not None

    # -- the access point --------------------------------------------------------------------

    def start_access_point(self, interface: str, ssid: str, passphrase: str | None, gateway: str) -> None:
        new_uuid = str(uuidlib.uuid4())
        options = {
            "connection.uuid": new_uuid,
            "ssid": ssid,
            "802-11-wireless.mode": "ap",
            "802-11-wireless.band": "bg",
            "ipv4.method": "manual",
            "ipv4.addresses": f"{gateway}/24",
            "ipv6.method": "ignore",
        }
        if passphrase:
            options |= {
                "wifi-sec.key-mgmt": "wpa-psk",
                "wifi-sec.proto": "rsn",
                "wifi-sec.pairwise": "ccmp",
                "wifi-sec.group": "ccmp",
                "wifi-sec.psk-flags": "0",
            }
        self._connection.add("wifi", options, ifname=interface, name=ssid, autoconnect=False)
        secret = [f"802-11-wireless-security.psk:{passwd_file_value(passphrase)}"] if passphrase else []
        try:
            self._up(new_uuid, secret, AP_START_TIMEOUT)
        except NmcliError:
            self.delete_profile(new_uuid)
            raise

    def stop_access_point(self, ssid: str) -> None:
        for profile in self._profiles():
            if profile.mode == "ap" and profile.ssid == ssid:
                self._quietly(["connection", "down", "uuid", profile.uuid])
                self.delete_profile(profile.uuid)

    # -- helpers -----------------------------------------------------------------------------

    def _profiles(self, uuids: Sequence[str] | None = None) -> list[_Profile]:
        if uuids is None:
            listing = self._cmd.run(["-t", "-e", "yes", "-f", "UUID,TYPE", "connection", "show"]).stdout
            rows = terse_rows(listing)
            uuids = [row[0] for row in rows if row[1] == WIFI_TYPE]
        if not uuids:
            return []
        selectors = [word for u in uuids for word in ("uuid", u)]
        values = self._values(["-f", PROFILE_FIELDS, "connection", "show", *selectors])
        size = PROFILE_FIELDS.count(",") + 1
        blocks = [values[i : i + size] for i in range(0, len(values), size + 1)]  # blank line between
        return [_Profile(b[0], b[1], b[2], b[3] == "yes") for b in blocks if len(b) == size]

    def _values(self, args: list[str]) -> list[str]:
        """``show`` output in terse tabular mode: one (escaped) value per line, in field order."""
        output = self._cmd.run(["-t", "-e", "yes", "-m", "tabular", *args]).stdout
        return [split_terse(line)[0] for line in output.splitlines()] + ["", ""]

    def _quietly(self, args: list[str]) -> None:
        with contextlib.suppress(NmcliError):  # best-effort clean-up; the caller reports the first failure
            self._cmd.run(args)


class _Profile:
    __slots__ = ("autoconnect", "mode", "ssid", "uuid")

    def __init__(self, uuid: str, ssid: str, mode: str, autoconnect: bool) -> None:
        self.uuid, self.ssid, self.mode, self.autoconnect = uuid, ssid, mode, autoconnect


def _first_error_line(message: str) -> str:
    line = next((ln for ln in message.splitlines() if ln.startswith("Error")), message.splitlines()[0])
    return line.removeprefix("Error: ").strip()
