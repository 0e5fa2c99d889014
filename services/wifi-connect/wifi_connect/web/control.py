"""The application's control API on loopback: read the state, force setup mode, factory-reset WiFi."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import api, service

bp = Blueprint("control", __name__)

# Same answers as the portal's API; there is one implementation of each.
bp.add_url_rule("/status", view_func=api.status, methods=["GET"])
bp.add_url_rule("/networks", view_func=api.networks, methods=["GET"])
bp.add_url_rule("/rescan", view_func=api.rescan, methods=["POST"])  # GET /networks serves a cached scan


@bp.post("/setup-mode")
def setup_mode():
    """Raise the portal now (e.g. the user pressed the device's setup button).

    202: accepted. 200 with ``accepted: false``: the portal is already up. 409 with ``accepted: false``:
    an attempt or a retry is running (``reason`` says which); ask again once it is over."""
    answer = service().enter_setup_mode()
    if answer.get("accepted"):
        return jsonify(answer), 202
    return jsonify(answer), 200 if answer.get("state") == "portal" else 409


@bp.post("/forget")
def forget():
    """Delete every saved WiFi network; the device then onboards again."""
    return jsonify(service().forget_networks())
