"""gunicorn settings for both web apps (``gunicorn -c python:wifi_connect.gunicorn_config``, as the daemon
runs them): gunicorn's messages and the workers' logs become JSON lines on stdout like the daemon's,
instead of gunicorn's plain text on stderr; and a client that stops sending mid-request is dropped."""

from __future__ import annotations

import os
import socket
import struct

from .logs import gunicorn_logging_config

# gthread reads a request with a blocking socket: a phone that sends half a request and goes quiet would
# hold a worker thread forever (8 of them take the portal offline). Kernel timeouts set on the listening
# sockets are inherited by accepted ones and survive gunicorn's setblocking(True): a stalled recv fails
# with EAGAIN after this many seconds and gunicorn closes that connection.
CLIENT_TIMEOUT_ENV = "WIFI_CONNECT_CLIENT_TIMEOUT"
DEFAULT_CLIENT_TIMEOUT = 10

logconfig_dict = gunicorn_logging_config()


def client_timeout() -> int:
    text = os.environ.get(CLIENT_TIMEOUT_ENV) or str(DEFAULT_CLIENT_TIMEOUT)
    try:
        return max(1, int(text))
    except ValueError as err:
        raise ValueError(f"{CLIENT_TIMEOUT_ENV}: not a whole number of seconds: {text!r}") from err


def when_ready(server) -> None:  # server: gunicorn's Arbiter
    timeout = struct.pack("ll", client_timeout(), 0)
    for listener in server.LISTENERS:
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            listener.sock.setsockopt(socket.SOL_SOCKET, option, timeout)
