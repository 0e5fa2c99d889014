"""The balena-compatible JSON API the UI (ours or a replacement in UI_DIRECTORY) is built on."""

from __future__ import annotations

import json

import bottle

from ..errors import InputError
from ..ports import PortalService
from . import JSON_TYPE, form_fields, json_response, read_body


def connect_fields() -> dict[str, str]:
    """The /connect body as text fields, from JSON or a form. The daemon validates the values."""
    if not is_json():
        return form_fields()
    try:
        body = json.loads(read_body())
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InputError("body", "the request body must be a JSON object")
    return {name: _as_text(name, value) for name, value in body.items() if value is not None}


def is_json() -> bool:
    mimetype = bottle.request.content_type.split(";", 1)[0].strip().lower()
    return mimetype == JSON_TYPE or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def _as_text(name: str, value: object) -> str:
    if isinstance(value, bool):  # balena clients send "hidden": true
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise InputError(name, f"{name} must be a string")


def install_reads(app: bottle.Bottle, service: PortalService) -> None:
    """The routes both apps share: same answers, one implementation."""

    @app.get("/networks")
    def networks() -> bottle.HTTPResponse:
        return json_response(service.networks())

    @app.post("/rescan")
    def rescan() -> bottle.HTTPResponse:
        return json_response(service.rescan())

    @app.get("/status")
    def status() -> bottle.HTTPResponse:
        return json_response(service.status())


def install(app: bottle.Bottle, service: PortalService) -> None:
    install_reads(app, service)

    @app.post("/connect")
    def connect() -> bottle.HTTPResponse:
        return json_response(service.connect(connect_fields()), 202)
