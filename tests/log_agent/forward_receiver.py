"""A strict Fluent Forward v1 receiver for tests (thread per connection, port 0).

Written independently of ``log_agent.protocol`` on purpose: it checks what an output puts on the wire
against the spec (tag is str, CompressedPackedForward is bin, option.size matches, chunk is base64 of
128 bits, EventTime is ext 0 with 8 bytes and nanoseconds < 1e9, record keys are str) so a codec bug
cannot hide behind the same codec on both ends. A violation is recorded in ``violations`` and closes
the connection. The receiver can be stopped and restarted on the same port, slowed (``ack_delay``),
told to drop acks (``drop_acks``), and can require the shared_key handshake (or forge its PONG with
``pong_key``) or TLS.

    with ForwardReceiver() as receiver:
        ...send to ("127.0.0.1", receiver.port)...
        receiver.wait_for_events(10)
        assert receiver.violations == []
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import hashlib
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

_NS = 1_000_000_000


@dataclass(frozen=True)
class ReceivedEvent:
    tag: str
    time_ns: int
    record: dict[str, Any]


def make_self_signed_cert(directory: Path, host: str = "localhost") -> tuple[str, str]:
    """A throwaway certificate/key for ``host`` (also valid for 127.0.0.1), made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", f"/CN={host}", "-keyout", str(key), "-out", str(cert),
         "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return str(cert), str(key)


class Violation(Exception):
    """The peer broke the spec; the message says how."""


def sha512_hex(*parts: str) -> str:
    return hashlib.sha512("".join(parts).encode()).hexdigest()


def _check_time(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value * _NS
    if isinstance(value, msgpack.ExtType) and value.code == 0 and len(value.data) == 8:
        seconds, nanos = struct.unpack(">II", value.data)
        if nanos < _NS:
            return seconds * _NS + nanos
    raise Violation(f"time must be a non-negative int or EventTime ext 0/8 bytes, got {value!r}")


def _check_record(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise Violation(f"record must be a map with str keys, got {value!r:.80}")
    return value


def _check_entry(entry: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(entry, list) or len(entry) != 2:
        raise Violation(f"entry must be [time, record], got {entry!r:.80}")
    return _check_time(entry[0]), _check_record(entry[1])


def _check_option(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Violation(f"option must be a map, got {value!r:.80}")
    chunk = value.get("chunk")
    if chunk is not None:
        try:
            valid = isinstance(chunk, str) and len(base64.b64decode(chunk, validate=True)) == 16
        except binascii.Error:
            valid = False
        if not valid:
            raise Violation(f"option.chunk must be base64 of 128 bits, got {chunk!r}")
    if "size" in value and (not isinstance(value["size"], int) or value["size"] < 0):
        raise Violation(f"option.size must be a non-negative int, got {value['size']!r}")
    if "compressed" in value and value["compressed"] not in ("gzip", "text"):
        raise Violation(f"option.compressed must be 'gzip', got {value['compressed']!r}")
    return value


def _packed_entries(stream: bytes | str, option: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    if option.get("compressed") == "gzip":
        if not isinstance(stream, bytes):
            raise Violation("CompressedPackedForward entries must be bin, got str")
        stream = gzip.decompress(stream)
    elif isinstance(stream, str):
        stream = stream.encode("utf-8", "surrogateescape")  # legal (Fluentd sends str), if odd
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(stream)
    entries, end = [], 0
    for entry in unpacker:
        entries.append(_check_entry(entry))
        end = unpacker.tell()  # tell() would also count a trailing partial entry
    if end != len(stream):
        raise Violation("packed event stream ends mid-entry")
    return entries


def parse_frame(frame: Any) -> tuple[str, list[tuple[int, dict[str, Any]]], dict[str, Any]]:
    """Check one request strictly; return (tag, entries, option)."""
    if not isinstance(frame, list) or not 2 <= len(frame) <= 4:
        raise Violation(f"request must be an array of 2-4 elements, got {frame!r:.80}")
    tag, second, *rest = frame
    if not isinstance(tag, str) or not tag:
        raise Violation(f"tag must be a non-empty str, got {tag!r:.80}")
    if isinstance(second, list):  # Forward
        option = _check_option(rest[0]) if rest else {}
        entries = [_check_entry(entry) for entry in second]
    elif isinstance(second, bytes | str):  # PackedForward / CompressedPackedForward
        option = _check_option(rest[0]) if rest else {}
        entries = _packed_entries(second, option)
    else:  # Message
        if not rest:
            raise Violation("Message needs [tag, time, record]")
        option = _check_option(rest[1]) if len(rest) > 1 else {}
        entries = [(_check_time(second), _check_record(rest[0]))]
    if "size" in option and option["size"] != len(entries):
        raise Violation(f"option.size {option['size']} != {len(entries)} entries")
    return tag, entries, option


class ForwardReceiver:
    def __init__(
        self,
        *,
        shared_key: str | None = None,
        hostname: str = "test-receiver",
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.shared_key = shared_key
        self.hostname = hostname
        self.port = 0
        self.ack_delay = 0.0
        self.drop_acks = False
        self.pong_key: str | None = None  # set to forge the PONG digest (an impostor server)
        self.events: list[ReceivedEvent] = []
        self.options: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.auth_failures = 0
        self.connections = 0  # accepted so far: tells whether a client reused its connection
        self._tls = None
        if tls_cert:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(tls_cert, tls_key)
        self._lock = threading.Condition()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ForwardReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def start(self) -> ForwardReceiver:
        """Listen (again) on ``self.port``; the first start picks a free port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        """Close the listener and every connection (clients see resets), keep what was received."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def wait_for_events(self, count: int, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda: len(self.events) >= count, timeout)

    def wait_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Wait for a condition on what was received (events, violations, auth failures)."""
        with self._lock:
            return self._lock.wait_for(predicate, timeout)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event.record for event in self.events]

    # -- internals ---------------------------------------------------------------------------------

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
                self.connections += 1
            self._spawn(self._serve, conn)

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            conn.settimeout(10)
            if self._tls is not None:
                conn = self._tls.wrap_socket(raw, server_side=True)
            unpacker = msgpack.Unpacker(raw=False)
            messages = self._messages(conn, unpacker)
            if self.shared_key is not None and not self._handshake(conn, messages):
                return
            for frame in messages:
                if frame is not None:  # nil is a legal keep-alive
                    self._accept(conn, frame)
        except Violation as violation:
            with self._lock:
                self.violations.append(str(violation))
                self._lock.notify_all()
        except (OSError, ValueError, msgpack.UnpackException):
            pass  # a reset or a stop(); tests look at what arrived
        finally:
            with self._lock:
                self._conns.discard(raw)
            conn.close()

    @staticmethod
    def _messages(conn: socket.socket, unpacker: msgpack.Unpacker) -> Any:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            unpacker.feed(data)
            yield from unpacker

    def _handshake(self, conn: socket.socket, messages: Any) -> bool:
        assert self.shared_key is not None
        nonce = os.urandom(16).hex()
        conn.sendall(msgpack.packb(["HELO", {"nonce": nonce, "auth": "", "keepalive": True}]))
        ping = next(messages, None)
        if not (isinstance(ping, list) and len(ping) == 6 and ping[0] == "PING"):
            raise Violation(f"expected PING with 6 elements, got {ping!r:.80}")
        _, client_host, salt, key_digest, _user, _password_digest = ping
        if key_digest != sha512_hex(salt, client_host, nonce, self.shared_key):
            with self._lock:
                self.auth_failures += 1
                self._lock.notify_all()
            conn.sendall(msgpack.packb(["PONG", False, "shared_key mismatch", self.hostname, ""]))
            return False
        pong_digest = sha512_hex(salt, self.hostname, nonce, self.pong_key or self.shared_key)
        conn.sendall(msgpack.packb(["PONG", True, "", self.hostname, pong_digest]))
        return True

    def _accept(self, conn: socket.socket, frame: Any) -> None:
        tag, entries, option = parse_frame(frame)
        with self._lock:
            self.events.extend(ReceivedEvent(tag, time_ns, record) for time_ns, record in entries)
            self.options.append(option)
            self._lock.notify_all()
        if "chunk" in option and not self.drop_acks:
            if self.ack_delay:
                time.sleep(self.ack_delay)
            conn.sendall(msgpack.packb({"ack": option["chunk"]}))
