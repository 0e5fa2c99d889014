"""Helpers of sidecar_common's HTTP tests: a tiny bottle app and raw-socket clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import bottle
from sidecar_common.http import HttpServer


def make_app() -> bottle.Bottle:
    app = bottle.Bottle()

    @app.get("/")
    def index() -> str:
        return "ok"

    @app.post("/echo")
    def echo() -> bytes:
        return bottle.request.body.read()

    @app.get("/big/<size:int>")
    def big(size: int) -> bytes:
        return b"x" * size

    return app


def url(server: HttpServer, path: str = "/") -> str:
    host, port = server.address
    return f"http://{host}:{port}{path}"


def connect(server: HttpServer) -> socket.socket:
    return socket.create_connection(server.address, timeout=5)


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def read_until_closed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data
