"""The reporter's HTTP app: /metrics, /status, /healthz, /readyz, /history and the dashboard at /.

gunicorn runs ``health_reporter.web:create_app()`` with ONE worker and a few threads. The factory starts
the sampler thread inside that worker (no --preload: a thread started before fork would not survive it),
so every request thread reads the same in-memory snapshot and history. More workers would each sample the
device and keep their own history, which is why ``health-reporter`` always passes --workers 1.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..config import Config
from ..exposition import build_registry, render
from ..history import History
from ..sampler import Sampler, sampler_from_config
from . import filters
from .plots import build_plots


def create_app(config: Config | None = None, sampler: Sampler | None = None) -> Flask:
    """With no ``sampler``, build one from ``config`` (default: the environment) and start it."""
    if sampler is None:
        config = config or Config.from_env()
        configure_logging(config.log_level)
        sampler = sampler_from_config(config)
        sampler.start()
        atexit.register(sampler.stop)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    filters.register(app)
    registry = build_registry(lambda: sampler.snapshot)

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render(registry, request.headers.get("Accept"))
        return Response(body, content_type=content_type)

    @app.get("/status")
    def status() -> tuple[Response, int]:
        document = sampler.status
        if document is None:
            return jsonify(status="starting", message="first sample not taken yet"), 503
        return jsonify(document), 200

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        alive = sampler.alive()
        body = {"alive": alive, "seconds_since_last_sample": round(sampler.seconds_since_last_sample(), 3)}
        return jsonify(body), 200 if alive else 503

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        return jsonify(ready=sampler.ready), 200 if sampler.ready else 503

    @app.get("/history")
    def history() -> Response:
        return jsonify(sampler.history.to_json())

    @app.get("/")
    def dashboard() -> str:
        return render_template("dashboard.html", **_dashboard_context(sampler.status, sampler.history))

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> tuple[Response, int]:
        return jsonify(error=err.name, message=err.description), err.code or 500

    return app


def _dashboard_context(status: dict[str, Any] | None, history: History) -> dict[str, Any]:
    now = time.time() if status is None else status["time"]
    span_minutes = round(history.span_seconds / 60)
    return {"status": status, "plots": build_plots(history, now), "span_minutes": span_minutes}


def configure_logging(level: str) -> None:
    """Under gunicorn nobody configures the app's loggers. Events (check transitions, autoheal) go to
    stdout as bare JSON lines, one per event, so ``docker logs`` and the log agent can parse them."""
    root = logging.getLogger()
    if root.handlers:
        return
    line = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr, format=line)
    events = logging.getLogger("health_reporter.events")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    events.addHandler(handler)
    events.propagate = False
