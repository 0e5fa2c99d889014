"""The application's control API on loopback: read the state, force setup mode, factory-reset WiFi."""

from __future__ import annotations

from flask import Blueprint, jsonify

from . import api, service

bp = Blueprint("control", __name__)

# Same answers as the portal's API; there is one implementation of each.
bp.add_url_rule("/status", view_func=api.status, methods=["GET"])
bp.add_url_rule("/networks", view_func=api.networks, methods=["GET"])


@bp.post("/setup-mode")
def setup_mode():
    """Raise the portal now (e.g. the user pressed the device's setup button)."""
    return jsonify(service().enter_setup_mode()), 202


@bp.post("/forget")
def forget():
    """Delete every saved WiFi network; the device then onboards again."""
    return jsonify(service().forget_networks())
