"""python-dbusmock template: NetworkManager with real secrets, failures and connectivity.

Run with the SYSTEM python (it needs dbus-python and GLib, which the project venv does not have):

    /usr/bin/python3 -m dbusmock --system --template devrig/nm_template.py

It extends dbusmock's stock ``networkmanager`` template (whose objects, properties and helpers it
reuses) with what the stock one lacks:

* an AgentManager, so ``nmcli ... passwd-file F`` can register its secret agent, and an activation
  that asks that agent for the secret (``SecretAgent.GetSecrets``) when the profile lacks it, then
  checks it: wrong or missing -> the activation fails with NM's device reason NO_SECRETS (7), so
  ``nmcli connection up`` exits 4 with "Secrets were required, but not provided";
* profiles whose ``GetSettings`` hides secrets and ``GetSecrets`` returns them (``nmcli -s``);
* access points with every security type (open, WEP, WPA-PSK, SAE, 802.1X) and hidden SSIDs;
* failure injection per network: ``hang`` (activation never finishes), ``no_ip`` (fails with
  IP_CONFIG_UNAVAILABLE, NM's reason for a DHCP timeout), vanished networks (SSID_NOT_FOUND), and
  dropping an active connection later; connectivity settable at any time;
* RequestScan that updates LastScan, so ``nmcli device wifi list/rescan`` do not hang;
* ``Autoconnect``: what NM does at boot - activate the best saved profile using saved secrets only.
* what ``nmcli monitor`` listens to: every state, connectivity and device change goes through dbusmock's
  ``Set`` (which emits ``org.freedesktop.DBus.Properties.PropertiesChanged``) plus NM's own
  ``StateChanged`` signals, so the monitor prints "wlan0: connected", "Connectivity is now 'full'"...;
* several WiFi devices (``AddWiFiDevice``), each with its own MAC address; an IP4Config with the
  network's address (``address`` in AddNetwork) on a connected client device; the host name
  (``SetHostname``, ``nmcli general hostname``); an activation without a device goes to the device the
  profile is bound to (``connection.interface-name``), as nmcli asks NM to.

Why the secret is saved into the profile (evidence for "the saved profile keeps the secret"):
NetworkManager's nm-settings-connection.c (github.com/NetworkManager/NetworkManager; src/settings/ in
1.2x trees, src/core/settings/ later), function ``get_secrets_done_cb`` (``agent_secrets_done_cb`` in
older trees) - read in the source, not observed on a live NetworkManager here: when an agent answers
GetSecrets, ``get_cmp_flags`` sets ``agent_had_system`` if any returned secret is system-owned
(``secret_is_system_owned``: its flags lack NM_SETTING_SECRET_FLAG_AGENT_OWNED - e.g. psk-flags 0,
what ``nmcli connection add`` creates). The merged connection is then committed with
``nm_settings_connection_update(..., agent_had_system ? NM_SETTINGS_CONNECTION_PERSIST_MODE_KEEP
: ..._NO_PERSIST, ..., "get-new-secrets")`` and logged as "saving new secrets to backing storage"
(older trees: PERSIST_MODE_DISK). So a passwd-file secret for a psk-flags=0 profile ends up in the
keyfile, and the profile autoconnects after a reboot. We emulate exactly that: the agent's
secrets are stored on receipt (before they are checked, as NM does) when their flags are 0.

Control interface (org.freedesktop.DBus.Mock on /org/freedesktop), JSON in and out so any client
(busctl) can call it: AddNetwork (the path of a JSON file, which keeps passwords out of argv),
RemoveNetwork, SetNetworkBehaviour, SetConnectivityState, DropConnection, Autoconnect,
RefuseScanInApMode, RefuseEveryScan, SetDeviceManaged, ListProfiles, AddWiFiDevice, SetHostname.
"""

# ruff: noqa: F403, F405  (D-Bus method names; the stock template's names are re-exported)

import json
import time
import uuid
from typing import ClassVar

import dbus
import dbusmock
from dbusmock import MOCK_IFACE
from dbusmock.templates.networkmanager import *
from dbusmock.templates.networkmanager import load as stock_load
from gi.repository import GLib

AGENT_MANAGER_OBJ = "/org/freedesktop/NetworkManager/AgentManager"
AGENT_MANAGER_IFACE = "org.freedesktop.NetworkManager.AgentManager"
AGENT_OBJ = "/org/freedesktop/NetworkManager/SecretAgent"
AGENT_IFACE = "org.freedesktop.NetworkManager.SecretAgent"
WSEC = "802-11-wireless-security"
EAP = "802-1x"

# NMDeviceStateReason values (nm-dbus-interface.h) the simulator reports.
REASON_NONE = 0
REASON_IP_CONFIG_UNAVAILABLE = 5
REASON_NO_SECRETS = 7
REASON_SUPPLICANT_DISCONNECT = 8
REASON_SUPPLICANT_CONFIG_FAILED = 9
REASON_CONNECTION_REMOVED = 38
REASON_USER_REQUESTED = 39
REASON_SSID_NOT_FOUND = 53
# NMActiveConnectionStateReason
AC_REASON_DEVICE_DISCONNECTED = 3
AC_REASON_USER_DISCONNECTED = 2
AC_REASON_CONNECTION_REMOVED = 12
GET_SECRETS_ALLOW_INTERACTION = 0x1
GET_SECRETS_REQUEST_NEW = 0x2

# AP security flags per simulated security type: (Flags, WpaFlags, RsnFlags)
PAIR_GROUP_CCMP = 0x08 | 0x80
AP_FLAGS = {
    "open": (0, 0, 0),
    "wep": (1, 0, 0),
    "wpa-psk": (1, 0, 0x100 | PAIR_GROUP_CCMP),
    "sae": (1, 0, 0x400 | PAIR_GROUP_CCMP),
    "wpa-eap": (1, 0, 0x200 | PAIR_GROUP_CCMP),
}
# The secret each security type checks, by (setting, key)
SECRET_KEY = {
    "wep": (WSEC, "wep-key0"),
    "wpa-psk": (WSEC, "psk"),
    "sae": (WSEC, "psk"),
    "wpa-eap": (EAP, "password"),
}
SECRET_KEYS = {
    WSEC: ("psk", "wep-key0", "wep-key1", "wep-key2", "wep-key3", "leap-password"),
    EAP: ("password", "private-key-password", "pin"),
}

STEP_MS = 150  # pause between simulated activation stages, so clients see each state
IP4_CONFIG_IFACE = "org.freedesktop.NetworkManager.IP4Config"
CONNECTIVITY = {"unknown": 0, "none": 1, "portal": 2, "limited": 3, "full": 4}


class Sim:
    """Simulator state, kept apart from the D-Bus objects."""

    networks: ClassVar[dict] = {}  # ssid -> spec (security, password, identity, hidden, behaviour, aps)
    agents: ClassVar[list] = []  # unique bus names of registered secret agents, newest last
    upstream = "full"  # connectivity reached once a client connection is up
    refuse_scan_in_ap_mode = False
    refuse_every_scan = False
    ap_counter = 0
    ac_counter = 0
    conn_counter = 0
    ip4_counter = 0


def load(mock, parameters):
    parameters.setdefault("State", dbus.UInt32(NMState.NM_STATE_DISCONNECTED))
    parameters.setdefault("Connectivity", dbus.UInt32(NMConnectivityState.NM_CONNECTIVITY_NONE))
    parameters.setdefault("Version", "1.42.4")
    stock_load(mock, parameters)
    nm = dbusmock.get_object(MANAGER_OBJ)
    nm.activate_connection = activate_connection
    nm.add_and_activate_connection = add_and_activate_connection
    nm.deactivate_connection = deactivate_connection
    nm.AddMethod(MANAGER_IFACE, "CheckConnectivity", "", "u", check_connectivity)
    settings = dbusmock.get_object(SETTINGS_OBJ)
    settings.AddMethods(
        SETTINGS_IFACE,
        [
            ("AddConnection", "a{sa{sv}}", "o", lambda self, s: add_profile(s)),
            ("AddConnectionUnsaved", "a{sa{sv}}", "o", lambda self, s: add_profile(s)),
            ("AddConnection2", "a{sa{sv}}ua{sv}", "oa{sv}", lambda self, s, _f, _a: (add_profile(s), {})),
        ],
    )
    mock.AddObject(AGENT_MANAGER_OBJ, AGENT_MANAGER_IFACE, {}, [])
    Sim.networks, Sim.agents, Sim.upstream, Sim.refuse_scan_in_ap_mode = {}, [], "full", False


# ---- secret agents -------------------------------------------------------------------------


@dbus.service.method(AGENT_MANAGER_IFACE, in_signature="s", out_signature="", sender_keyword="sender")
def Register(_self, _identifier, sender=None):
    _register_agent(sender)


@dbus.service.method(AGENT_MANAGER_IFACE, in_signature="su", out_signature="", sender_keyword="sender")
def RegisterWithCapabilities(_self, _identifier, _capabilities, sender=None):
    _register_agent(sender)


@dbus.service.method(AGENT_MANAGER_IFACE, in_signature="", out_signature="", sender_keyword="sender")
def Unregister(_self, sender=None):
    if sender in Sim.agents:
        Sim.agents.remove(sender)


def _register_agent(sender):
    if sender not in Sim.agents:
        Sim.agents.append(sender)


# ---- profiles ------------------------------------------------------------------------------


def add_profile(settings):
    """Settings.AddConnection*: store the profile (secrets kept apart) without activating it."""
    settings = _plain(settings)
    settings["connection"].setdefault("uuid", str(uuid.uuid4()))
    Sim.conn_counter += 1
    path = f"{SETTINGS_OBJ}/{Sim.conn_counter}"
    nm = dbusmock.get_object(MAIN_OBJ)
    nm.AddObject(
        path,
        CSETTINGS_IFACE,
        {"Unsaved": False, "Flags": dbus.UInt32(0), "Filename": ""},
        [
            ("Delete", "", "", lambda self: delete_profile(self)),
            ("GetSettings", "", "a{sa{sv}}", lambda self: _public_settings(self.settings)),
            ("GetSecrets", "s", "a{sa{sv}}", lambda self, name: {name: self.secrets.get(name, {})}),
            ("ClearSecrets", "", "", lambda self: self.secrets.clear()),
            ("Save", "", "", lambda self: None),
            ("Update", "a{sa{sv}}", "", lambda self, s: _update_profile(self, s)),
            ("UpdateUnsaved", "a{sa{sv}}", "", lambda self, s: _update_profile(self, s)),
            ("Update2", "a{sa{sv}}ua{sv}", "a{sv}", lambda self, s, _f, _a: _update_profile(self, s) or {}),
        ],
    )
    obj = dbusmock.get_object(path)
    obj.connection_path = path
    obj.settings, obj.secrets = _split_secrets(settings)
    listed = dbusmock.get_object(SETTINGS_OBJ)
    connections = listed.Get(SETTINGS_IFACE, "Connections")
    connections.append(dbus.ObjectPath(path))
    listed.Set(SETTINGS_IFACE, "Connections", connections)
    nm.object_manager_emit_added(path)
    listed.EmitSignal(SETTINGS_IFACE, "NewConnection", "o", [path])
    for dev in _wifi_devices():
        available = dev.Get(DEVICE_IFACE, "AvailableConnections")
        available.append(dbus.ObjectPath(path))
        dev.Set(DEVICE_IFACE, "AvailableConnections", available)
    return dbus.ObjectPath(path)


def delete_profile(profile):
    """Connection.Delete: like NM, deleting the profile of an active connection takes that connection
    down first (device disconnected, connectivity recomputed); the stock ConnectionDelete does not."""
    for dev in _wifi_devices():
        ac_path = str(dev.Get(DEVICE_IFACE, "ActiveConnection"))
        if ac_path == "/":
            continue
        active_profile = str(dbusmock.get_object(ac_path).Get(ACTIVE_CONNECTION_IFACE, "Connection"))
        if active_profile == profile.connection_path:
            _deactivate_device(dev, AC_REASON_CONNECTION_REMOVED, REASON_CONNECTION_REMOVED)
    ConnectionDelete(profile)


def _update_profile(obj, settings):
    public, secrets = _split_secrets(_plain(settings))
    obj.settings = public
    for name, values in secrets.items():
        obj.secrets.setdefault(name, {}).update(values)
    obj.EmitSignal(CSETTINGS_IFACE, "Updated", "", [])


def _plain(settings):
    return {str(name): dict(values) for name, values in settings.items()}


def _split_secrets(settings):
    public, secrets = {}, {}
    for name, values in settings.items():
        keys = SECRET_KEYS.get(name, ())
        public[name] = {k: v for k, v in values.items() if k not in keys}
        found = {k: v for k, v in values.items() if k in keys}
        if found:
            secrets[name] = found
    return public, secrets


def _public_settings(settings):
    return dbus.Dictionary(
        {n: dbus.Dictionary(v, signature="sv") for n, v in settings.items()}, signature="sa{sv}"
    )


def _profiles():
    listed = dbusmock.get_object(SETTINGS_OBJ).Get(SETTINGS_IFACE, "Connections")
    return [dbusmock.get_object(p) for p in listed]


def _ssid_of(profile):
    return bytes(profile.settings.get("802-11-wireless", {}).get("ssid", b"")).decode("utf-8", "replace")


def _is_ap_profile(profile):
    return str(profile.settings.get("802-11-wireless", {}).get("mode", "infrastructure")) == "ap"


# ---- access points -------------------------------------------------------------------------


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="s")
def AddNetwork(_self, spec_path):
    """Add a network heard by every WiFi device. ``spec_path`` names a JSON file (a path, so the
    password is never in the caller's argv) with keys: ssid, security (open|wep|wpa-psk|sae|wpa-eap),
    password, identity, signal, frequency, hidden, behaviour (ok|hang|no_ip), aps (count of BSSIDs,
    strongest first), address (what its DHCP hands out, "a.b.c.d/prefix"; default 192.168.1.23/24).
    Returns the JSON list of access point paths."""
    with open(spec_path, encoding="utf-8") as spec_file:
        spec_json = spec_file.read()
    spec = {
        "security": "open",
        "password": "",
        "identity": "",
        "signal": 70,
        "frequency": 2437,
        "hidden": False,
        "behaviour": "ok",
        "aps": 1,
        "address": "",
        **json.loads(spec_json),
    }
    if spec["security"] not in AP_FLAGS:
        raise dbus.exceptions.DBusException(
            f"unknown security {spec['security']!r}", name=MOCK_IFACE + ".Error"
        )
    paths = [_add_ap(spec, i) for i in range(int(spec["aps"]))]
    Sim.networks[spec["ssid"]] = {**spec, "ap_paths": paths}
    return json.dumps(paths)


def _add_ap(spec, index):
    Sim.ap_counter += 1
    path = f"/org/freedesktop/NetworkManager/AccessPoint/sim{Sim.ap_counter}"
    flags, wpa, rsn = AP_FLAGS[spec["security"]]
    ssid = b"" if spec["hidden"] else spec["ssid"].encode("utf-8")
    nm = dbusmock.get_object(MAIN_OBJ)
    nm.AddObject(
        path,
        ACCESS_POINT_IFACE,
        {
            "Ssid": dbus.ByteArray(ssid),
            "HwAddress": f"02:00:00:00:{Sim.ap_counter // 256:02X}:{Sim.ap_counter % 256:02X}",
            "Flags": dbus.UInt32(flags),
            "WpaFlags": dbus.UInt32(wpa),
            "RsnFlags": dbus.UInt32(rsn),
            "Frequency": dbus.UInt32(spec["frequency"]),
            "MaxBitrate": dbus.UInt32(54000),
            "Mode": dbus.UInt32(InfrastructureMode.NM_802_11_MODE_INFRA),
            "Strength": dbus.Byte(max(0, int(spec["signal"]) - 5 * index)),
            "LastSeen": dbus.Int32(int(time.monotonic())),
            "Bandwidth": dbus.UInt32(20),
        },
        [],
    )
    nm.object_manager_emit_added(path)
    for dev in _wifi_devices():
        dev.access_points.append(path)
        dev.Set(WIRELESS_DEVICE_IFACE, "AccessPoints", dbus.Array(dev.access_points, signature="o"))
        dev.EmitSignal(WIRELESS_DEVICE_IFACE, "AccessPointAdded", "o", [path])
    return path


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="")
def RemoveNetwork(self, ssid):
    """The network vanishes: its APs disappear, and a connection to it is lost."""
    network = Sim.networks.pop(ssid, None)
    if network is None:
        return
    for dev in _wifi_devices():
        if _active_profile_ssid(dev) == ssid:
            _drop(dev, REASON_SSID_NOT_FOUND)
        for path in network["ap_paths"]:
            if path in dev.access_points:
                self.RemoveAccessPoint(dev.path, path)


@dbus.service.method(MOCK_IFACE, in_signature="ss", out_signature="")
def SetNetworkBehaviour(_self, ssid, behaviour):
    """ok | hang (activation never completes) | no_ip (fails like a DHCP timeout)."""
    Sim.networks[ssid]["behaviour"] = behaviour


def _wifi_devices():
    return [dev for dev in _devices() if WIRELESS_DEVICE_IFACE in dev.props]


@dbus.service.method(MOCK_IFACE, in_signature="ssi", out_signature="s")
def AddWiFiDevice(self, device_name, iface_name, state):
    """The stock device, plus LastScan/ActiveAccessPoint and a RequestScan that completes."""
    path = dbusmock.templates.networkmanager.AddWiFiDevice(self, device_name, iface_name, state)
    dev = dbusmock.get_object(path)
    # each device its own MAC (the stock one gives every device 11:22:33:44:55:66), stable per name
    digest = uuid.uuid5(uuid.NAMESPACE_DNS, str(iface_name)).hex
    mac = "02:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2)).upper()
    for iface in (WIRELESS_DEVICE_IFACE, DEVICE_IFACE):
        if "HwAddress" in dev.props.get(iface, {}):
            dev.Set(iface, "HwAddress", dbus.String(mac))
        else:
            dev.AddProperties(iface, {"HwAddress": dbus.String(mac)})
    dev.AddProperties(DEVICE_IFACE, {"Ip4Config": dbus.ObjectPath("/")})
    dev.Set(WIRELESS_DEVICE_IFACE, "PermHwAddress", dbus.String(mac))
    dev.AddProperties(
        WIRELESS_DEVICE_IFACE,
        {"LastScan": dbus.Int64(_boottime_ms()), "ActiveAccessPoint": dbus.ObjectPath("/")},
    )
    dev.AddMethod(WIRELESS_DEVICE_IFACE, "RequestScan", "a{sv}", "", _request_scan)
    dev.AddMethod(DEVICE_IFACE, "Disconnect", "", "", deactivate_device)
    for network in Sim.networks.values():  # networks added before the device are heard too
        for ap in network["ap_paths"]:
            dev.access_points.append(ap)
    dev.Set(WIRELESS_DEVICE_IFACE, "AccessPoints", dbus.Array(dev.access_points, signature="o"))
    return path


def deactivate_device(dev):
    """Device.Disconnect (``nmcli device disconnect``)."""
    _deactivate_device(dev, AC_REASON_USER_DISCONNECTED, REASON_USER_REQUESTED)


def _request_scan(dev, _options):
    if Sim.refuse_every_scan:  # a driver that is busy or broken
        raise dbus.exceptions.DBusException(
            "Scanning not allowed immediately following previous scan",
            name="org.freedesktop.NetworkManager.Device.NotAllowed",
        )
    if Sim.refuse_scan_in_ap_mode and _active_is_ap(dev):
        # what many drivers (and NM for them) answer while the device serves an access point
        raise dbus.exceptions.DBusException(
            "Scanning not allowed while in AP mode", name="org.freedesktop.NetworkManager.Device.NotAllowed"
        )
    GLib.timeout_add(
        100, lambda: dev.Set(WIRELESS_DEVICE_IFACE, "LastScan", dbus.Int64(_boottime_ms())) and False
    )


def _boottime_ms():
    # libnm compares LastScan with CLOCK_BOOTTIME milliseconds
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)


# ---- activation ----------------------------------------------------------------------------


def activate_connection(nm, conn_path, dev_path, specific_object):
    """Manager.ActivateConnection: returns at once with an ACTIVATING connection, like NM."""
    dev = dbusmock.get_object(str(dev_path)) if str(dev_path) != "/" else _device_for(conn_path)
    if str(conn_path) == "/":
        conn_path = _best_saved_profile(dev, require_secrets=False)
    return dbus.ObjectPath(_start_activation(dev, dbusmock.get_object(str(conn_path)), specific_object, True))


def _device_for(conn_path):
    """No device given: the one the profile is bound to (connection.interface-name), else the first."""
    devices = _wifi_devices()
    if str(conn_path) == "/":
        return devices[0]
    wanted = str(dbusmock.get_object(str(conn_path)).settings["connection"].get("interface-name", ""))
    return next((d for d in devices if d.Get(DEVICE_IFACE, "Interface") == wanted), devices[0])


def _start_activation(dev, profile, specific_object, use_agents):
    _deactivate_device(dev, AC_REASON_USER_DISCONNECTED, REASON_USER_REQUESTED)
    ac_path = _new_active_connection(dbusmock.get_object(MAIN_OBJ), dev, profile, specific_object)
    _set_device_state(dev, DeviceState.PREPARE, REASON_NONE)
    GLib.timeout_add(STEP_MS, lambda: _activation_step(dev, profile, ac_path, use_agents) and False)
    return ac_path


def add_and_activate_connection(nm, settings, dev_path, specific_object):
    """``nmcli device wifi connect``: store the profile, then activate it the same way."""
    settings = _plain(settings)
    if "ssid" not in settings.get("802-11-wireless", {}) and str(specific_object) == "/":
        # NM's own words (nm-device-wifi.c complete_connection)
        raise dbus.exceptions.DBusException(
            "A 'wireless' setting with a valid SSID is required if no AP path was given.",
            name="org.freedesktop.NetworkManager.Device.InvalidConnection",
        )
    if "ssid" not in settings.get("802-11-wireless", {}):
        ssid = dbusmock.get_object(str(specific_object)).Get(ACCESS_POINT_IFACE, "Ssid")
        settings.setdefault("802-11-wireless", {})["ssid"] = dbus.ByteArray(bytes(ssid))
    settings.setdefault("connection", {}).setdefault("type", "802-11-wireless")
    settings["connection"].setdefault("id", _ssid_of_settings(settings))
    conn_path = add_profile(settings)
    return conn_path, activate_connection(nm, conn_path, dev_path, specific_object)


def deactivate_connection(_nm, ac_path):
    """Manager.DeactivateConnection (``nmcli connection down``), with the state change nmcli waits for."""
    for dev in _wifi_devices():
        if _still_active(dev, str(ac_path)):
            _deactivate_device(dev, AC_REASON_USER_DISCONNECTED, REASON_USER_REQUESTED)


def _ssid_of_settings(settings):
    return bytes(settings["802-11-wireless"]["ssid"]).decode("utf-8", "replace")


def _new_active_connection(nm, dev, profile, specific_object):
    Sim.ac_counter += 1
    path = f"/org/freedesktop/NetworkManager/ActiveConnection/{Sim.ac_counter}"
    con = profile.settings["connection"]
    nm.AddObject(
        path,
        ACTIVE_CONNECTION_IFACE,
        {
            "Devices": dbus.Array([dbus.ObjectPath(dev.path)], signature="o"),
            "Default": False,
            "Default6": False,
            "Type": con.get("type", "802-11-wireless"),
            "Vpn": False,
            "Connection": dbus.ObjectPath(profile.path),
            "Master": dbus.ObjectPath("/"),
            "SpecificObject": dbus.ObjectPath(specific_object or "/"),
            "Uuid": con["uuid"],
            "Id": con.get("id", ""),
            "State": dbus.UInt32(1),
            "StateFlags": dbus.UInt32(0),
            "Ip4Config": dbus.ObjectPath("/"),
            "Ip6Config": dbus.ObjectPath("/"),
            "Dhcp4Config": dbus.ObjectPath("/"),
            "Dhcp6Config": dbus.ObjectPath("/"),
        },
        [],
    )
    nm.object_manager_emit_added(path)
    manager = dbusmock.get_object(MANAGER_OBJ)
    active = manager.Get(MANAGER_IFACE, "ActiveConnections")
    active.append(dbus.ObjectPath(path))
    manager.Set(MANAGER_IFACE, "ActiveConnections", active)
    dev.Set(DEVICE_IFACE, "ActiveConnection", dbus.ObjectPath(path))
    return path


def _activation_step(dev, profile, ac_path, use_agents):
    """Decide how this activation ends: AP mode is up at once; client mode checks network + secret."""
    if not _still_active(dev, ac_path):
        return
    if _is_ap_profile(profile):
        _activated(dev, ac_path, ap_path="/", connectivity="none")
        return
    network = _visible_network(profile)
    if network is None:
        _failed(dev, ac_path, REASON_SSID_NOT_FOUND)
        return
    if network["security"] == "open":
        _after_auth(dev, profile, ac_path, network)
        return
    _set_device_state(dev, DeviceState.NEED_AUTH, REASON_NONE)
    saved = _given_secret(profile, network)
    if _secret_ok(profile, network) or not use_agents:
        _check_secret(dev, profile, ac_path, network)
    else:
        # like NM: no saved secret -> ask; a saved one that failed -> ask again with REQUEST_NEW
        flags = GET_SECRETS_ALLOW_INTERACTION | (GET_SECRETS_REQUEST_NEW if saved is not None else 0)
        _ask_agents(dev, profile, ac_path, network, list(reversed(Sim.agents)), flags)


def _visible_network(profile):
    wireless = profile.settings.get("802-11-wireless", {})
    network = Sim.networks.get(_ssid_of(profile))
    if network is None or (network["hidden"] and not bool(wireless.get("hidden", False))):
        return None
    return network


def _ask_agents(dev, profile, ac_path, network, agents, flags):
    """SecretAgent.GetSecrets on each registered agent in turn (newest first), as NM's agent manager does."""
    if not agents:
        _failed(dev, ac_path, REASON_NO_SECRETS)
        return
    setting = SECRET_KEY[network["security"]][0]
    bus = dbusmock.get_object(MANAGER_OBJ).connection

    def on_reply(secrets):
        _store_agent_secrets(profile, {str(k): dict(v) for k, v in secrets.items()})
        _check_secret(dev, profile, ac_path, network)

    def on_error(_error):
        _ask_agents(dev, profile, ac_path, network, agents[1:], flags)

    bus.call_async(
        agents[0],
        AGENT_OBJ,
        AGENT_IFACE,
        "GetSecrets",
        "a{sa{sv}}osasu",
        (
            _public_settings(profile.settings),
            dbus.ObjectPath(profile.path),
            setting,
            dbus.Array([], signature="s"),
            dbus.UInt32(flags),
        ),
        on_reply,
        on_error,
        timeout=30,
    )


def _store_agent_secrets(profile, secrets):
    """Keep system-owned secrets (flags 0) in the profile, as NM's "get-new-secrets" update does."""
    for setting, values in secrets.items():
        for key, value in values.items():
            public = profile.settings.get(setting, {})
            flags_key = "wep-key-flags" if key.startswith("wep-key") else f"{key}-flags"
            if key in SECRET_KEYS.get(setting, ()) and int(public.get(flags_key, 0)) == 0:
                profile.secrets.setdefault(setting, {})[key] = value
            elif key in SECRET_KEYS.get(setting, ()):
                profile.agent_secrets = {**getattr(profile, "agent_secrets", {}), (setting, key): value}
            elif setting == EAP and key == "identity":
                profile.settings.setdefault(EAP, {})["identity"] = value


def _check_secret(dev, profile, ac_path, network):
    if _still_active(dev, ac_path):
        if _secret_ok(profile, network):
            _after_auth(dev, profile, ac_path, network)
        else:
            _failed(dev, ac_path, REASON_NO_SECRETS)


def _given_secret(profile, network):
    setting, key = SECRET_KEY[network["security"]]
    return profile.secrets.get(setting, {}).get(key) or getattr(profile, "agent_secrets", {}).get(
        (setting, key)
    )


def _secret_ok(profile, network):
    given = _given_secret(profile, network)
    identity_ok = (
        network["security"] != "wpa-eap"
        or str(profile.settings.get(EAP, {}).get("identity", "")) == network["identity"]
    )
    return given is not None and str(given) == network["password"] and identity_ok


def _after_auth(dev, profile, ac_path, network):
    _set_device_state(dev, DeviceState.IP_CONFIG, REASON_NONE)
    behaviour = network["behaviour"]
    if behaviour == "hang":
        return
    if behaviour == "no_ip":
        GLib.timeout_add(3 * STEP_MS, lambda: _failed(dev, ac_path, REASON_IP_CONFIG_UNAVAILABLE) and False)
        return
    GLib.timeout_add(
        STEP_MS, lambda: _activated(dev, ac_path, network["ap_paths"][0], Sim.upstream) and False
    )


def _activated(dev, ac_path, ap_path, connectivity):
    if not _still_active(dev, ac_path):
        return
    dev.Set(WIRELESS_DEVICE_IFACE, "ActiveAccessPoint", dbus.ObjectPath(ap_path))
    profile = dbusmock.get_object(
        str(dbusmock.get_object(ac_path).Get(ACTIVE_CONNECTION_IFACE, "Connection"))
    )
    if not _is_ap_profile(profile):  # the address the network's DHCP server handed out
        network = Sim.networks.get(_ssid_of(profile), {})
        _set_ip4_config(dev, ac_path, network.get("address") or "192.168.1.23/24")
    profile.last_connected = time.time()
    _set_ac_state(ac_path, NMActiveConnectionState.NM_ACTIVE_CONNECTION_STATE_ACTIVATED, 1)
    _set_device_state(dev, DeviceState.ACTIVATED, REASON_NONE)
    _set_global(connectivity)


def _failed(dev, ac_path, reason):
    if _still_active(dev, ac_path):
        _set_device_state(dev, DeviceState.FAILED, reason)
        _deactivate_device(dev, AC_REASON_DEVICE_DISCONNECTED, reason)


def _drop(dev, reason):
    """A connection that was up is lost (AP gone, deauth)."""
    _deactivate_device(dev, AC_REASON_DEVICE_DISCONNECTED, reason)


def _deactivate_device(dev, ac_reason, dev_reason):
    ac_path = str(dev.Get(DEVICE_IFACE, "ActiveConnection"))
    if ac_path == "/":
        return
    _set_ac_state(ac_path, NMActiveConnectionState.NM_ACTIVE_CONNECTION_STATE_DEACTIVATED, ac_reason)
    dev.Set(WIRELESS_DEVICE_IFACE, "ActiveAccessPoint", dbus.ObjectPath("/"))
    dev.Set(DEVICE_IFACE, "ActiveConnection", dbus.ObjectPath("/"))
    _set_ip4_config(dev, ac_path, None)
    _set_device_state(dev, DeviceState.DISCONNECTED, dev_reason)
    manager = dbusmock.get_object(MANAGER_OBJ)
    active = [p for p in manager.Get(MANAGER_IFACE, "ActiveConnections") if str(p) != ac_path]
    manager.Set(MANAGER_IFACE, "ActiveConnections", dbus.Array(active, signature="o"))
    nm = dbusmock.get_object(MAIN_OBJ)
    nm.object_manager_emit_removed(ac_path)
    nm.RemoveObject(ac_path)
    if not _anything_connected():
        _set_global("none")


def _set_ip4_config(dev, ac_path, address):
    """An IP4Config object with ``address`` ("a.b.c.d/prefix") on the device and its active connection
    (``nmcli -g IP4.ADDRESS device show``), or none (address None)."""
    old = str(dev.Get(DEVICE_IFACE, "Ip4Config"))
    path = "/"
    if address is not None:
        Sim.ip4_counter += 1
        path = f"/org/freedesktop/NetworkManager/IP4Config/{Sim.ip4_counter}"
        host, prefix = address.split("/")
        gateway = host.rsplit(".", 1)[0] + ".1"
        nm = dbusmock.get_object(MAIN_OBJ)
        nm.AddObject(
            path,
            IP4_CONFIG_IFACE,
            {
                "AddressData": dbus.Array(
                    [dbus.Dictionary({"address": host, "prefix": dbus.UInt32(int(prefix))}, signature="sv")],
                    signature="a{sv}",
                ),
                "Addresses": dbus.Array([], signature="au"),
                "Gateway": gateway,
                "RouteData": dbus.Array([], signature="a{sv}"),
                "Routes": dbus.Array([], signature="au"),
                "NameserverData": dbus.Array([], signature="a{sv}"),
                "Nameservers": dbus.Array([], signature="u"),
                "Domains": dbus.Array([], signature="s"),
                "Searches": dbus.Array([], signature="s"),
                "DnsOptions": dbus.Array([], signature="s"),
                "DnsPriority": dbus.Int32(0),
                "WinsServerData": dbus.Array([], signature="s"),
                "WinsServers": dbus.Array([], signature="u"),
            },
            [],
        )
        nm.object_manager_emit_added(path)
    dev.Set(DEVICE_IFACE, "Ip4Config", dbus.ObjectPath(path))
    if ac_path != "/" and ac_path in dbusmock.get_objects():
        dbusmock.get_object(ac_path).Set(ACTIVE_CONNECTION_IFACE, "Ip4Config", dbus.ObjectPath(path))
    if old != "/" and old in dbusmock.get_objects():
        dbusmock.get_object(MAIN_OBJ).object_manager_emit_removed(old)
        dbusmock.get_object(MAIN_OBJ).RemoveObject(old)


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="")
def SetHostname(_self, hostname):
    """The host's name as NetworkManager reports it (``nmcli general hostname``)."""
    dbusmock.get_object(SETTINGS_OBJ).Set(SETTINGS_IFACE, "Hostname", hostname)


def _still_active(dev, ac_path):
    return str(dev.Get(DEVICE_IFACE, "ActiveConnection")) == ac_path


def _set_ac_state(ac_path, state, reason):
    ac = dbusmock.get_object(ac_path)
    ac.EmitSignal(ACTIVE_CONNECTION_IFACE, "StateChanged", "uu", [dbus.UInt32(state), dbus.UInt32(reason)])
    ac.Set(ACTIVE_CONNECTION_IFACE, "State", dbus.UInt32(state))


def _set_device_state(dev, state, reason):
    old = dev.Get(DEVICE_IFACE, "State")
    dev.Set(
        DEVICE_IFACE, "StateReason", dbus.Struct((dbus.UInt32(state), dbus.UInt32(reason)), signature="uu")
    )
    dev.Set(DEVICE_IFACE, "State", dbus.UInt32(state))
    dev.EmitSignal(DEVICE_IFACE, "StateChanged", "uuu", [dbus.UInt32(state), old, dbus.UInt32(reason)])


def _set_global(connectivity):
    states = {
        "full": NMState.NM_STATE_CONNECTED_GLOBAL,
        "limited": NMState.NM_STATE_CONNECTED_SITE,
        "portal": NMState.NM_STATE_CONNECTED_SITE,
        "unknown": NMState.NM_STATE_CONNECTED_LOCAL,
    }
    manager = dbusmock.get_object(MANAGER_OBJ)
    connected = _anything_connected()
    state = states.get(
        connectivity, NMState.NM_STATE_CONNECTED_LOCAL if connected else NMState.NM_STATE_DISCONNECTED
    )
    manager.Set(MANAGER_IFACE, "Connectivity", dbus.UInt32(CONNECTIVITY[connectivity]))
    if manager.Get(MANAGER_IFACE, "State") != state:
        manager.Set(MANAGER_IFACE, "State", dbus.UInt32(state))
        manager.EmitSignal(MANAGER_IFACE, "StateChanged", "u", [dbus.UInt32(state)])


def _anything_connected():
    """Any device activated: a WiFi client or AP connection, or a wired device added as connected."""
    devices = [dbusmock.get_object(p) for p in dbusmock.get_objects() if "/Devices/" in p]
    return any(d.Get(DEVICE_IFACE, "State") == DeviceState.ACTIVATED for d in devices)


def check_connectivity(manager):
    return manager.Get(MANAGER_IFACE, "Connectivity")


def _active_is_ap(dev):
    ac_path = str(dev.Get(DEVICE_IFACE, "ActiveConnection"))
    if ac_path == "/":
        return False
    return _is_ap_profile(
        dbusmock.get_object(str(dbusmock.get_object(ac_path).Get(ACTIVE_CONNECTION_IFACE, "Connection")))
    )


def _active_profile_ssid(dev):
    ac_path = str(dev.Get(DEVICE_IFACE, "ActiveConnection"))
    if ac_path == "/":
        return None
    profile = dbusmock.get_object(
        str(dbusmock.get_object(ac_path).Get(ACTIVE_CONNECTION_IFACE, "Connection"))
    )
    return None if _is_ap_profile(profile) else _ssid_of(profile)


def _best_saved_profile(dev, require_secrets):
    """What NM's autoconnect picks: a client profile for a visible network, strongest signal first."""
    candidates = []
    for profile in _profiles():
        network = None if _is_ap_profile(profile) else _visible_network(profile)
        if network is None or not bool(profile.settings["connection"].get("autoconnect", True)):
            continue
        if require_secrets and network["security"] != "open":
            setting, key = SECRET_KEY[network["security"]]
            if not profile.secrets.get(setting, {}).get(key):
                continue
        # NM prefers the most recently connected profile, then (our tie-break) the strongest signal
        candidates.append((getattr(profile, "last_connected", 0), network["signal"], profile.path))
    if not candidates:
        raise dbus.exceptions.DBusException(
            "No suitable connection found for this device", name=MANAGER_IFACE + ".UnknownConnection"
        )
    return max(candidates)[2]


# ---- control interface for tests and the demo ---------------------------------------------


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="")
def SetConnectivityState(_self, value):
    """Connectivity now (when something is connected) and for every later connection."""
    Sim.upstream = value
    _set_global(value if _anything_connected() else "none")


@dbus.service.method(MOCK_IFACE, in_signature="b", out_signature="")
def RefuseScanInApMode(_self, refuse):
    """Make RequestScan fail while an AP-mode profile is active, as many drivers do."""
    Sim.refuse_scan_in_ap_mode = bool(refuse)


@dbus.service.method(MOCK_IFACE, in_signature="b", out_signature="")
def RefuseEveryScan(_self, refuse):
    """Make every RequestScan fail (NM's existing list still answers ``--rescan no``)."""
    Sim.refuse_every_scan = bool(refuse)


@dbus.service.method(MOCK_IFACE, in_signature="sb", out_signature="")
def SetDeviceManaged(_self, iface, managed):
    """Hand a device to NetworkManager or take it away (NM state unmanaged, as for ``managed=false``)."""
    dev = next(d for d in _devices() if d.Get(DEVICE_IFACE, "Interface") == iface)
    dev.Set(DEVICE_IFACE, "Managed", dbus.Boolean(managed))
    _set_device_state(dev, DeviceState.DISCONNECTED if managed else DeviceState.UNMANAGED, REASON_NONE)


def _devices():
    return [dbusmock.get_object(p) for p in dbusmock.get_objects() if "/Devices/" in p]


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="")
def DropConnection(_self, iface):
    """Lose the connection active on ``iface`` (the AP went out of range)."""
    for dev in _wifi_devices():
        if dev.Get(DEVICE_IFACE, "Interface") == iface:
            _drop(dev, REASON_SUPPLICANT_DISCONNECT)


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="s")
def Autoconnect(_self, iface):
    """Simulated boot: forget agents and active connections, then bring up the best saved profile
    with its SAVED secrets only. Returns the activated profile's UUID, or '' if none could be."""
    Sim.agents = []
    for dev in _wifi_devices():
        if dev.Get(DEVICE_IFACE, "Interface") != iface:
            continue
        _deactivate_device(dev, AC_REASON_USER_DISCONNECTED, REASON_USER_REQUESTED)
        try:
            path = _best_saved_profile(dev, require_secrets=True)
        except dbus.exceptions.DBusException:
            return ""
        profile = dbusmock.get_object(path)
        _start_activation(dev, profile, "/", use_agents=False)
        return str(profile.settings["connection"]["uuid"])
    return ""


@dbus.service.method(MOCK_IFACE, in_signature="", out_signature="s")
def ListProfiles(_self):
    """JSON list of {id, uuid, ssid, mode, secrets} for every saved profile (secrets included: tests only)."""
    return json.dumps(
        [
            {
                "id": str(p.settings["connection"].get("id", "")),
                "uuid": str(p.settings["connection"]["uuid"]),
                "ssid": _ssid_of(p),
                "mode": "ap" if _is_ap_profile(p) else "infrastructure",
                "hidden": bool(p.settings.get("802-11-wireless", {}).get("hidden", False)),
                "key_mgmt": str(p.settings.get(WSEC, {}).get("key-mgmt", "")),
                "settings": {n: {k: _jsonable(v) for k, v in vals.items()} for n, vals in p.settings.items()},
                "secrets": {n: {k: str(v) for k, v in vals.items()} for n, vals in p.secrets.items()},
            }
            for p in _profiles()
        ]
    )


def _jsonable(value):
    if isinstance(value, (dbus.ByteArray, bytes)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, dbus.Array)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dbus.Dictionary, dict)):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (bool, dbus.Boolean)):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    return str(value)
