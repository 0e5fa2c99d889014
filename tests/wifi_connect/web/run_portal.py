"""``python -m tests.wifi_connect.web.run_portal HOST PORT SOCKET [server=in-process] [LIMIT=VALUE ...]``: the
portal exactly as the daemon serves it (``web.server.ForkedPortalServer``: gunicorn forked from this
process, the hardened worker; or ``web.inprocess.InProcessPortalServer`` with ``server=in-process``),
talking to the daemon's RPC socket SOCKET. Prints ``ready`` on stderr once gunicorn listens, stops on
SIGTERM. Run through ``ip netns exec`` it serves inside that namespace."""

from __future__ import annotations

import functools
import signal
import sys
from dataclasses import replace
from pathlib import Path

from wifi_connect.config import ConnectionLimits
from wifi_connect.daemon import portal_app
from wifi_connect.logs import setup_logging
from wifi_connect.web import PortalSettings
from wifi_connect.web.inprocess import InProcessPortalServer
from wifi_connect.web.server import ForkedPortalServer


def main(host: str, port: str, socket_path: str, *limits: str) -> None:
    setup_logging()
    options = dict(item.split("=", 1) for item in limits)
    kind = options.pop("server", "gunicorn")
    values = {name: type(getattr(ConnectionLimits(), name))(value) for name, value in options.items()}
    settings = PortalSettings(host, int(port))
    server_class = InProcessPortalServer if kind == "in-process" else ForkedPortalServer
    server = server_class("portal web app", functools.partial(portal_app, Path(socket_path), settings),
                          host, int(port), replace(ConnectionLimits(), **values))
    signal.signal(signal.SIGTERM, lambda *_: None)
    server.start()
    print("ready", file=sys.stderr, flush=True)
    try:
        signal.pause()
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
