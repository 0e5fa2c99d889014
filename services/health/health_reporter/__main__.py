"""``health-reporter``: read the settings once, then sample and serve HTTP in this one process.

Exit status 2 with one readable line when a setting is wrong, before anything starts (1 with
``--healthcheck``: Docker reserves 2); 1 when the address cannot be bound.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import ssl
import sys
import threading
import urllib.error
import urllib.request

from sidecar_common.http import ServerStats

from .config import Config
from .errors import ConfigError
from .models import Sample, counter, gauge
from .sampler import Sampler, sampler_from_config
from .web_access import WEB_CONFIG

log = logging.getLogger("health_reporter")
REFUSED_HELP = "Connections refused at accept: over the total or the per-address limit."
CLOSED_HELP = "Connections the server closed early, by reason (timeouts, too large, ...)."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="health-reporter", description=__doc__.splitlines()[0])
    parser.add_argument("--check-config", action="store_true", help="validate the environment and exit")
    parser.add_argument("--healthcheck", action="store_true", help="probe /healthz for Docker: exit 0 or 1")
    parser.add_argument(
        "--web.config.file", dest="web_config_file", default="", metavar="PATH",
        help=f"node_exporter's exporter-toolkit web config (TLS, basic_auth_users); same as {WEB_CONFIG}",
    )  # fmt: skip
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.web_config_file:
        env[WEB_CONFIG] = args.web_config_file
    try:
        config = Config.from_env(env)
        if args.healthcheck:
            return probe(config)
        sampler = sampler_from_config(config)  # builds every collector and check: their settings too
    except ConfigError as err:
        print(f"health-reporter: configuration error: {err}", file=sys.stderr)
        # Docker reserves HEALTHCHECK exit status 2: a probe that cannot even read its settings is unhealthy.
        return 1 if args.healthcheck else 2
    if args.check_config:
        print("health-reporter: configuration OK")
        return 0
    configure_logging(config.log_level)
    return serve(config, sampler)


def serve(config: Config, sampler: Sampler) -> int:
    """Bind, then sample, until SIGTERM or SIGINT."""
    from sidecar_common.http import HttpServer

    from .web import create_app
    from .web.guard import protect

    def server_samples() -> list[Sample]:
        return http_samples(server.stats)

    app = protect(create_app(sampler, server_samples), config.http.access)
    server = HttpServer(app, config.http.listen, limits=config.http.limits, tls=config.http.access.tls,
                        name="health")  # fmt: skip
    try:
        server.start()
    except (OSError, ssl.SSLError) as err:
        print(f"health-reporter: cannot serve on {config.http.listen}: {err}", file=sys.stderr)
        return 1
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    sampler.start()
    log.info("serving on %s%s", server.address, " (TLS)" if config.http.access.tls else "")
    stopping.wait()
    server.stop()
    sampler.stop()
    return 0


def http_samples(stats: ServerStats) -> list[Sample]:
    """The server's refusals and closes by reason: a flood or slow clients show up here."""
    samples = [gauge("device_http_open_connections", stats.open_connections, "Open HTTP connections.")]
    samples += [
        counter("device_http_refused_connections_total", count, REFUSED_HELP, reason=reason)
        for reason, count in stats.refused_total.items()
    ]
    samples += [
        counter("device_http_closed_connections_total", count, CLOSED_HELP, reason=reason)
        for reason, count in stats.closed_total.items()
    ]
    return samples


def probe(config: Config) -> int:
    """Exit status for Docker's HEALTHCHECK: 0 when /healthz answers 200, else 1 (never 2: reserved).
    /healthz needs no credentials; over TLS the probe does not verify our own certificate (it sends
    nothing secret and only asks whether this process's sampler runs)."""
    listen = config.http.listen
    tls = config.http.access.tls
    if listen.unix_path:
        print("health-reporter: --healthcheck does not probe a unix: listener", file=sys.stderr)
        return 1
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen.host, listen.host)
    host = f"[{host}]" if ":" in host else host
    context = None
    if tls is not None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    url = f"{'https' if tls else 'http'}://{host}:{listen.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"health-reporter: unhealthy: {err}", file=sys.stderr)
        return 1


def configure_logging(level: str) -> None:
    """Events (check transitions, autoheal) go to stdout as bare JSON lines, one per event, so
    ``docker logs`` and the log agent can parse them; everything else to stderr."""
    line = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, stream=sys.stderr, format=line)
    events = logging.getLogger("health_reporter.events")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    events.addHandler(handler)
    events.propagate = False


if __name__ == "__main__":
    sys.exit(main())
