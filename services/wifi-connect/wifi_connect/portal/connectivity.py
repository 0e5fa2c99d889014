"""Is the device online? NetworkManager's verdict, as its events report it or as read, backed by the
optional HTTP probe - which runs only when NM's verdict changed or on a re-check, never on every event.

``heard`` is called from the monitor's thread and says whether the controller must queue a look
(at most one is queued: a burst of lines during an activation becomes one look); ``check`` runs on the
controller's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..ports import Connectivity, NetworkBackend, NmChange
from .ports import Clock, ConnectivityProbe

ONLINE_VERDICTS = (Connectivity.FULL, Connectivity.LIMITED)
# After a connect, NM may take a moment to finish its own connectivity check (wifi-connect waits 20 s).
ONLINE_CHECK_WINDOW = 20.0
ONLINE_POLL = 1.0


class ConnectivityWatch:
    def __init__(
        self,
        backend: NetworkBackend,
        probe: ConnectivityProbe | None,
        quietly: Callable[..., Connectivity | None],
    ) -> None:
        self.backend, self.probe, self._quietly = backend, probe, quietly
        self.online = False  # the last answer (GET /status, the probes' answers)
        self._lock = threading.Lock()
        self._look_queued = False
        self._heard: Connectivity | None = None  # NM's newest verdict from an event, not looked at yet
        self._last_verdict: Connectivity | None = None
        self._probe_online = False

    def heard(self, change: NmChange) -> bool:
        """Remember what NM said; True when a look must be queued (none is queued yet)."""
        with self._lock:
            if change.connectivity is not None:
                self._heard = change.connectivity
            elif change.resync:
                self._heard = None  # missed events: read afresh
            queue, self._look_queued = not self._look_queued, True
            return queue

    def take_heard(self) -> Connectivity | None:
        """The look is happening: NM's verdict from the events since the last look (None: read it)."""
        with self._lock:
            self._look_queued = False
            verdict, self._heard = self._heard, None
            return verdict

    def check(self, verdict: Connectivity | None = None, recheck: bool = False) -> bool:
        """NM says full or limited (Ethernet counts), and the optional HTTP probe agrees.

        ``verdict``: NM's verdict as an event reported it (else it is read: NM's last known value, no
        probe). ``recheck`` asks NM to check again; it and a changed verdict are the only times the HTTP
        probe runs."""
        if verdict is None:
            verdict = self._quietly(self.backend.connectivity, recheck) or Connectivity.UNKNOWN
        nm_online = verdict in ONLINE_VERDICTS or (verdict is Connectivity.UNKNOWN and self.probe is not None)
        changed, self._last_verdict = verdict != self._last_verdict, verdict
        if self.probe is not None and nm_online and (recheck or changed):
            self._probe_online = self.probe.online()
        self.online = nm_online and (self.probe is None or self._probe_online)
        return self.online

    def wait_online(self, clock: Clock, connect_timeout: float) -> bool:
        """After an activation (a change we made): ask NM to re-check once, then read its verdict."""
        deadline = clock.monotonic() + min(ONLINE_CHECK_WINDOW, connect_timeout)
        recheck = True
        while not self.check(recheck=recheck):
            if clock.monotonic() >= deadline:
                return False
            recheck = False
            clock.sleep(ONLINE_POLL)
        return True
