"""gunicorn settings (``--config python:health_reporter.gunicorn_config``).

gunicorn's gthread worker reads a request from a blocking socket, so a client that sends half a request
and then nothing holds a worker thread forever; ``--threads`` such clients would take /healthz, /metrics
and the dashboard offline. Kernel receive/send timeouts on the listening sockets are inherited by every
accepted connection (gunicorn's ``setblocking(True)`` keeps them): a stalled read fails with EAGAIN after
``HEALTH_CLIENT_TIMEOUT`` seconds and gunicorn closes that connection.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from .config import Config


def socket_timeout(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO / SO_SNDTIMEO."""
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


def when_ready(server: Any) -> None:
    timeout = socket_timeout(Config.from_env().client_timeout_seconds)
    for listener in server.LISTENERS:
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            listener.sock.setsockopt(socket.SOL_SOCKET, option, timeout)
