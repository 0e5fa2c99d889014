"""The portal's three parts on the AP's device: the access point profile, dnsmasq and the portal web app."""

from __future__ import annotations

import logging

from ..config import Config
from ..ports import Dhcp, NetworkBackend
from .best_effort import quietly
from .ports import WebServer

log = logging.getLogger(__name__)


class Hotspot:
    """Brought up and taken down by the controller's thread; ``up`` says whether the AP profile is."""

    def __init__(self, config: Config, backend: NetworkBackend, dhcp: Dhcp, web: WebServer) -> None:
        self.config, self.backend, self.dhcp, self.web = config, backend, dhcp, web
        self.up = False

    def bring_up(self, interface: str) -> None:
        """AP, then dnsmasq, then the web app. An AdapterError propagates: the caller takes it all down."""
        if self.up:  # two interfaces: it may still be up (a failed attempt, a loss)
            return
        config = self.config
        self.backend.start_access_point(interface, config.portal_ssid, config.portal_passphrase,
                                        str(config.portal_gateway))
        self.up = True
        self.dhcp.start()
        self.web.start()

    def take_down(self) -> None:
        """Web app, dnsmasq, then the AP profile; each failure is logged and the rest still happens."""
        self.up = False
        quietly(self.web.stop)
        quietly(self.dhcp.stop)
        quietly(self.backend.stop_access_point, self.config.portal_ssid)

    def supervise(self) -> None:
        """dnsmasq or the web app died: restart it (a phone without DHCP never sees the portal)."""
        for name, process in (("dnsmasq", self.dhcp), ("portal web app", self.web)):
            if not process.alive():
                log.warning("%s is not running; restarting it", name)
                quietly(process.start)
