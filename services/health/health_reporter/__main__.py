"""``health-reporter``: validate the configuration, then exec gunicorn serving the app.

Exit status 2 with one readable line when a setting is wrong, before anything starts (1 with
``--healthcheck``: Docker reserves 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

from .config import Config
from .errors import ConfigError
from .sampler import sampler_from_config

APP = "health_reporter.web:create_app()"
GUNICORN_CONFIG = "python:health_reporter.gunicorn_config"  # drops stalled clients, see that module


def gunicorn_argv(config: Config) -> list[str]:
    host = f"[{config.listen_host}]" if ":" in config.listen_host else config.listen_host
    return [
        sys.executable, "-m", "gunicorn",
        "--workers", "1",  # one sampler, one history: see health_reporter.web
        "--threads", "4",
        "--bind", f"{host}:{config.listen_port}",
        "--worker-tmp-dir", "/dev/shm",  # gunicorn's heartbeat file: keep it off the SD card
        "--graceful-timeout", "5",
        "--config", GUNICORN_CONFIG,
        "--log-level", "warning",
        APP,
    ]  # fmt: skip


def probe(config: Config) -> int:
    """Exit status for Docker's HEALTHCHECK: 0 when /healthz answers 200, else 1 (never 2: reserved)."""
    host = "127.0.0.1" if config.listen_host in {"0.0.0.0", "::", ""} else config.listen_host
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(f"http://{host}:{config.listen_port}/healthz", timeout=5) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"health-reporter: unhealthy: {err}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="health-reporter", description=__doc__.splitlines()[0])
    parser.add_argument("--check-config", action="store_true", help="validate the environment and exit")
    parser.add_argument("--healthcheck", action="store_true", help="probe /healthz for Docker: exit 0 or 1")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
        if args.healthcheck:
            return probe(config)
        sampler_from_config(config)  # builds every collector and check: their settings are validated too
    except ConfigError as err:
        print(f"health-reporter: configuration error: {err}", file=sys.stderr)
        # Docker reserves HEALTHCHECK exit status 2: a probe that cannot even read its settings is unhealthy.
        return 1 if args.healthcheck else 2
    if args.check_config:
        print("health-reporter: configuration OK")
        return 0
    command = gunicorn_argv(config)
    os.execv(command[0], command)
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
