"""gunicorn's settings for the portal, as values (no config file, no environment, no command line):
one hardened gevent worker (``web.worker``), JSON logs on stdout like the daemon's, small request heads."""

from __future__ import annotations

import gc
from collections.abc import Callable

from gunicorn.config import KNOWN_SETTINGS

from .config import ConnectionLimits
from .logs import gunicorn_logging_config
from .web.worker import worker_class

# Newer gunicorn opens a control socket in ~/.gunicorn, one path shared by every instance; we never use it.
HAS_CONTROL_SOCKET = any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS)


def _freeze_before_forking_the_worker(_arbiter: object, _worker: object) -> None:
    gc.freeze()  # the worker's collections then never write to (and so copy) the master's pages


def portal_settings(bind: str, limits: ConnectionLimits, when_ready: Callable[[object], None]) -> dict:
    """gunicorn settings for the portal on ``bind`` (``HOST:PORT``)."""
    settings = {
        "bind": [bind],
        "workers": 1,
        "worker_class": worker_class(limits),
        "worker_connections": limits.max_connections,
        "keepalive": 1,  # >0: gunicorn's keep-alive loop, whose every head read has our head deadline
        "graceful_timeout": 3,
        "timeout": 30,  # the worker's heartbeat: a hub blocked this long is restarted by the master
        "loglevel": "warning",
        "logconfig_dict": gunicorn_logging_config(),
        "accesslog": None,
        "proc_name": "wifi-connect-portal",
        # request heads a phone sends are a few hundred bytes; these bound what a head may cost
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 4096,
        "when_ready": when_ready,
        "pre_fork": _freeze_before_forking_the_worker,
    }
    if HAS_CONTROL_SOCKET:
        settings["control_socket_disable"] = True
    return settings
