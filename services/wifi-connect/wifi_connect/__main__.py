"""``wifi-connect``: parse the settings (exit 2 on a bad one), then run the daemon."""

from __future__ import annotations

import logging
import sys
import urllib.request
from collections.abc import Sequence

from .config import Config, load_config, remove_secrets_from_environment
from .errors import ConfigError, WifiConnectError
from .logs import setup_logging

log = logging.getLogger("wifi_connect")


def healthcheck(config: Config) -> int:
    """Docker's HEALTHCHECK: the daemon's control API answers (whatever the WiFi state). It reads the same
    settings as the daemon, so an address moved by CONTROL_ADDRESS moves the check too. 0 or 1, never 2."""
    url = f"http://{config.control_address_text}/status"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as err:
        print(f"wifi-connect: unhealthy: {url}: {err}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    setup_logging()
    try:
        config = load_config(args)
    except ConfigError as err:
        print(f"wifi-connect: {err}", file=sys.stderr)
        return 1 if "--healthcheck" in args else 2
    if "--healthcheck" in args:
        return healthcheck(config)
    remove_secrets_from_environment()
    log.info("starting", extra={"fields": {"config": config.describe()}})
    from .daemon import run  # imported here so `--help` and config errors need no adapter

    try:
        return run(config)
    except WifiConnectError as err:
        log.error("cannot run: %s", err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
