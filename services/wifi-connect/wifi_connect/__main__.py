"""``wifi-connect``: parse the settings (exit 2 on a bad one), then run the daemon."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from .config import load_config, remove_secrets_from_environment
from .errors import ConfigError, WifiConnectError
from .logs import setup_logging

log = logging.getLogger("wifi_connect")


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    try:
        config = load_config(sys.argv[1:] if argv is None else argv)
    except ConfigError as err:
        print(f"wifi-connect: {err}", file=sys.stderr)
        return 2
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
