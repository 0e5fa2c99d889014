"""Helpers the Forward input tests share: a sink a test can hold or fail, a running server, replies."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
from log_agent.budget import MemoryBudget
from log_agent.errors import SpoolError
from log_agent.inputs.base import EntrySink
from log_agent.inputs.forward import ForwardInput, ForwardInputConfig
from log_agent.models import Chunk, Record
from log_agent.protocol.entries import decode_chunk
from log_agent.protocol.walk import walk


class RecordingSink:
    """Keeps what it is given (checked as the core's sink checks it, decoded to Records); ``gate``
    (set by default) lets a test hold the sink, like a slow fsync."""

    def __init__(self, budget: MemoryBudget | None = None) -> None:
        self.budget = budget or MemoryBudget()
        self.records: list[Record] = []
        self.durable: list[bool] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False
        self._lock = threading.Lock()

    def __call__(self, tag: str, entries: bytes, count: int, *, durable: bool, reserved: bool = False) -> int:
        self.entered.set()
        if not self.gate.wait(10):
            raise SpoolError("test gate never opened")
        if self.fail:
            raise SpoolError("disk full (test)")
        records: list[Record] = []
        for piece, stored in walk(entries, count, None, 1 << 20):  # ProtocolError like the core's
            records += decode_chunk(Chunk(tag, piece, stored)).records
        with self._lock:
            self.records.extend(records)
            if entries or durable:  # an empty durable call syncs what came before
                self.durable.append(durable)
        return len(records)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.records


@contextlib.contextmanager
def forward_input(sink: EntrySink, **settings: Any) -> Iterator[ForwardInput]:
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
