"""One attempt to join the network a person chose, without losing what worked before.

The SSID's saved profiles are set aside (autoconnect off) while a new profile is tried: deleted once it
works, restored if it fails, so a mistyped password never loses a network that worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from ..errors import AdapterError
from ..models import Credentials, FailureReason
from ..ports import ActivationFailed, NetworkBackend
from .best_effort import quietly
from .connectivity import ConnectivityWatch
from .ports import Clock

log = logging.getLogger(__name__)


class Joiner:
    """Runs attempts on the controller's thread."""

    def __init__(self, backend: NetworkBackend, connectivity: ConnectivityWatch, clock: Clock,
                 connect_timeout: float) -> None:
        self.backend, self.connectivity, self.clock = backend, connectivity, clock
        self.connect_timeout = connect_timeout

    def join(self, interface: str, credentials: Credentials,
             make_way: Callable[[], None]) -> FailureReason | None:
        """Try the credentials on ``interface``; None when online. ``make_way`` runs once the new profile
        exists, before activation (one radio: the AP goes down). A bug in here fails the attempt instead
        of killing the controller thread."""
        set_aside: Mapping[str, bool] = {}
        reason: FailureReason | None = FailureReason.FAILED
        try:
            set_aside = self.backend.set_aside_profiles(credentials.ssid)
            reason = self._try_credentials(interface, credentials, make_way)
        except AdapterError as err:
            log.error("could not set aside the saved profiles for %s: %s", credentials.ssid, err)
        except Exception:  # anything unexpected: record it, bring the portal back
            log.exception("attempt for %s failed unexpectedly", credentials.ssid)
        if reason is None:
            for uuid in set_aside:
                quietly(self.backend.delete_profile, uuid)
        else:
            quietly(self.backend.restore_profiles, set_aside)
        return reason

    def _try_credentials(self, interface: str, credentials: Credentials,
                         make_way: Callable[[], None]) -> FailureReason | None:
        """Add the profile, make way, activate, check connectivity; on failure delete the new profile."""
        try:
            uuid = self.backend.add_profile(interface, credentials)
        except AdapterError as err:
            log.error("could not create a profile for %s: %s", credentials.ssid, err)
            return FailureReason.FAILED
        make_way()
        reason = self._activate(uuid, credentials)
        if reason is not None:
            quietly(self.backend.delete_profile, uuid)
        return reason

    def _activate(self, uuid: str, credentials: Credentials) -> FailureReason | None:
        try:
            self.backend.activate(uuid, credentials, self.connect_timeout)
        except ActivationFailed as failure:
            log.warning("activation of %s failed: %s", credentials.ssid, failure)
            return failure.reason
        except AdapterError as err:
            log.warning("activation of %s failed: %s", credentials.ssid, err)
            return FailureReason.FAILED
        online = self.connectivity.wait_online(self.clock, self.connect_timeout)
        return None if online else FailureReason.NO_INTERNET
