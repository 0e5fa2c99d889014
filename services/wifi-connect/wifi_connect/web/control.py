"""The application's control API on loopback: read the state, force setup mode, factory-reset WiFi."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import bottle

from ..ports import PortalService
from . import api, json_response


@dataclass(frozen=True, slots=True)
class SetupNetwork:
    """The portal's access point as the setup QR code names it (the passphrase stays out of repr/logs)."""

    ssid: str
    passphrase: str | None = field(default=None, repr=False)


def install(app: bottle.Bottle, service: PortalService, setup_network: SetupNetwork | None = None) -> None:
    api.install_reads(app, service)  # GET /networks serves a cached scan; POST /rescan refreshes it
    if setup_network is not None:
        svg = functools.cache(functools.partial(_setup_qr_svg, setup_network))  # fixed for the process' life

        @app.get("/setup-qr.svg")
        def setup_qr() -> bottle.HTTPResponse:
            """The setup network as a QR code (WIFI:S:..;T:WPA;P:..;;) for the app's screen or a label.
            It carries the AP passphrase: loopback only, never cached."""
            return bottle.HTTPResponse(svg(), 200, {"Content-Type": "image/svg+xml",
                                                  "Cache-Control": "no-store",
                                                  "X-Content-Type-Options": "nosniff"})

    @app.post("/setup-mode")
    def setup_mode() -> bottle.HTTPResponse:
        """Raise the portal now (e.g. the user pressed the device's setup button).

        202: accepted. 200 with ``accepted: false``: the portal is already up. 409 with ``accepted:
        false``: an attempt or a retry is running (``reason`` says which); ask again once it is over."""
        answer = service.enter_setup_mode()
        if answer.get("accepted"):
            return json_response(answer, 202)
        return json_response(answer, 200 if answer.get("state") == "portal" else 409)

    @app.post("/forget")
    def forget() -> bottle.HTTPResponse:
        """Delete every saved WiFi network; the device then onboards again."""
        return json_response(service.forget_networks())


def _setup_qr_svg(setup_network: SetupNetwork) -> bytes:
    """Drawn on the first request: segno and what it imports (~1 MiB) stay out of a daemon nobody asks."""
    from ..setup_qr import setup_qr_svg

    return setup_qr_svg(setup_network.ssid, setup_network.passphrase)
