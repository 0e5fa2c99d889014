"""``log-agent``: inputs, a durable spool, outputs; /metrics and /health. One process.

Signals: SIGHUP reloads the configuration (inputs, outputs and the HTTP listener are rebuilt; spooled
records and cursors stay), SIGTERM/SIGINT stop the inputs, flush within ``retry.flush_timeout`` and
exit 0. Exit codes: 0 clean stop, 1 could not start (spool, port), 2 invalid configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ENV_HTTP_LISTEN, AgentConfig
from .errors import ConfigError, LogAgentError

if TYPE_CHECKING:
    from sidecar_common.http import HttpServer

    from .httpconfig import HttpConfig
    from .pipeline import Pipeline, PipelineParts
    from .web import InputRoutes

log = logging.getLogger("log_agent")


def build_parts(config: AgentConfig) -> PipelineParts:
    """The inputs and routed outputs one configuration describes (nothing started yet)."""
    from .delivery import Route
    from .pipeline import PipelineParts

    router = config.router()
    routes = [Route(spec.build(), lambda tag, name=spec.name: router.accepts(name, tag))
              for spec in config.outputs]
    inputs = [spec.build() for spec in config.inputs]
    return PipelineParts(inputs, routes, config.retry, config.secrets())


def start_http(config: HttpConfig, app: Any) -> HttpServer:
    """Serve ``app`` on the configured listener (behind the bearer token when one is set).

    Raises LogAgentError naming the setting when the address cannot be bound (taken, no permission)."""
    from sidecar_common.http import HttpServer

    if config.bearer_token:
        from sidecar_common.auth import HttpAuth, require_auth

        app = require_auth(app, HttpAuth(bearer_token=config.bearer_token), realm="log-agent")
    server = HttpServer(app, config.listen, limits=config.limits, tls=config.tls, name="log-agent")
    try:
        server.start()
    except OSError as err:
        raise LogAgentError(f"{ENV_HTTP_LISTEN} (http.listen): cannot listen on {config.listen}: "
                            f"{err.strerror or err}") from err
    address = server.address
    where = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
    log.info("serving /metrics and /health on %s%s", where, " (TLS)" if config.tls else "")
    return server


class Agent:
    def __init__(self, config: AgentConfig, config_path: str | None) -> None:
        self.config = config
        self.config_path = config_path
        self.signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self.pipeline: Pipeline | None = None
        self.server: HttpServer | None = None

    def run(self) -> int:
        from .budget import BudgetCollector, MemoryBudget, return_freed_memory_promptly
        from .deadletter import DeadLetterFile
        from .inputs.report import InputReportCollector
        from .metrics import Metrics
        from .pipeline import Pipeline
        from .spool import Spool
        from .web import HttpServerCollector, InputRoutes, create_app

        metrics = Metrics()
        metrics.registry.register(HttpServerCollector(lambda: self.server))
        health = lambda: self.pipeline.housekeep_once() if self.pipeline else None  # noqa: E731
        routes = InputRoutes(create_app(health, metrics.registry))
        metrics.registry.register(InputReportCollector(lambda: routes.mounted))
        try:
            # First: a taken port must not leave a half-started agent (nor touch the spool).
            self.server = start_http(self.config.http, routes)
            spool = Spool(self.config.spool)
        except LogAgentError as err:
            log.error("cannot start: %s", err)
            self._stop_http()
            return 1
        retry = self.config.retry
        dead_letter = DeadLetterFile(
            Path(retry.dead_letter_path or Path(self.config.spool.dir) / "dead-letter.jsonl"),
            retry.dead_letter_max_bytes)
        return_freed_memory_promptly()  # RSS comes back down after a burst (budget.py)
        budget = MemoryBudget(self.config.memory_budget)
        metrics.registry.register(BudgetCollector(budget))
        pipeline = Pipeline(spool, metrics, self.config.enricher(), dead_letter, budget)
        try:
            parts = build_parts(self.config)
            pipeline.start(parts)
        except (OSError, LogAgentError) as err:
            log.error("cannot start: %s", err)
            pipeline.stop(flush_timeout=0)
            spool.close()
            self._stop_http()
            return 1
        self.pipeline = pipeline
        routes.mount(parts.inputs)
        self._install_signal_handlers()
        log.info("log-agent running: inputs %s; outputs %s", ", ".join(s.name for s in self.config.inputs),
                 ", ".join(spec.name for spec in self.config.outputs))
        try:
            self._serve(pipeline, routes)
        finally:
            pipeline.stop()
            spool.close()
            self._stop_http()
        log.info("log-agent stopped")
        return 0

    def _stop_http(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _install_signal_handlers(self) -> None:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: self.signals.put(received))

    def _serve(self, pipeline: Pipeline, routes: InputRoutes) -> None:
        while True:
            received = self.signals.get()  # idle: blocked until a signal arrives, no polling
            if received != signal.SIGHUP:
                log.info("received %s: flushing and stopping", signal.Signals(received).name)
                return
            self._reload(pipeline, routes)

    def _reload(self, pipeline: Pipeline, routes: InputRoutes) -> None:
        try:
            new = AgentConfig.load(os.environ, self.config_path)
        except ConfigError as err:
            log.error("reload refused, the running configuration stays: %s", err)
            return
        waiting = self.config.restart_only_changes(new)
        if waiting:
            log.warning("reload: %s change only at the next start (restart the agent); "
                        "the running values stay", ", ".join(waiting))
        new = self.config.keeping_restart_only(new)
        pipeline.enrich = new.enricher()
        try:
            parts = build_parts(new)
            pipeline.reload(parts)
        except (OSError, LogAgentError) as err:
            log.error("reload failed (%s); going back to the running configuration", err)
            pipeline.enrich = self.config.enricher()
            parts = build_parts(self.config)
            pipeline.reload(parts)
            routes.mount(parts.inputs)
            return
        routes.mount(parts.inputs)
        if new.http != self.config.http:
            self._restart_http(new.http, routes)
        logging.getLogger().setLevel(new.log_level.upper())
        self.config = new
        log.info("configuration reloaded: outputs %s", ", ".join(spec.name for spec in new.outputs))

    def _restart_http(self, config: HttpConfig, routes: InputRoutes) -> None:
        self._stop_http()
        try:
            self.server = start_http(config, routes)
        except LogAgentError as err:
            log.error("reload: %s; serving on the running address again", err)
            try:
                self.server = start_http(self.config.http, routes)
            except LogAgentError as again:
                log.error("no HTTP listener until the next reload or restart: %s", again)


def healthcheck(config: HttpConfig) -> int:
    """Docker's HEALTHCHECK: GET /health on the agent's own listener as its settings say (so an address
    moved by LOG_AGENT_HTTP_LISTEN moves the check too), with its bearer token; 0 or 1, never 2. Over TLS
    it does not verify the agent's certificate: it sends only the token the agent itself holds."""
    import http.client
    import socket
    import ssl

    listen = config.listen
    headers = {"Authorization": f"Bearer {config.bearer_token}"} if config.bearer_token else {}
    if listen.unix_path:
        connection: http.client.HTTPConnection = http.client.HTTPConnection("localhost", timeout=4)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.settimeout(4)
        connection.sock = unix
        target: str = listen.unix_path
    else:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen.host, listen.host)
        if config.tls_cert_file:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            connection = http.client.HTTPSConnection(host, listen.port, timeout=4, context=context)
        else:
            connection = http.client.HTTPConnection(host, listen.port, timeout=4)
        target = f"{host}:{listen.port}"
    try:
        if listen.unix_path:
            unix.connect(listen.unix_path)
        connection.request("GET", "/health", headers=headers)
        status = connection.getresponse().status
    except OSError as err:
        print(f"log-agent: unhealthy: {target}: {err}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"log-agent: unhealthy: {target}/health answered {status}", file=sys.stderr)
    return 0 if status == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="log-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="YAML configuration file (default: $LOG_AGENT_CONFIG)")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--healthcheck", action="store_true",
                        help="for Docker's HEALTHCHECK: exit 0 when /health answers 200, else 1")
    args = parser.parse_args(argv)
    try:
        config = AgentConfig.load(os.environ, args.config)
    except ConfigError as err:
        print(f"log-agent: invalid configuration: {err}", file=sys.stderr)
        return 1 if args.healthcheck else 2
    if args.healthcheck:
        return healthcheck(config.http)
    if args.check_config:
        print("log-agent: configuration OK")
        return 0
    logging.basicConfig(level=config.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return Agent(config, args.config).run()


if __name__ == "__main__":
    sys.exit(main())
