"""Does the host publish ``<hostname>.local``? (``MDNS``: ``yes``, ``no``, or ``auto``.)

On balenaOS, Raspberry Pi OS and most desktop distributions avahi-daemon publishes the host name over
mDNS; a container cannot publish it itself (it shares the host's network, and a second responder would
fight avahi). ``auto`` asks the host's system bus (the one ``DBUS_SYSTEM_BUS_ADDRESS`` points at, as for
nmcli) whether ``org.freedesktop.Avahi`` has an owner, with ``dbus-send`` (Debian ``dbus-bin``, which
``network-manager`` already pulls in). Anything that fails counts as "no": the page then says only the
address, never a name that might not resolve.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping

log = logging.getLogger(__name__)

AVAHI_NAME = "org.freedesktop.Avahi"
MDNS_MODES = ("auto", "yes", "no")


class MdnsCheck:
    """Callable: True when ``<hostname>.local`` is published (asked again at each connection)."""

    def __init__(
        self, mode: str = "auto", env: Mapping[str, str] | None = None, timeout: float = 5.0
    ) -> None:
        if mode not in MDNS_MODES:
            raise ValueError(f"mode must be one of {MDNS_MODES}")
        self.mode = mode
        self._env = dict(os.environ if env is None else env)
        self._timeout = timeout

    def __call__(self) -> bool:
        if self.mode != "auto":
            return self.mode == "yes"
        argv = ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{AVAHI_NAME}"]
        try:
            done = subprocess.run(argv, env=self._env, capture_output=True, text=True, timeout=self._timeout,
                                  stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            log.info("cannot ask the system bus whether avahi runs (%s): not announcing a .local name", err)
            return False
        return done.returncode == 0 and "boolean true" in done.stdout
