"""``NmcliBackend``: ports.NetworkBackend on the real ``nmcli``.

The PyPI ``nmcli`` package does what it does well (device status, connectivity, rescan, ``connection
add``); it runs through ``TimedNmcli``, our SystemCommand, so every call has a timeout and LANG is
C.UTF-8 (English messages, SSIDs in UTF-8). What the package lacks - terse escaped scan output,
``passwd-file``, ``uuid``/``id`` keywords, ``--wait`` on activation - goes through the same runner.

Secrets never reach argv: profiles are created without them and ``connection up ... passwd-file F``
hands them to nmcli's secret agent, which NetworkManager asks during activation; F is 0600 in a
private temp directory and deleted as soon as nmcli returns. NetworkManager then saves the secret
(psk-flags 0 = system-owned) so the profile autoconnects after a reboot (see devrig/nm_template.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
import tempfile
import uuid as uuidlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import nmcli

from ..errors import AdapterError, DeviceError, NmcliError
from ..models import AccessPoint, Credentials, FailureReason, Security
from ..ports import ActivationFailed, Connectivity

WIFI_TYPE = "802-11-wireless"
SCAN_FIELDS = "IN-USE,SSID,BSSID,SECURITY,SIGNAL,FREQ"
PROFILE_FIELDS = "connection.uuid,802-11-wireless.ssid,802-11-wireless.mode,connection.autoconnect"
AP_START_TIMEOUT = 30.0
EXIT_TIMEOUT = 3
EXIT_ACTIVATION_FAILED = 4
EXIT_NOT_FOUND = 10
# nmcli's words for a failed activation (NM device state reasons), most specific first
FAILURE_MESSAGES = (
    ("Secrets were required", FailureReason.WRONG_PASSWORD),
    ("802.1X supplicant", FailureReason.WRONG_PASSWORD),
    ("could not be found", FailureReason.NOT_FOUND),
    ("No network with SSID", FailureReason.NOT_FOUND),
    ("IP configuration could not be reserved", FailureReason.NO_IP),
    ("DHCP", FailureReason.NO_IP),
)


# ---- running nmcli -----------------------------------------------------------------------------


class TimedNmcli(nmcli.SystemCommandInterface):
    """Runs nmcli with a timeout and C.UTF-8; any failure is an ``NmcliError`` (exit code kept)."""

    def __init__(
        self, timeout: float = 15.0, env: Mapping[str, str] | None = None, binary: str = "nmcli"
    ) -> None:
        self.timeout = timeout
        self._env = env
        self._binary = binary

    # nmcli.SystemCommandInterface
    def nmcli(self, parameters: str | list[str]) -> str:
        return self.run([parameters] if isinstance(parameters, str) else list(parameters)).stdout

    def disable_use_sudo(self) -> None:  # we never use sudo
        pass

    def set_lang(self, lang: str) -> None:  # the locale is ours to choose, see _environment
        pass

    def run(self, args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        argv = [self._binary, *args]
        limit = self.timeout if timeout is None else timeout
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._environment(),
                timeout=limit,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise NmcliError(f"nmcli {' '.join(args)} did not finish within {limit:g}s") from err
        except OSError as err:
            raise NmcliError(f"cannot run {self._binary}: {err}") from err
        except UnicodeError as err:  # text that has no UTF-8 form (a lone surrogate) cannot reach argv
            raise NmcliError(f"nmcli {' '.join(args[:2])}: an argument is not valid Unicode text") from err
        if result.returncode != 0:
            message = result.stderr.strip() or result.stdout.strip()
            raise NmcliError(f"nmcli {' '.join(args)}: {message}", result.returncode, result.stderr)
        return result

    def _environment(self) -> dict[str, str]:
        base = dict(os.environ if self._env is None else self._env)
        # English messages (we match them) but UTF-8 output: in the C locale nmcli prints '?' for non-ASCII
        return {**base, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


# ---- terse output ------------------------------------------------------------------------------


def split_terse(line: str) -> list[str]:
    """Split one line of ``nmcli -t -e yes`` output: ':' separates, '\\' escapes ':' and '\\'."""
    fields, current, chars = [], [], iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def escape_terse(field: str) -> str:
    """What nmcli does to a value in terse mode (the inverse of ``split_terse``)."""
    return field.replace("\\", "\\\\").replace(":", "\\:")


def terse_rows(output: str) -> list[list[str]]:
    """Every non-empty line of ``nmcli -t -e yes`` output, split into its fields."""
    return [split_terse(line) for line in output.splitlines() if line]


def parse_scan(output: str) -> list[AccessPoint]:
    """``-t -e yes -f IN-USE,SSID,BSSID,SECURITY,SIGNAL,FREQ device wifi list`` -> access points."""
    return [_access_point(row) for row in terse_rows(output)]


def _access_point(row: list[str]) -> AccessPoint:
    in_use, ssid, bssid, security, signal, frequency = row
    return AccessPoint(
        ssid=ssid,
        bssid=bssid,
        security=Security.from_nmcli(security),
        signal=int(signal or 0),
        frequency=int(frequency.split()[0] if frequency else 0),
        in_use=in_use.strip() == "*",
    )


def passwd_file_value(secret: str) -> str:
    """Escape a secret for nmcli's passwd-file, which strips blanks and reads '\\' as an escape."""
    if any(char in secret for char in "\n\r\0"):
        raise AdapterError("a secret cannot contain a line break or NUL (nmcli's passwd-file is line-based)")
    return secret.replace("\\", "\\\\").replace(" ", "\\ ").replace("\t", "\\t")


# ---- the backend -------------------------------------------------------------------------------


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
        return [_access_point(row) for row in rows]

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
            **self._security_options(credentials),
        }
        if credentials.hidden:
            options["802-11-wireless.hidden"] = "yes"
        self._connection.add("wifi", options, ifname=interface, name=credentials.ssid, autoconnect=True)
        return new_uuid

    def _security_options(self, credentials: Credentials) -> dict[str, str]:
        match credentials.security:
            case Security.NONE:
                return {}
            case Security.WEP:
                # 5/13 characters or 10/26 hex digits are keys (type 1); anything else is a passphrase (2)
                key_type = "1" if _is_wep_key(credentials.passphrase) else "2"
                return {
                    "wifi-sec.key-mgmt": "none",
                    "wifi-sec.wep-key-type": key_type,
                    "wifi-sec.wep-key-flags": "0",
                }
            case Security.WPA:
                # NM 1.42's wpa-psk covers WPA2 and WPA3-transition; a WPA3-only network needs sae
                key_mgmt = "sae" if self._security_words.get(credentials.ssid) == {"WPA3"} else "wpa-psk"
                return {"wifi-sec.key-mgmt": key_mgmt, "wifi-sec.psk-flags": "0"}
            case Security.ENTERPRISE:
                return _enterprise_options(credentials)
        raise AdapterError(f"unknown security {credentials.security!r}")

    # -- activation --------------------------------------------------------------------------

    def activate(self, uuid: str, credentials: Credentials, timeout: float) -> None:
        try:
            self._up(uuid, _secret_lines(credentials), timeout)
        except NmcliError as err:
            raise self._activation_failure(uuid, err) from err

    def _up(self, uuid: str, secret_lines: list[str], timeout: float) -> None:
        """``connection up uuid U [passwd-file F]``: nmcli's agent hands F's secrets to NetworkManager."""
        wait = max(1, math.ceil(timeout))
        with _passwd_file(secret_lines) as path:
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


def _is_wep_key(key: str) -> bool:
    hex_digits = all(c in "0123456789abcdefABCDEF" for c in key)
    return len(key) in (5, 13) or (len(key) in (10, 26) and hex_digits)


def _enterprise_options(credentials: Credentials) -> dict[str, str]:
    options = {
        "wifi-sec.key-mgmt": "wpa-eap",
        "802-1x.eap": credentials.eap or "peap",
        "802-1x.phase2-auth": "mschapv2",
        "802-1x.identity": credentials.identity,
        "802-1x.password-flags": "0",
    }
    if credentials.anonymous_identity:
        options["802-1x.anonymous-identity"] = credentials.anonymous_identity
    if credentials.ca_cert:
        options["802-1x.ca-cert"] = credentials.ca_cert
    if credentials.domain_suffix_match:
        options["802-1x.domain-suffix-match"] = credentials.domain_suffix_match
    return options


def _secret_lines(credentials: Credentials) -> list[str]:
    """passwd-file lines for the secret this security type needs (none for open networks)."""
    secret = passwd_file_value(credentials.passphrase)
    match credentials.security:
        case Security.WPA:
            return [f"802-11-wireless-security.psk:{secret}"]
        case Security.WEP:
            return [f"802-11-wireless-security.wep-key0:{secret}"]
        case Security.ENTERPRISE:
            # nmcli's agent asks for identity and password together; the identity is not secret
            return [f"802-1x.identity:{passwd_file_value(credentials.identity)}", f"802-1x.password:{secret}"]
    return []


@contextmanager
def _passwd_file(lines: list[str]) -> Iterator[Path | None]:
    """A 0600 file in a private 0700 directory, removed on exit; None when there is nothing to hand over."""
    if not lines:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="wifi-connect-") as directory:
        path = Path(directory) / "secrets"
        try:
            content = ("\n".join(lines) + "\n").encode("utf-8")
        except UnicodeError as err:
            raise AdapterError("a secret is not valid Unicode text (it cannot be written for nmcli)") from err
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        yield path


def _first_error_line(message: str) -> str:
    line = next((ln for ln in message.splitlines() if ln.startswith("Error")), message.splitlines()[0])
    return line.removeprefix("Error: ").strip()
