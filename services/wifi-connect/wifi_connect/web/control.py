"""The application's control API on loopback: read the state, force setup mode, factory-reset WiFi."""

from __future__ import annotations

import bottle

from ..ports import PortalService
from . import api, json_response


def install(app: bottle.Bottle, service: PortalService) -> None:
    api.install_reads(app, service)  # GET /networks serves a cached scan; POST /rescan refreshes it

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
