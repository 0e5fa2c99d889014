"""The agent's HTTP side, in the agent's own process: /metrics, /health and the routes inputs add.

Served by ``sidecar_common.http.HttpServer`` (waitress in a daemon thread: every request is read and
buffered by its event loop before a worker thread runs the app, within deadlines and size limits, so
idle or trickling clients never hold a worker). One process means nothing can outlive the agent and a
restart right after ``kill -9`` binds the port again at once (SO_REUSEADDR).

- ``/metrics``: the stock prometheus_client exposition of the agent's registry (OpenMetrics when the
  scraper asks for it).
- ``/health``: the document the pipeline builds for the request (health.py); 200 while "ok" or
  "degraded", 503 while "starting" or "stopping", or "down" when it cannot be built (spool unreadable).
  Building it also refreshes the spool and input gauges, which is why /metrics asks for it first:
  nothing runs periodically at idle.
- Any other path goes to the routes the running configuration's inputs mounted (``mount(app)``, e.g.
  the HTTP input's ``POST /logs/<tag>``); a reload swaps them as a whole.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import bottle
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sidecar_common.http import HttpServer

log = logging.getLogger(__name__)
CORE_PATHS = ("/metrics", "/health")
HealthSource = Callable[[], dict[str, Any] | None]
WsgiApp = Callable[..., Iterable[bytes]]


def create_app(health: HealthSource, registry: CollectorRegistry) -> bottle.Bottle:
    """/metrics from ``registry`` and /health from ``health()`` (None: the agent is still starting),
    which also refreshes the gauges /metrics exports."""
    app = bottle.Bottle()

    @app.get("/metrics")
    def metrics() -> bytes:
        current_health(health)  # refreshes the spool and input gauges
        encoder, content_type = choose_encoder(bottle.request.get_header("Accept", ""))
        bottle.response.content_type = content_type
        return encoder(registry)

    @app.get("/health")
    def health_document() -> str:
        document = current_health(health)
        bottle.response.status = 200 if document["status"] in ("ok", "degraded") else 503
        bottle.response.content_type = "application/json"
        return json.dumps(document)

    return app


def current_health(health: HealthSource) -> dict[str, Any]:
    """The document as served: "starting" before the pipeline runs, "down" when it cannot be built."""
    try:
        document = health()
    except Exception as err:  # a broken spool must show as a failing health check, not a 500
        log.warning("cannot build the health document: %s", err)
        return {"status": "down", "reason": f"cannot build the health document: {type(err).__name__}"}
    return {"status": "starting"} if document is None else document


class InputRoutes:
    """The WSGI app of the agent's listener: /metrics and /health, else the inputs' current routes."""

    def __init__(self, core: WsgiApp) -> None:
        self.core = core
        self.inputs: bottle.Bottle = bottle.Bottle()  # no routes: 404
        self.mounted: tuple[Any, ...] = ()  # the running inputs (their report() feeds /metrics)

    def mount(self, inputs: Iterable[Any]) -> None:
        """Build the routes of a configuration's inputs (those with ``mount(app)``) and serve them."""
        app = bottle.Bottle()
        inputs = tuple(inputs)
        for item in inputs:
            mount = getattr(item, "mount", None)
            if mount is not None:
                mount(app)
        self.inputs = app  # one reference swap: a request sees the old routes or the new ones
        self.mounted = inputs

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self.core if environ.get("PATH_INFO", "") in CORE_PATHS else self.inputs
        return app(environ, start_response)


class HttpServerCollector:
    """The listener's own counters (connections refused or closed by reason) as metrics."""

    def __init__(self, server: Callable[[], HttpServer | None]) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        server = self.server()
        if server is None:
            return
        stats = server.stats
        connections = GaugeMetricFamily("log_agent_http_connections", "Open connections to the listener.")
        connections.add_metric([], stats.open_connections)
        yield connections
        refused = CounterMetricFamily("log_agent_http_refused_connections",
                                      "HTTP connections refused at a limit, by reason.", labels=["reason"])
        for reason, total in sorted(stats.refused_total.items()):
            refused.add_metric([reason], total)
        yield refused
        closed = CounterMetricFamily("log_agent_http_closed_connections",
                                     "HTTP connections the server closed, by reason (deadlines, sizes).",
                                     labels=["reason"])
        for reason, total in sorted(stats.closed_total.items()):
            closed.add_metric([reason], total)
        yield closed
