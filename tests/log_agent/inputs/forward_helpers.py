"""Helpers the Forward input tests share: a sink a test can hold or fail, a running server, replies."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
from log_agent.errors import SpoolError
from log_agent.inputs.base import RecordSink
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig
from log_agent.models import Record


class RecordingSink:
    """Keeps what it is given; ``gate`` (set by default) lets a test hold the sink, like a slow fsync."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.durable: list[bool] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self, records: list[Record], durable: bool) -> None:
        self.entered.set()
        if not self.gate.wait(10):
            raise SpoolError("test gate never opened")
        if self.fail:
            raise SpoolError("disk full (test)")
        with self._lock:
            self.records.extend(records)
            self.durable.append(durable)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.records


@contextlib.contextmanager
def forward_input(sink: RecordSink, **settings: Any) -> Iterator[ForwardInput]:
    server = ForwardInput(ForwardInputConfig.from_dict({"listen": "127.0.0.1:0", **settings}))
    server.start(sink)
    try:
        yield server
    finally:
        server.stop()


def read_reply(conn: socket.socket, timeout: float = 5.0) -> Any:
    """The next msgpack value from the server, or None when it closed the connection."""
    conn.settimeout(timeout)
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=64 * 1024)  # small: the fuzz test counts memory
    while True:
        for value in unpacker:
            return value
        try:
            data = conn.recv(65536)
        except ConnectionResetError:
            return None  # closed with unread data in the server's buffer
        if not data:
            return None
        unpacker.feed(data)
