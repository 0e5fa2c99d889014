"""The reporter's HTTP app: /metrics, /status, /healthz, /readyz, /history and the dashboard at /.

``create_app`` builds a bottle app over a sampler that runs in the same process (``__main__`` serves it
in-process with sidecar_common's HttpServer): every request thread reads the sampler's published
snapshot and history, and no request ever collects anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import bottle

from ..exposition import build_registry, render
from ..history import History
from ..models import Sample
from ..sampler import Sampler
from . import view
from .plots import build_plots

JSON = "application/json"
TEMPLATE = files(__package__).joinpath("templates/dashboard.tpl").read_text(encoding="utf-8")


def create_app(sampler: Sampler, server_samples: Callable[[], list[Sample]] = list) -> bottle.Bottle:
    """``server_samples``: the HTTP server's own counters, rendered with /metrics."""
    app = bottle.Bottle()
    registry = build_registry(lambda: sampler.snapshot, extra=server_samples)
    dashboard = bottle.SimpleTemplate(TEMPLATE)

    @app.get("/metrics")
    def metrics() -> bottle.HTTPResponse:
        body, content_type = render(registry, bottle.request.get_header("Accept"))
        return bottle.HTTPResponse(body, 200, {"Content-Type": content_type})

    @app.get("/status")
    def status() -> bottle.HTTPResponse:
        document = sampler.status
        if document is None:
            return _json({"status": "starting", "message": "first sample not taken yet"}, 503)
        return _json(document, 200)

    @app.get("/healthz")
    def healthz() -> bottle.HTTPResponse:
        alive = sampler.alive()
        body = {"alive": alive, "seconds_since_last_sample": round(sampler.seconds_since_last_sample(), 3)}
        return _json(body, 200 if alive else 503)

    @app.get("/readyz")
    def readyz() -> bottle.HTTPResponse:
        return _json({"ready": sampler.ready}, 200 if sampler.ready else 503)

    @app.get("/history")
    def history() -> bottle.HTTPResponse:
        return _json(sampler.history.to_json(), 200)

    @app.get("/")
    def page() -> bottle.HTTPResponse:
        html = dashboard.render(**dashboard_context(sampler.status, sampler.history))
        return bottle.HTTPResponse(html, 200, {"Content-Type": "text/html; charset=utf-8"})

    def error(err: bottle.HTTPError) -> str:
        bottle.response.content_type = JSON
        return json.dumps({"error": err.status_line.split(" ", 1)[1], "message": str(err.body)})

    app.default_error_handler = error  # type: ignore[method-assign]
    return app


def _json(document: Any, status: int) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(json.dumps(document), status, {"Content-Type": JSON})


def dashboard_context(status: dict[str, Any] | None, history: History) -> dict[str, Any]:
    now = time.time() if status is None else status["time"]
    checks = {} if status is None else {c["check"]: view.CheckView.of(c) for c in status["checks"]}
    return {
        "status": status,
        "head": view.header(status),
        "checks": checks,
        "sidecars": [] if status is None else view.sidecar_views(status["sidecars"]),
        "plots": build_plots(history, now),
        "span_minutes": round(history.span_seconds / 60),
        "fmt": view.fmt,
        "duration": view.duration,
        "quantity": view.quantity,
        "clock": view.clock,
        "size_pair": view.size_pair,
        "escape": bottle.html_escape,
    }
