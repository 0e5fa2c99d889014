"""gunicorn's settings for the portal, as values (no config file, no environment, no command line):
one hardened threaded worker (``web.worker``) with the daemon as its arbiter (``web.server``), JSON logs on
stdout like the daemon's, small request heads."""

from __future__ import annotations

import os
from collections.abc import Callable

from gunicorn.config import KNOWN_SETTINGS

from .config import ConnectionLimits
from .logs import gunicorn_logging_config
from .web.server import BACKLOG, HEARTBEAT_DIRECTORY, HEARTBEAT_TIMEOUT
from .web.worker import worker_class

PORTAL_THREADS = 4  # requests running the app at once (a rescan holds one for seconds); the rest wait
# Newer gunicorn opens a control socket in ~/.gunicorn, one path shared by every instance; we never use it.
HAS_CONTROL_SOCKET = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def portal_settings(limits: ConnectionLimits, post_worker_init: Callable[[object], None]) -> dict:
    """gunicorn settings for the portal's worker (the daemon binds the socket and is the arbiter)."""
    settings = {
        "workers": 1,
        "worker_class": worker_class(limits),
        "worker_connections": limits.max_connections,
        "backlog": BACKLOG,  # gunicorn listens again on the daemon's socket with this
        "threads": PORTAL_THREADS,
        "keepalive": 0,  # one request per connection: a connection only waits for its request (bounded)
        "http_protocols": "h1",  # what web.arrival reads; gunicorn's default too, said here on purpose
        "graceful_timeout": 3,
        "timeout": HEARTBEAT_TIMEOUT,  # the daemon kills a worker whose event loop is stuck this long
        "loglevel": "warning",
        "logconfig_dict": gunicorn_logging_config(),
        "accesslog": None,
        "proc_name": "wifi-connect-portal",
        # request heads a phone sends are a few hundred bytes; these bound what a head may cost
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 4096,
        "post_worker_init": post_worker_init,
    }
    if os.path.isdir(HEARTBEAT_DIRECTORY):  # gunicorn's own heartbeat file, which we swap for the daemon's
        settings["worker_tmp_dir"] = HEARTBEAT_DIRECTORY
    if HAS_CONTROL_SOCKET:
        settings["control_socket_disable"] = True
    return settings
