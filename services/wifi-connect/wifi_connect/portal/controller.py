"""The policy: when to raise the portal, how to try what the user typed, when to give up and come back.

``Controller`` owns all state. It talks to the world only through ports (NetworkBackend, Dhcp, WebServer,
ConnectivityProbe, StateHook, Clock) and implements ``ports.PortalService`` for the web apps. One thread
(the daemon's) runs the state machine; the PortalService methods are called from RPC threads and only
read snapshots or queue events.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..config import Config
from ..errors import AdapterError, BusyError
from ..models import Reach, State
from ..ports import Dhcp, NetworkBackend, NmChange
from ..validation import credentials_from_request
from .attempts import Attempt
from .best_effort import quietly
from .connectivity import ConnectivityWatch
from .hotspot import Hotspot
from .joining import Joiner
from .networks import NetworkList
from .ports import Clock, ConnectivityProbe, StateHook, WebServer
from .retry_schedule import RetrySchedule
from .states import Event, Handler, StateMachine, Table

log = logging.getLogger(__name__)
state_log = logging.getLogger("wifi_connect.state")

PORTAL_RETRY_DELAY = 10.0  # when the access point itself could not be raised
SUPERVISE_INTERVAL = 2.0  # how often dnsmasq and the portal web app are checked while the portal is up
# Two interfaces: after a successful join the portal stays up this long, so the phone (still on it) can
# show the person where to reach the device; then it goes down.
SUCCESS_LINGER = 60.0
CONNECTABLE = frozenset({State.WAITING, State.PORTAL, State.CONNECTED})
SETUP_MODE_REFUSALS = {
    State.PORTAL: "the portal is already up",
    State.CONNECTING: "a connection attempt is running; the portal comes back if it fails",
    State.RETRYING: "saved networks are being retried; the portal comes back if none comes up",
}

@dataclass
class _Session:
    """What belongs to the current visit to PORTAL or CONNECTED."""

    used: bool = False  # a person made progress since it went up (cancels the activity timeout)
    lost_since: float | None = None  # CONNECTED: when connectivity was first seen missing


class Controller:
    """wifi-connect's lifecycle (issue "Lifecycle" 1-7) over injected ports."""

    def __init__(
        self,
        config: Config,
        backend: NetworkBackend,
        dhcp: Dhcp,
        web: WebServer,
        hook: StateHook,
        clock: Clock,
        probe: ConnectivityProbe | None = None,
        mdns: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.backend = backend
        self.dhcp = dhcp
        self.web = web
        self.hook = hook
        self.clock = clock
        self.probe = probe
        self.interface = config.portal_interface or ""  # the access point's
        self._client_interface = config.client_interface  # None: the AP's device joins networks too
        self.mdns = mdns or (lambda: False)
        self.hotspot = Hotspot(config, backend, dhcp, web)
        self._reach = Reach()
        self.machine = StateMachine(self._table(), clock, self._announce)
        self._lock = threading.Lock()
        self.network_list = NetworkList(backend, config.portal_ssid)
        self._session = _Session()
        self.retry = RetrySchedule(config.retry_interval)
        self._attempt_ids = itertools.count(1)
        self._last_attempt: Attempt | None = None
        self._connect_pending = False
        self._ssid: str | None = None
        self.connectivity = ConnectivityWatch(backend, probe, quietly)  # NM's events and verdict
        self.joiner = Joiner(backend, self.connectivity, clock, config.connect_timeout)

    # -- the table -------------------------------------------------------------------------------------

    def _table(self) -> Table:
        S, E = State, Event  # short names keep the table readable
        table: dict[tuple[State, Event], Handler] = {
            (S.STARTING, E.START): self._start,
            (S.WAITING, E.TICK): self._waiting_tick,
            (S.WAITING, E.GRACE_OVER): self._raise_portal_because("no connection after the grace period"),
            (S.PORTAL, E.TICK): self._supervise_portal,
            (S.PORTAL, E.RETRY_DUE): self._portal_retry_due,
            (S.PORTAL, E.ACTIVITY_TIMEOUT): self._portal_activity_timeout,
            (S.CONNECTED, E.TICK): self._connected_tick,
            (S.CONNECTED, E.LOST_TIMEOUT): self._connected_lost_timeout,
            (S.CONNECTED, E.LINGER_OVER): lambda _: self.hotspot.take_down(),
            (S.WAITING, E.SETUP_MODE): self._raise_portal_because("setup mode requested"),
            (S.CONNECTED, E.SETUP_MODE): self._raise_portal_because("setup mode requested"),
        }
        for state in CONNECTABLE:
            table[(state, E.CONNECT)] = self._connect
        for state in State:
            if state is not S.STOPPING:
                table[(state, E.STOP)] = self._stop
                table[(state, E.NM_CHANGED)] = self._nm_changed
        return table

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Find the device and decide where to begin. DeviceError (no usable WiFi device) propagates."""
        self.machine.dispatch(Event.START)

    def request_stop(self) -> None:
        self.machine.post(Event.STOP)

    def teardown(self) -> None:
        """Take the portal down whatever the state (the daemon's last word; idempotent)."""
        self.hotspot.take_down()

    def _start(self, _: object) -> None:
        self.interface = self.backend.find_wifi_device(self.config.portal_interface)
        client = self.config.client_interface
        self._client_interface = self.backend.find_wifi_device(client) if client else None
        self._reach = self._find_reach(addresses=False)  # the connecting page names the device in advance
        quietly(self.backend.stop_access_point, self.config.portal_ssid)  # stale portal profiles
        if self.connectivity.check(recheck=True):
            self._enter_connected("already online")
        else:
            self._enter_waiting("offline at start; giving saved networks a grace period",
                                self.config.grace_period)

    def _enter_waiting(self, reason: str, portal_after: float) -> None:
        """WAITING: watch for a saved network coming up, raise the portal after ``portal_after`` seconds."""
        self.machine.enter(State.WAITING, reason)
        self.machine.after(portal_after, Event.GRACE_OVER)
        self.machine.after(self.config.check_interval, Event.TICK)

    def _waiting_tick(self, _: object) -> None:
        if self.connectivity.check(recheck=True):
            self._enter_connected("a saved network came up")
        else:
            self.machine.after(self.config.check_interval, Event.TICK)

    def _nm_changed(self, _: object) -> None:
        """NetworkManager said something changed: look (NM's own verdict, no probe unless it changed).
        In other states the change is someone else's doing (our AP, our attempt) and is not looked at."""
        verdict = self.connectivity.take_heard()
        if self.machine.state is State.WAITING:
            if self.connectivity.check(verdict):
                self._enter_connected("a saved network came up")
        elif self.machine.state is State.CONNECTED:
            self._watch_connection(self.connectivity.check(verdict))

    @property
    def client_interface(self) -> str:
        """The WiFi device that joins networks (CLIENT_INTERFACE, else the AP's own)."""
        return self._client_interface or self.interface

    @property
    def two_interfaces(self) -> bool:
        """The AP has a device of its own: joining a network never takes the portal down."""
        return self.client_interface != self.interface

    def _enter_connected(self, reason: str, linger: bool = False) -> None:
        """CONNECTED. ``linger`` (two interfaces, a person's join): the portal stays up SUCCESS_LINGER
        seconds so the phone still on it shows where to reach the device; otherwise it goes now."""
        self._ssid = quietly(self.backend.active_wifi_ssid, self.client_interface)
        self._reach = self._find_reach()
        self._session = _Session()
        self.retry.forget()  # online: nothing is owed
        if self.hotspot.up and not linger:
            self.hotspot.take_down()
        self.machine.enter(State.CONNECTED, reason)
        self.machine.after(self.config.check_interval, Event.TICK)
        if self.hotspot.up:
            self.machine.after(SUCCESS_LINGER, Event.LINGER_OVER)

    def _find_reach(self, addresses: bool = True) -> Reach:
        """The name (``<hostname>.local`` when the host publishes mDNS) and the addresses on the joined
        network, for the success page, ``GET /status`` and the hook."""
        hostname = quietly(self.backend.hostname) or ""
        found = quietly(self.backend.ipv4_addresses, self.client_interface) if addresses else None
        published = bool(hostname) and self.mdns()
        return Reach(hostname, f"{hostname}.local" if published else None, tuple(found or ()))

    def _connected_tick(self, _: object) -> None:
        self._watch_connection(self.connectivity.check(recheck=True))
        if not self._lost_too_long():
            self.machine.after(self.config.check_interval, Event.TICK)

    def _watch_connection(self, online: bool) -> None:
        """CONNECTED: note a loss (and when the tolerance ends) or a recovery."""
        session = self._session
        if online:
            session.lost_since = None
            # The network may change under us (POST /forget, NM roaming to another saved network).
            self._ssid = quietly(self.backend.active_wifi_ssid, self.client_interface)
        elif session.lost_since is None:
            session.lost_since = self.clock.monotonic()
            log.warning("connectivity lost; tolerating it for %gs", self.config.lost_tolerance)
            self.machine.after(self.config.lost_tolerance, Event.LOST_TIMEOUT)

    def _connected_lost_timeout(self, _: object) -> None:
        """The tolerance is over: look once more (asking NM to re-check) before giving up on the network."""
        if self._session.lost_since is not None:
            self._watch_connection(self.connectivity.check(recheck=True))
            self._lost_too_long()

    def _lost_too_long(self) -> bool:
        lost_since = self._session.lost_since
        if lost_since is None or self.clock.monotonic() - lost_since < self.config.lost_tolerance:
            return False
        self._raise_portal("connectivity lost for longer than the tolerance")
        return True

    def _raise_portal_because(self, reason: str) -> Handler:
        return lambda _: self._raise_portal(reason)

    def _raise_portal(self, reason: str, rescan: bool = True) -> None:
        """Scan first (many drivers cannot scan in AP mode), then AP + dnsmasq + the portal web app.

        After a failed attempt NM's list is seconds old: skip the fresh scan so the AP is back sooner."""
        self.network_list.refresh(self.client_interface, rescan)
        try:
            self.hotspot.bring_up(self.interface)
        except AdapterError as err:
            log.error("could not raise the portal, trying again in %gs: %s", PORTAL_RETRY_DELAY, err)
            self.hotspot.take_down()
            self._enter_waiting(f"portal failed: {err}", PORTAL_RETRY_DELAY)
            return
        self._ssid = None
        if not self.two_interfaces:  # the AP took the radio: the joined network's addresses are gone
            self._reach = replace(self._reach, addresses=())
        self.connectivity.online = False  # the AP replaced the uplink: the probes send phones to the portal
        self._session = _Session()
        self.machine.enter(State.PORTAL, reason)
        self.machine.after(SUPERVISE_INTERVAL, Event.TICK)
        if self.config.retry_interval > 0:
            self.machine.after(self.retry.due_in(self.clock.monotonic()), Event.RETRY_DUE)
        if self.config.activity_timeout > 0:
            self.machine.after(self.config.activity_timeout, Event.ACTIVITY_TIMEOUT)

    def _supervise_portal(self, _: object) -> None:
        self.hotspot.supervise()
        self.machine.after(SUPERVISE_INTERVAL, Event.TICK)

    def _portal_retry_due(self, _: object) -> None:
        now = self.clock.monotonic()
        hold_until = self.retry.held_until(now)
        if hold_until is not None:
            log.info("a person is using the portal; retrying saved networks in %.0fs", hold_until - now)
            self.machine.after(hold_until - now, Event.RETRY_DUE)
        elif not self._has_saved_networks():
            self.machine.after(self.config.retry_interval, Event.RETRY_DUE)
        else:
            self._retry_saved_networks("retry interval: trying saved networks")

    def _portal_activity_timeout(self, _: object) -> None:
        if not self._session.used and self._has_saved_networks():
            self._retry_saved_networks("activity timeout: nobody used the portal")

    def _has_saved_networks(self) -> bool:
        """Dropping the AP to retry nothing would only cut off a phone that is about to join."""
        saved = quietly(self.backend.saved_wifi_ssids)
        if not saved:
            log.info("no saved WiFi network to retry; the portal stays up")
        return bool(saved)

    def _retry_saved_networks(self, reason: str) -> None:
        self.retry.paid()
        self.machine.enter(State.RETRYING, reason)
        if not self.two_interfaces:
            self.hotspot.take_down()
        activated = quietly(self.backend.activate_saved, self.client_interface, self.config.connect_timeout)
        if activated and self.connectivity.wait_online(self.clock, self.config.connect_timeout):
            self._enter_connected("a saved network came back")
        else:
            self._raise_portal("no saved network came up", rescan=False)

    def _connect(self, payload: object) -> None:
        attempt, credentials = payload  # queued by connect(): (Attempt, Credentials)
        try:
            self._ssid = credentials.ssid  # before enter(): the state line and the hook name it
            self.machine.enter(State.CONNECTING, f"trying {credentials.ssid}")
            reason = self.joiner.join(self.client_interface, credentials, self._make_way_for_attempt)
            attempt.finish(self.clock.time(), reason)
            log.info("attempt %d for %s: %s", attempt.id, attempt.ssid, attempt.result)
        finally:
            with self._lock:
                self._connect_pending = False
        if reason is None:
            self._enter_connected(f"connected to {credentials.ssid}", linger=True)
        else:
            self._raise_portal(f"attempt failed: {reason}", rescan=False)

    def _make_way_for_attempt(self) -> None:
        if not self.two_interfaces:  # one radio: the AP must make way for the attempt
            self.hotspot.take_down()

    def _stop(self, _: object) -> None:
        self.hotspot.take_down()
        self.machine.enter(State.STOPPING, "stop requested")

    # -- helpers ---------------------------------------------------------------------------------------

    def _announce(self, previous: State, state: State, reason: str) -> None:
        """One JSON line per state change on stdout, and the hook (no secrets in either)."""
        change = {"state": str(state), "previous": str(previous), "reason": reason,
                  "interface": self.interface, "ssid": self._ssid or "",
                  "client_interface": self.client_interface, "hostname": self._reach.hostname,
                  "mdns_name": self._reach.mdns_name or "", "addresses": " ".join(self._reach.addresses)}
        state_log.info("state %s -> %s: %s", previous, state, reason, extra={"fields": change})
        self.hook.state_changed(change)

    # -- NetworkManager's events ------------------------------------------------------------------------

    def nm_changed(self, change: NmChange) -> None:
        """From the monitor's thread: remember NM's newest verdict, queue one NM_CHANGED (bursts of signals
        during an activation become one look)."""
        if self.connectivity.heard(change):
            self.machine.post(Event.NM_CHANGED)

    # -- PortalService ---------------------------------------------------------------------------------

    def status(self) -> dict:
        with self._lock:
            attempt = None if self._last_attempt is None else self._last_attempt.to_json()
        return {
            "state": str(self.machine.state),
            "interface": self.interface,
            "client_interface": self.client_interface,
            "reach": self._reach.to_json(),
            "ssid": self._ssid,
            "portal_ssid": self.config.portal_ssid,
            "gateway": str(self.config.portal_gateway),
            "online": self.connectivity.online,
            "last_attempt": attempt,
        }

    def networks(self) -> list[dict]:
        """The cached scan (POST /rescan refreshes it), with "saved" read afresh."""
        return self.network_list.rows()

    def rescan(self) -> list[dict]:
        if self.machine.state in (State.CONNECTING, State.RETRYING):
            return self.networks()  # the radio is busy joining a network
        networks = self.network_list.refresh(self.client_interface, rescan=True)
        return [network.to_json() for network in networks]

    def connect(self, fields: dict[str, str]) -> dict:
        scanned = self.network_list.security_by_ssid()
        with self._lock:
            credentials = credentials_from_request(fields, scanned.get(str(fields.get("ssid", ""))),
                                                   self.config.ca_cert_directory)
            if self._connect_pending or self.machine.state not in CONNECTABLE:
                raise BusyError(f"busy ({self.machine.state}); try again in a moment")
            self._connect_pending = True
            attempt = Attempt(next(self._attempt_ids), credentials.ssid, self.clock.time())
            self.retry.person_progressed(self.clock.monotonic())  # a submitted attempt is progress
            self._last_attempt = attempt
        self.machine.post(Event.CONNECT, (attempt, credentials))
        return attempt.to_json()

    def touch(self) -> None:
        """A person's progress on the portal (the web app sends only choices and submitted attempts)."""
        with self._lock:
            self._session.used = True
            self.retry.person_progressed(self.clock.monotonic())

    def enter_setup_mode(self) -> dict:
        """Queue SETUP_MODE when the state takes it; otherwise say why not (the portal is already up, or
        an attempt or a retry runs and will itself end in the portal or a connection)."""
        state = self.machine.state
        accepted = (state, Event.SETUP_MODE) in self.machine.table
        if accepted:
            self.machine.post(Event.SETUP_MODE)
        reason = "" if accepted else SETUP_MODE_REFUSALS.get(state, f"not possible while {state}")
        return {"requested": "setup_mode", "accepted": accepted, "reason": reason, **self.status()}

    def forget_networks(self) -> dict:
        """Factory reset of WiFi. The watcher raises the portal once the loss outlasts the tolerance;
        call enter_setup_mode as well to raise it now."""
        forgotten = list(self.backend.forget_wifi_networks())
        log.info("forgot %d saved WiFi networks", len(forgotten))
        self.network_list.mark_none_saved()
        return {"forgotten": forgotten}
