"""``NmMonitor``: NetworkManager's own events, from its D-Bus signals, heard by a thread in the daemon.

Instead of asking NetworkManager every few seconds (``nmcli networking connectivity check`` probed the
internet each time), the daemon listens. One daemon thread holds a blocking connection to the system bus
(``jeepney``, pure Python: no monitor child, no glib), asks the bus for NM's signals (``AddMatch``) and
sleeps in ``recv`` until one arrives: idle means idle, no timeout wakes it. The bus forwards only:

* what NM sends on ``/org/freedesktop/NetworkManager`` (the rule names NM's well-known name; dbus-daemon
  matches it against whoever owns that name, also after NM restarts) and each device's ``StateChanged``;
* ``NameOwnerChanged`` for NM's name (NM restarted, appeared or left).

``change_from_signal`` (pure policy) turns what the policy needs into an ``NmChange`` for ``on_change``:
the manager's ``Connectivity`` (NM's verdict) and ``State`` properties, its ``StateChanged``, each device's
``StateChanged``, and NM's name changing hands (``resync``). Everything else is dropped there.

If the connection cannot be opened or drops (dbus-daemon restarted), it is opened again after a growing
pause (1 s .. 30 s), and ``on_change`` then hears ``NmChange(resync=True)``: events may have been missed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from jeepney import HeaderFields, MatchRule, Message, MessageType, message_bus
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse

from ..ports import Connectivity, NmChange

log = logging.getLogger(__name__)

NM_NAME = "org.freedesktop.NetworkManager"
NM_IFACE = NM_NAME
DEVICE_IFACE = f"{NM_NAME}.Device"
MANAGER_PATH = "/org/freedesktop/NetworkManager"
DEVICES_PREFIX = f"{MANAGER_PATH}/Devices/"
BUS_NAME = "org.freedesktop.DBus"
PROPERTIES_IFACE = f"{BUS_NAME}.Properties"
SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"  # libdbus's default when the variable is unset
NM_CONNECTIVITY = {0: Connectivity.UNKNOWN, 1: Connectivity.NONE, 2: Connectivity.PORTAL,
                   3: Connectivity.LIMITED, 4: Connectivity.FULL}  # NMConnectivityState
MAX_TEXT = 200  # NmChange.text is for the log: a huge property array must not flood it
RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
CALL_TIMEOUT = 5.0  # AddMatch: a bus that does not answer is treated as a failed open
START_WAIT = 5.0  # start() waits this long at most for the first connection to listen


def match_rules() -> list[MatchRule]:
    """What the bus forwards to us: the manager's signals, devices' state changes, NM's name moving."""
    manager = MatchRule(type="signal", sender=NM_NAME, path=MANAGER_PATH)
    # Only StateChanged from devices: their property chatter (statistics, IP configs) would wake us for naught
    devices = MatchRule(type="signal", sender=NM_NAME, interface=DEVICE_IFACE, member="StateChanged",
                        path_namespace=DEVICES_PREFIX.rstrip("/"))
    owner = MatchRule(type="signal", sender=BUS_NAME, interface=BUS_NAME, member="NameOwnerChanged")
    owner.add_arg_condition(0, NM_NAME)
    return [manager, devices, owner]


def _plain(value: Any) -> Any:
    """A variant's value without its signature (jeepney reads a variant as ``(signature, value)``)."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[1]
    return value


def _changed_properties(interface: str, member: str, body: tuple) -> dict[str, Any] | None:
    """The manager's changed properties from either PropertiesChanged shape, else None."""
    if member != "PropertiesChanged":
        return None
    # The standard signal, body (s a{sv} as): only the manager's own interface matters
    if interface == PROPERTIES_IFACE and len(body) >= 2 and body[0] == NM_IFACE and isinstance(body[1], dict):
        return {name: _plain(value) for name, value in body[1].items()}
    # NM's legacy signal on its own interface (older NM, still emitted by some): body (a{sv})
    if interface == NM_IFACE and len(body) == 1 and isinstance(body[0], dict):
        return {name: _plain(value) for name, value in body[0].items()}
    return None


def _summary(path: str, interface: str, member: str, shown: object) -> str:
    text = f"{path} {interface.rsplit('.', 1)[-1]}.{member} {shown}"
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def change_from_signal(message: Message) -> NmChange | None:
    """One D-Bus message -> NmChange, or None for what the policy does not care about."""
    header = message.header
    if header.message_type is not MessageType.signal:
        return None
    path = header.fields.get(HeaderFields.path, "")
    interface = header.fields.get(HeaderFields.interface, "")
    member = header.fields.get(HeaderFields.member, "")
    body = message.body
    if interface == BUS_NAME and member == "NameOwnerChanged":
        # NM appeared on the bus (or left it): whatever we knew may be stale, look afresh
        if body[:1] == (NM_NAME,):
            return NmChange(_summary(path, interface, member, body), resync=True)
        return None
    if path == MANAGER_PATH:
        properties = _changed_properties(interface, member, body)
        if properties is not None:
            shown = {name: properties[name] for name in ("State", "Connectivity") if name in properties}
            text = _summary(path, interface, member, shown)
            if "Connectivity" in properties:
                value = properties["Connectivity"]
                known = isinstance(value, int) and value in NM_CONNECTIVITY
                return NmChange(text, connectivity=NM_CONNECTIVITY[value] if known else Connectivity.UNKNOWN)
            return NmChange(text) if "State" in properties else None
        if interface == NM_IFACE and member == "StateChanged":
            return NmChange(_summary(path, interface, member, body))
        return None
    if interface == DEVICE_IFACE and member == "StateChanged" and path.startswith(DEVICES_PREFIX):
        return NmChange(_summary(path, interface, member, body), device=path[len(DEVICES_PREFIX):])
    return None


def system_bus_address(env: Mapping[str, str] | None = None) -> str:
    """The system bus as libdbus (and so nmcli) finds it: ``DBUS_SYSTEM_BUS_ADDRESS``, else the default."""
    return (os.environ if env is None else env).get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS


class NmMonitor:
    """One listening thread and its bus connection; ``stop()`` ends both."""

    def __init__(self, on_change: Callable[[NmChange], None], env: Mapping[str, str] | None = None) -> None:
        self.on_change = on_change
        self.address = system_bus_address(env)
        self._stopping = threading.Event()
        self._first_try = threading.Event()
        self._lock = threading.Lock()  # stop() and the thread agree on which connection is current
        self._connection: DBusConnection | None = None
        self._thread: threading.Thread | None = None
        self.starts = 0  # how many times the connection was (re)opened (tests and the log)

    def start(self) -> None:
        """Start the thread; returns once the first connection listens (or failed to open), so a change
        after start() is heard by the caller's first look or arrives as an event."""
        self._stopping.clear()
        self._first_try.clear()
        self._thread = threading.Thread(target=self._run, name="nm-monitor", daemon=True)
        self._thread.start()
        self._first_try.wait(START_WAIT)

    def stop(self, timeout: float = 5.0) -> None:
        """Idempotent. Shutting the socket down is what wakes the thread from its blocking receive."""
        self._stopping.set()
        with self._lock:
            connection = self._connection
            if connection is not None:
                _shut_down(connection)
        if self._thread is not None:
            self._thread.join(timeout)
        if connection is not None:
            self._forget(connection)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._connection is not None

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            connection = self._open()
            if connection is not None:
                self.starts += 1
            self._first_try.set()  # after the count: start() returns with it current
            heard = 0 if connection is None else self._listen(connection, reopened=self.starts > 1)
            if self._stopping.is_set():
                return
            failures = 0 if heard else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            log.warning("not listening to NetworkManager's signals; trying again in %gs", delay)
            self._stopping.wait(delay)

    def _open(self) -> DBusConnection | None:
        """A connection with the match rules in place, or None (logged)."""
        try:
            connection = open_dbus_connection(bus=self.address)
        except (OSError, RuntimeError, ValueError) as err:  # no socket, refused, unsupported address
            log.warning("cannot connect to the system bus at %s: %s", self.address, err)
            return None
        with self._lock:
            if self._stopping.is_set():  # stop() came while we connected: it could not shut this one down
                connection.close()
                return None
            self._connection = connection
        try:
            bus = Proxy(message_bus, connection, timeout=CALL_TIMEOUT)
            # Signals arriving between two AddMatch replies are dropped by jeepney; harmless: the first
            # look (start) or the resync (reopen) comes after the last rule is in place
            for rule in match_rules():
                bus.AddMatch(rule)
        except (OSError, ValueError, DBusErrorResponse) as err:
            if not self._stopping.is_set():
                log.warning("cannot subscribe to NetworkManager's signals: %s", err)
            self._forget(connection)
            return None
        return connection

    def _listen(self, connection: DBusConnection, reopened: bool) -> int:
        """Deliver changes until the connection drops or stop() shuts it down; returns messages read."""
        count = 0
        if reopened:
            self._deliver(NmChange("bus connection reopened", resync=True))
        try:
            while not self._stopping.is_set():
                message = connection.receive()  # blocks in recv: no timeout, no polling
                count += 1
                self._deliver_message(message)
        except (OSError, ValueError) as err:  # dropped, shut down by stop(), or a message jeepney refused
            if not self._stopping.is_set():
                log.warning("the system bus connection dropped: %s", err)
        finally:
            self._forget(connection)
        return count

    def _forget(self, connection: DBusConnection) -> None:
        """Close the connection once, whoever (thread or stop()) gets here first."""
        with self._lock:
            if self._connection is not connection:
                return
            self._connection = None
        connection.close()

    def _deliver_message(self, message: Message) -> None:
        try:
            change = change_from_signal(message)
        except Exception:  # an odd body NM never sent before must not stop us listening
            log.exception("reading a D-Bus signal failed")
            return
        if change is not None:
            self._deliver(change)

    def _deliver(self, change: NmChange) -> None:
        try:
            self.on_change(change)
        except Exception:  # a bug in the listener must not stop us listening
            log.exception("handling %r failed", change.text)


def _shut_down(connection: DBusConnection) -> None:
    with contextlib.suppress(OSError):  # already closed or dropped: nothing to wake
        connection.sock.shutdown(socket.SHUT_RDWR)
