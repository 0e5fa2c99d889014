"""The balena-compatible JSON API the UI (ours or a replacement in UI_DIRECTORY) is built on."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InputError
from . import service

bp = Blueprint("api", __name__)


def connect_fields() -> dict[str, str]:
    """The /connect body as text fields, from JSON or a form. The daemon validates the values."""
    if not request.is_json:
        return request.form.to_dict()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("body", "the request body must be a JSON object")
    return {name: _as_text(name, value) for name, value in body.items() if value is not None}


def _as_text(name: str, value: object) -> str:
    if isinstance(value, bool):  # balena clients send "hidden": true
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise InputError(name, f"{name} must be a string")


@bp.after_request
def allow_any_origin(response: Response) -> Response:
    """Like balena's server: a UI served from elsewhere (e.g. during development) may call the API."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response


@bp.get("/networks")
def networks():
    return jsonify(service().networks())


@bp.post("/rescan")
def rescan():
    return jsonify(service().rescan())


@bp.get("/status")
def status():
    return jsonify(service().status())


@bp.post("/connect")
def connect():
    return jsonify(service().connect(connect_fields())), 202
