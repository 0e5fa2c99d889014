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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from ..config import Config
from ..errors import AdapterError, BusyError
from ..models import AccessPoint, Credentials, FailureReason, Network, Reach, State
from ..ports import ActivationFailed, Connectivity, Dhcp, NetworkBackend, NmChange
from ..validation import credentials_from_request
from .attempts import Attempt
from .connectivity import ConnectivityWatch
from .networks import networks_from_scan
from .ports import Clock, ConnectivityProbe, StateHook, WebServer
from .states import Event, Handler, StateMachine, Table

T = TypeVar("T")
log = logging.getLogger(__name__)
state_log = logging.getLogger("wifi_connect.state")

# After a connect, NM may take a moment to finish its own connectivity check (wifi-connect waits 20 s).
ONLINE_CHECK_WINDOW = 20.0
ONLINE_POLL = 1.0
PORTAL_RETRY_DELAY = 10.0  # when the access point itself could not be raised
SUPERVISE_INTERVAL = 2.0  # how often dnsmasq and the portal web app are checked while the portal is up
# A person's progress (a choice posted, an attempt submitted) lets the retry of saved networks wait until
# one RETRY_INTERVAL after it, but never longer than this past the moment the retry first fell due, however
# often anyone posts: a stranger on the open AP cannot hold the device offline while its network is there.
PERSON_DEFERRAL_LIMIT = 600.0
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
        self._portal_up = False
        self._reach = Reach()
        self.machine = StateMachine(self._table(), clock, self._announce)
        self._lock = threading.Lock()
        self._networks: list[Network] = []
        self._session = _Session()
        self._last_progress: float | None = None  # a person's last progress on the portal
        self._retry_due_at: float | None = None  # when saved networks are owed a retry (this time offline)
        self._attempt_ids = itertools.count(1)
        self._last_attempt: Attempt | None = None
        self._connect_pending = False
        self._ssid: str | None = None
        self.connectivity = ConnectivityWatch(backend, probe, self._quietly)  # NM's events and verdict

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
            (S.CONNECTED, E.LINGER_OVER): lambda _: self._take_portal_down(),
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
        self._take_portal_down()

    def _start(self, _: object) -> None:
        self.interface = self.backend.find_wifi_device(self.config.portal_interface)
        client = self.config.client_interface
        self._client_interface = self.backend.find_wifi_device(client) if client else None
        self._reach = self._find_reach(addresses=False)  # the connecting page names the device in advance
        self._quietly(self.backend.stop_access_point, self.config.portal_ssid)  # stale portal profiles
        if self._check_online(recheck=True):
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
        if self._check_online(recheck=True):
            self._enter_connected("a saved network came up")
        else:
            self.machine.after(self.config.check_interval, Event.TICK)

    def _nm_changed(self, _: object) -> None:
        """NetworkManager said something changed: look (NM's own verdict, no probe unless it changed).
        In other states the change is someone else's doing (our AP, our attempt) and is not looked at."""
        verdict = self.connectivity.take_heard()
        if self.machine.state is State.WAITING:
            if self._check_online(verdict):
                self._enter_connected("a saved network came up")
        elif self.machine.state is State.CONNECTED:
            self._watch_connection(self._check_online(verdict))

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
        self._ssid = self._quietly(self.backend.active_wifi_ssid, self.client_interface)
        self._reach = self._find_reach()
        self._session = _Session()
        self._retry_due_at = self._last_progress = None  # online: nothing is owed
        if self._portal_up and not linger:
            self._take_portal_down()
        self.machine.enter(State.CONNECTED, reason)
        self.machine.after(self.config.check_interval, Event.TICK)
        if self._portal_up:
            self.machine.after(SUCCESS_LINGER, Event.LINGER_OVER)

    def _find_reach(self, addresses: bool = True) -> Reach:
        """The name (``<hostname>.local`` when the host publishes mDNS) and the addresses on the joined
        network, for the success page, ``GET /status`` and the hook."""
        hostname = self._quietly(self.backend.hostname) or ""
        found = self._quietly(self.backend.ipv4_addresses, self.client_interface) if addresses else None
        published = bool(hostname) and self.mdns()
        return Reach(hostname, f"{hostname}.local" if published else None, tuple(found or ()))

    def _connected_tick(self, _: object) -> None:
        self._watch_connection(self._check_online(recheck=True))
        if not self._lost_too_long():
            self.machine.after(self.config.check_interval, Event.TICK)

    def _watch_connection(self, online: bool) -> None:
        """CONNECTED: note a loss (and when the tolerance ends) or a recovery."""
        session = self._session
        if online:
            session.lost_since = None
            # The network may change under us (POST /forget, NM roaming to another saved network).
            self._ssid = self._quietly(self.backend.active_wifi_ssid, self.client_interface)
        elif session.lost_since is None:
            session.lost_since = self.clock.monotonic()
            log.warning("connectivity lost; tolerating it for %gs", self.config.lost_tolerance)
            self.machine.after(self.config.lost_tolerance, Event.LOST_TIMEOUT)

    def _connected_lost_timeout(self, _: object) -> None:
        """The tolerance is over: look once more (asking NM to re-check) before giving up on the network."""
        if self._session.lost_since is not None:
            self._watch_connection(self._check_online(recheck=True))
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
        self._refresh_networks(rescan)
        try:
            if not self._portal_up:  # two interfaces: it may still be up (a failed attempt, a loss)
                config = self.config
                self.backend.start_access_point(self.interface, config.portal_ssid, config.portal_passphrase,
                                                str(config.portal_gateway))
                self._portal_up = True
                self.dhcp.start()
                self.web.start()
        except AdapterError as err:
            log.error("could not raise the portal, trying again in %gs: %s", PORTAL_RETRY_DELAY, err)
            self._take_portal_down()
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
            # Owed since the portal first went up: a failed attempt does not start the interval again.
            now = self.clock.monotonic()
            if self._retry_due_at is None:
                self._retry_due_at = now + self.config.retry_interval
            self.machine.after(max(0.0, self._retry_due_at - now), Event.RETRY_DUE)
        if self.config.activity_timeout > 0:
            self.machine.after(self.config.activity_timeout, Event.ACTIVITY_TIMEOUT)

    def _supervise_portal(self, _: object) -> None:
        """dnsmasq or the web app died: restart it (a phone without DHCP never sees the portal)."""
        for name, process in (("dnsmasq", self.dhcp), ("portal web app", self.web)):
            if not process.alive():
                log.warning("%s is not running; restarting it", name)
                self._quietly(process.start)
        self.machine.after(SUPERVISE_INTERVAL, Event.TICK)

    def _portal_retry_due(self, _: object) -> None:
        now = self.clock.monotonic()
        hold_until = self._person_holds_retry_until(now)
        if hold_until is not None:
            log.info("a person is using the portal; retrying saved networks in %.0fs", hold_until - now)
            self.machine.after(hold_until - now, Event.RETRY_DUE)
        elif not self._has_saved_networks():
            self.machine.after(self.config.retry_interval, Event.RETRY_DUE)
        else:
            self._retry_saved_networks("retry interval: trying saved networks")

    def _person_holds_retry_until(self, now: float) -> float | None:
        """Until when a person's recent progress defers the due retry (bounded), or None: retry now."""
        if self._last_progress is None or self._retry_due_at is None:
            return None
        until = min(self._last_progress + self.config.retry_interval,
                    self._retry_due_at + PERSON_DEFERRAL_LIMIT)
        return until if until > now else None

    def _portal_activity_timeout(self, _: object) -> None:
        if not self._session.used and self._has_saved_networks():
            self._retry_saved_networks("activity timeout: nobody used the portal")

    def _has_saved_networks(self) -> bool:
        """Dropping the AP to retry nothing would only cut off a phone that is about to join."""
        saved = self._quietly(self.backend.saved_wifi_ssids)
        if not saved:
            log.info("no saved WiFi network to retry; the portal stays up")
        return bool(saved)

    def _retry_saved_networks(self, reason: str) -> None:
        self._retry_due_at = None  # paid: the next visit to the portal owes a full interval again
        self.machine.enter(State.RETRYING, reason)
        if not self.two_interfaces:
            self._take_portal_down()
        activated = self._quietly(self.backend.activate_saved, self.client_interface,
                                  self.config.connect_timeout)
        if activated and self._wait_online():
            self._enter_connected("a saved network came back")
        else:
            self._raise_portal("no saved network came up", rescan=False)

    def _connect(self, payload: object) -> None:
        attempt, credentials = payload  # queued by connect(): (Attempt, Credentials)
        try:
            self._ssid = credentials.ssid  # before enter(): the state line and the hook name it
            self.machine.enter(State.CONNECTING, f"trying {credentials.ssid}")
            reason = self._attempt(credentials)
            attempt.finish(self.clock.time(), reason)
            log.info("attempt %d for %s: %s", attempt.id, attempt.ssid, attempt.result)
        finally:
            with self._lock:
                self._connect_pending = False
        if reason is None:
            self._enter_connected(f"connected to {credentials.ssid}", linger=True)
        else:
            self._raise_portal(f"attempt failed: {reason}", rescan=False)

    def _attempt(self, credentials: Credentials) -> FailureReason | None:
        """Try the credentials with the SSID's saved profiles set aside: deleted once the new profile
        works, restored if it fails (a mistyped password must not lose a network that worked). A bug in
        here fails the attempt instead of killing the controller thread."""
        set_aside: Mapping[str, bool] = {}
        reason: FailureReason | None = FailureReason.FAILED
        try:
            set_aside = self.backend.set_aside_profiles(credentials.ssid)
            reason = self._try_credentials(credentials)
        except AdapterError as err:
            log.error("could not set aside the saved profiles for %s: %s", credentials.ssid, err)
        except Exception:  # anything unexpected: record it, bring the portal back
            log.exception("attempt for %s failed unexpectedly", credentials.ssid)
        if reason is None:
            for uuid in set_aside:
                self._quietly(self.backend.delete_profile, uuid)
        else:
            self._quietly(self.backend.restore_profiles, set_aside)
        return reason

    def _try_credentials(self, credentials: Credentials) -> FailureReason | None:
        """Add the profile, drop the AP, activate, check connectivity; on failure delete the new profile."""
        try:
            uuid = self.backend.add_profile(self.client_interface, credentials)
        except AdapterError as err:
            log.error("could not create a profile for %s: %s", credentials.ssid, err)
            return FailureReason.FAILED
        if not self.two_interfaces:  # one radio: the AP must make way for the attempt
            self._take_portal_down()
        reason = self._activate(uuid, credentials)
        if reason is not None:
            self._quietly(self.backend.delete_profile, uuid)
        return reason

    def _activate(self, uuid: str, credentials: Credentials) -> FailureReason | None:
        try:
            self.backend.activate(uuid, credentials, self.config.connect_timeout)
        except ActivationFailed as failure:
            log.warning("activation of %s failed: %s", credentials.ssid, failure)
            return failure.reason
        except AdapterError as err:
            log.warning("activation of %s failed: %s", credentials.ssid, err)
            return FailureReason.FAILED
        return None if self._wait_online() else FailureReason.NO_INTERNET

    def _stop(self, _: object) -> None:
        self._take_portal_down()
        self.machine.enter(State.STOPPING, "stop requested")

    # -- helpers ---------------------------------------------------------------------------------------

    def _take_portal_down(self) -> None:
        """Web app, dnsmasq, then the AP profile; each failure is logged and the rest still happens."""
        self._portal_up = False
        self._quietly(self.web.stop)
        self._quietly(self.dhcp.stop)
        self._quietly(self.backend.stop_access_point, self.config.portal_ssid)

    def _check_online(self, verdict: Connectivity | None = None, recheck: bool = False) -> bool:
        return self.connectivity.check(verdict, recheck)

    def _wait_online(self) -> bool:
        """After an activation (a change we made): ask NM to re-check once, then read its verdict."""
        deadline = self.clock.monotonic() + min(ONLINE_CHECK_WINDOW, self.config.connect_timeout)
        recheck = True
        while not self._check_online(recheck=recheck):
            if self.clock.monotonic() >= deadline:
                return False
            recheck = False
            self.clock.sleep(ONLINE_POLL)
        return True

    def _refresh_networks(self, rescan: bool) -> list[Network]:
        """Scan and cache. A refused rescan (busy driver, AP mode) still reads the list NetworkManager
        already has; only when that fails too is the cached list kept."""
        try:
            points = self._scan(rescan)
            saved = self.backend.saved_wifi_ssids()
        except AdapterError as err:
            log.warning("scan failed, keeping the %d cached networks: %s", len(self._networks), err)
            return self._networks
        networks = networks_from_scan(points, saved, self.config.portal_ssid)
        with self._lock:
            self._networks = networks
        return networks

    def _scan(self, rescan: bool) -> list[AccessPoint]:
        try:
            return self.backend.scan(self.client_interface, rescan)
        except AdapterError as err:
            if not rescan:
                raise
            log.warning("rescan refused, reading NetworkManager's last list instead: %s", err)
            return self.backend.scan(self.client_interface, False)

    def _quietly(self, action: Callable[..., T], *args: object) -> T | None:
        """Run a best-effort adapter call: log an AdapterError and return None instead."""
        try:
            return action(*args)
        except AdapterError as err:
            log.warning("%s failed: %s", getattr(action, "__name__", action), err)
            return None

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
        """From the monitor's thread: remember NM's newest verdict, queue one NM_CHANGED (bursts of lines
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
        """The cached scan (scanning is slow and cuts the AP on many drivers; POST /rescan refreshes it),
        with "saved" read afresh: a join or a forget changes it without a scan."""
        saved = self._quietly(self.backend.saved_wifi_ssids)
        with self._lock:
            if saved is not None:
                self._networks = [replace(network, saved=network.ssid in saved) for network in self._networks]
            return [network.to_json() for network in self._networks]

    def rescan(self) -> list[dict]:
        if self.machine.state in (State.CONNECTING, State.RETRYING):
            return self.networks()  # the radio is busy joining a network
        return [network.to_json() for network in self._refresh_networks(rescan=True)]

    def connect(self, fields: dict[str, str]) -> dict:
        with self._lock:
            scanned = {network.ssid: network.security for network in self._networks}
            credentials = credentials_from_request(fields, scanned.get(str(fields.get("ssid", ""))),
                                                   self.config.ca_cert_directory)
            if self._connect_pending or self.machine.state not in CONNECTABLE:
                raise BusyError(f"busy ({self.machine.state}); try again in a moment")
            self._connect_pending = True
            attempt = Attempt(next(self._attempt_ids), credentials.ssid, self.clock.time())
            self._last_progress = self.clock.monotonic()  # a submitted attempt is a person's progress
            self._last_attempt = attempt
        self.machine.post(Event.CONNECT, (attempt, credentials))
        return attempt.to_json()

    def touch(self) -> None:
        """A person's progress on the portal (the web app sends only choices and submitted attempts)."""
        with self._lock:
            self._session.used = True
            self._last_progress = self.clock.monotonic()

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
        with self._lock:
            self._networks = [replace(network, saved=False) for network in self._networks]
        return {"forgotten": forgotten}
