"""Start-up settings: balena wifi-connect's flags and environment variables (flag wins), plus the daemon's.

Every setting is one row of ``SETTINGS``; the parser, ``--help`` and the README table all follow it. A bad
value raises ConfigError naming both the flag and the variable; ``__main__`` turns it into exit code 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import __doc__ as PACKAGE_DOC
from .adapters.mdns import MDNS_MODES
from .errors import ConfigError, InputError
from .setting_values import (
    bounded_seconds,
    cert_directory,
    choice,
    command,
    device_id,
    dhcp_range,
    directory,
    http_url,
    integer,
    interface,
    loopback_address,
    portal_gateway,
    portal_passphrase,
    seconds,
    socket_path,
    ssid,
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What clients of the open portal may hold (``web.worker.PortalWorker`` enforces them)."""

    head_timeout: float = 5.0
    body_timeout: float = 10.0
    max_body_bytes: int = 16 * 1024
    max_per_client: int = 16
    max_connections: int = 256


@dataclass(frozen=True)
class Setting:
    """One start-up setting: the attribute, its flag, its variable, its default (as text) and its parser."""

    attr: str
    flag: str
    env: str
    default: str
    parse: Callable[[str], object]
    help: str
    short: str | None = None
    secret: bool = False
    verbatim: bool = False  # surrounding spaces are part of the value (secrets, SSIDs)

    @property
    def names(self) -> str:
        return f"{self.flag}/{self.env}"


def _optional(parse: Callable[[str], object]) -> Callable[[str], object]:
    return lambda text: parse(text) if text else None


SETTINGS: tuple[Setting, ...] = (
    # balena wifi-connect's settings, same names and defaults
    Setting("portal_interface", "--portal-interface", "PORTAL_INTERFACE", "", _optional(interface),
            "WiFi device for the portal (default: the first NetworkManager-managed WiFi device)", "-i"),
    Setting("portal_ssid", "--portal-ssid", "PORTAL_SSID", "WiFi Connect", ssid,
            "SSID of the portal's access point (1-32 bytes); {idN} = the last N characters of the device "
            "ID, e.g. 'Setup {id4}'", "-s", verbatim=True),
    Setting("portal_passphrase", "--portal-passphrase", "PORTAL_PASSPHRASE", "", portal_passphrase,
            "WPA2 passphrase of the access point, 8-63 printable ASCII (default: open)", "-p", secret=True),
    Setting("portal_gateway", "--portal-gateway", "PORTAL_GATEWAY", "192.168.42.1", portal_gateway,
            "address of the device on the portal network (a /24)", "-g"),
    Setting("portal_dhcp_range", "--portal-dhcp-range", "PORTAL_DHCP_RANGE",
            "192.168.42.2,192.168.42.254", dhcp_range,
            "START,END[,LEASE] handed out by DHCP; inside the gateway's /24, excluding it", "-d"),
    Setting("portal_listening_port", "--portal-listening-port", "PORTAL_LISTENING_PORT", "80",
            integer(1, 65535), "TCP port of the portal web app on the gateway (probes need 80)", "-o"),
    Setting("activity_timeout", "--activity-timeout", "ACTIVITY_TIMEOUT", "0", integer(0),
            "seconds: if nobody used the portal within them, take it down and retry saved networks "
            "(0 = never)", "-a"),
    Setting("ui_directory", "--ui-directory", "UI_DIRECTORY", "", _optional(directory),
            "directory with your own index.html (+ assets) using the same API (default: built-in UI)", "-u"),
    # the daemon's own settings
    Setting("client_interface", "--client-interface", "CLIENT_INTERFACE", "", _optional(interface),
            "WiFi device that joins networks when the portal's AP has a device of its own (default: the "
            "portal interface: one radio, the AP goes down while joining)"),
    Setting("mdns", "--mdns", "MDNS", "auto", choice(*MDNS_MODES),
            "whether the device is announced as <hostname>.local after joining: auto (when the host's "
            "avahi-daemon is on the system bus), yes or no"),
    Setting("device_id", "--device-id", "BALENA_DEVICE_UUID", "", device_id,
            "device ID for {idN} in the portal SSID (balena sets the variable; default: the portal "
            "interface's MAC address)"),
    Setting("grace_period", "--grace-period", "GRACE_PERIOD", "20", seconds(0),
            "seconds to let saved networks come up at start before raising the portal"),
    Setting("connect_timeout", "--connect-timeout", "CONNECT_TIMEOUT", "45", seconds(1),
            "seconds to wait for a network the user chose to come up"),
    Setting("lost_tolerance", "--lost-connection-tolerance", "LOST_CONNECTION_TOLERANCE", "60", seconds(0),
            "seconds a lost connection is tolerated before the portal is raised again"),
    Setting("retry_interval", "--retry-interval", "RETRY_INTERVAL", "300", seconds(0),
            "seconds between retries of saved networks while the portal is up and unused (0 = never)"),
    Setting("check_interval", "--check-interval", "CHECK_INTERVAL", "300", seconds(0.05),
            "seconds between connectivity re-checks when NetworkManager reported no change (a safety "
            "net: NM's events drive everything else)"),
    Setting("connectivity_check_url", "--connectivity-check-url", "CONNECTIVITY_CHECK_URL", "", http_url,
            "optional URL that must answer 2xx (no redirect) for the device to count as online"),
    Setting("control_address", "--control-address", "CONTROL_ADDRESS", "127.0.0.1:8081", loopback_address,
            "HOST:PORT of the local control API (loopback only)"),
    Setting("hook_command", "--hook-command", "HOOK_COMMAND", "", command,
            "command run on every state change, with WIFI_CONNECT_* variables (no shell; split like sh)"),
    Setting("nmcli_timeout", "--nmcli-timeout", "NMCLI_TIMEOUT", "20", seconds(1),
            "seconds before a hung nmcli call is abandoned"),
    Setting("rpc_socket", "--rpc-socket", "WIFI_CONNECT_SOCKET", "/run/wifi-connect/daemon.sock",
            socket_path, "Unix socket between the daemon and its web workers"),
    Setting("ca_cert_directory", "--ca-cert-directory", "CA_CERT_DIRECTORY", "", _optional(cert_directory),
            "directory of CA certificates an enterprise network's ca_cert may name (default: none offered)"),
    Setting("portal_server", "--portal-server", "PORTAL_SERVER", "gunicorn",
            choice("gunicorn", "in-process"),
            "how the portal is served: 'gunicorn' (gunicorn's hardened threaded worker, forked from the "
            "daemon) or 'in-process' (the daemon's own HTTP server: no child process, less memory)"),
    # what one client of the open portal may hold (web/worker.py)
    Setting("portal_header_timeout", "--portal-header-timeout", "PORTAL_HEADER_TIMEOUT", "5",
            bounded_seconds(0.5, 60), "seconds a portal connection has to send a complete request head "
            "after it opens (or after the previous answer); idle and trickling clients are closed then"),
    Setting("portal_body_timeout", "--portal-body-timeout", "PORTAL_BODY_TIMEOUT", "10",
            bounded_seconds(0.5, 120), "seconds a portal request has to send its body (408 after)"),
    Setting("portal_connections_per_client", "--portal-connections-per-client",
            "PORTAL_CONNECTIONS_PER_CLIENT", "16", integer(1, 1000),
            "open portal connections one client address may hold; more are closed at once"),
    Setting("portal_max_connections", "--portal-max-connections", "PORTAL_MAX_CONNECTIONS", "256",
            integer(8, 10000), "open portal connections in total; more wait until one closes"),
)


@dataclass(frozen=True)
class Config:
    """Validated settings (see SETTINGS); ``portal_passphrase`` stays out of ``repr`` and so out of logs."""

    portal_interface: str | None
    portal_ssid: str
    portal_passphrase: str | None = field(repr=False)
    portal_gateway: ipaddress.IPv4Address
    portal_dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, str | None]
    portal_listening_port: int
    activity_timeout: int
    ui_directory: Path | None
    client_interface: str | None
    mdns: str
    device_id: str | None
    grace_period: float
    connect_timeout: float
    lost_tolerance: float
    retry_interval: float
    check_interval: float
    connectivity_check_url: str | None
    control_address: tuple[str, int]
    hook_command: str | None
    nmcli_timeout: float
    rpc_socket: Path
    ca_cert_directory: Path | None
    portal_server: str
    portal_header_timeout: float
    portal_body_timeout: float
    portal_connections_per_client: int
    portal_max_connections: int

    def describe(self) -> dict[str, str]:
        """Every setting as text for the start-up log line; a secret only says whether it is set."""
        shown = {
            setting.attr: ("(set)" if value else "(none)") if setting.secret else str(value)
            for setting in SETTINGS
            if (value := getattr(self, setting.attr)) is not None or setting.secret
        }
        shown.update(portal_dhcp_range=self.dhcp_range_text, control_address=self.control_address_text)
        return shown

    @property
    def dhcp_range_text(self) -> str:
        """The range as dnsmasq's ``--dhcp-range`` wants it."""
        start, end, lease = self.portal_dhcp_range
        return ",".join(str(part) for part in (start, end, lease) if part is not None)

    @property
    def portal_url(self) -> str:
        port = "" if self.portal_listening_port == 80 else f":{self.portal_listening_port}"
        return f"http://{self.portal_gateway}{port}/"

    @property
    def portal_limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            head_timeout=self.portal_header_timeout, body_timeout=self.portal_body_timeout,
            max_per_client=self.portal_connections_per_client, max_connections=self.portal_max_connections)

    @property
    def control_address_text(self) -> str:
        return host_port(*self.control_address)


def host_port(host: str, port: int) -> str:
    """``HOST:PORT``, an IPv6 host in brackets (as gunicorn's ``--bind`` and URLs want it)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _PrintVersion(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked (importlib.metadata
    costs ~2 MiB of the daemon's memory for the rest of its life)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("edge-sidecars")
        except metadata.PackageNotFoundError:
            version = "unknown"
        print(f"{parser.prog} {version}")
        parser.exit()


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wifi-connect",
        description=PACKAGE_DOC,
        epilog="Every flag can also be set by the environment variable shown; the flag wins.",
    )
    parser.add_argument("-V", "--version", action=_PrintVersion)
    parser.add_argument("--healthcheck", action="store_true",
                        help="for Docker's HEALTHCHECK: exit 0 when the control API answers, else 1")
    for setting in SETTINGS:
        flags = [setting.short, setting.flag] if setting.short else [setting.flag]
        shown_default = "none" if setting.secret or not setting.default else setting.default
        parser.add_argument(*flags, dest=setting.attr, default=None, metavar=setting.env,
                            help=f"{setting.help} [env {setting.env}; default {shown_default}]")
    return parser


def _check_dhcp_range(config: Config) -> None:
    start, end, _ = config.portal_dhcp_range
    network = ipaddress.IPv4Network(f"{config.portal_gateway}/24", strict=False)
    where = f"{SETTINGS_BY_ATTR['portal_dhcp_range'].names} with {SETTINGS_BY_ATTR['portal_gateway'].names}"
    if start not in network or end not in network:
        raise ConfigError(where, f"the DHCP range must sit inside the gateway's network {network}")
    if start <= config.portal_gateway <= end:
        raise ConfigError(where, f"the DHCP range must not include the gateway {config.portal_gateway}")
    if start == network.network_address or end == network.broadcast_address:
        raise ConfigError(where, "the DHCP range must not include the network or broadcast address")


SETTINGS_BY_ATTR = {setting.attr: setting for setting in SETTINGS}


def _read_secret_file(variable: str, environ: Mapping[str, str]) -> str | None:
    """A secret from the file named by ``variable`` (Docker/balena secrets), one trailing newline dropped."""
    path = environ.get(variable)
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(variable, f"cannot read the secret file {path}: {err}") from err
    return text.removesuffix("\n")


def remove_secrets_from_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Once the settings are read: no child process (nmcli, dnsmasq, the hook) may inherit a secret."""
    environ = os.environ if environ is None else environ
    for setting in SETTINGS:
        if setting.secret:
            environ.pop(setting.env, None)


def load_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Config:
    """Parse flags over environment over defaults; raise ConfigError naming the flag and the variable.

    Unknown flags are argparse's business (it prints usage and exits 2, like a bad value).
    """
    environ = os.environ if environ is None else environ
    flags = vars(_argument_parser().parse_args(list(argv)))
    values: dict[str, object] = {}
    for setting in SETTINGS:
        text = flags[setting.attr]
        if text is None:
            text = environ.get(setting.env)
        if text is None and setting.secret:
            text = _read_secret_file(f"{setting.env}_FILE", environ)
        if text is None:
            text = setting.default
        try:
            values[setting.attr] = setting.parse(text if setting.secret or setting.verbatim else text.strip())
        except (ValueError, InputError) as err:
            shown = "" if setting.secret else f" (got {text!r})"
            raise ConfigError(setting.names, f"{err}{shown}") from err
    config = Config(**values)
    _check_dhcp_range(config)
    return config
