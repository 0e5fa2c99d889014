"""Forward output: PackedForward batches over one persistent connection, acked by ``chunk``.

The spooled chunks are sent as they are: one PackedForward frame per tag (the entry bytes, gzipped
when configured), built with two concatenations; no record is decoded or re-encoded.

At-least-once: a batch counts as delivered only when every chunk it was sent as is acked; a timeout,
a closed connection or a refused handshake returns RETRY and drops the connection, so the pipeline
sends the same batch again on a fresh one (duplicates are possible, loss is not). ``send`` is driven
by one pipeline thread; ``healthcheck`` may run concurrently from the HTTP thread.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import msgpack

from ..confparse import PARSE, dataclass_from_dict, parse_duration
from ..errors import ConfigError, ProtocolError
from ..models import Chunk, Outcome, Record, SendResult
from ..protocol import Ping, new_chunk_id, packed_forward_frame, parse_helo, parse_pong
from ..protocol.entries import chunks_from_records

log = logging.getLogger(__name__)

DEFAULT_PORT = 24224
RECV_BYTES = 64 * 1024
_GZIP_LEVEL = 1  # fastest: a relay's CPU matters more than a few percent of bandwidth
_MAX_RESPONSE_BYTES = 1024 * 1024  # acks and PONGs are tiny; anything bigger is not a Forward server
_SCHEMES = {"forward": False, "forwards": True}  # scheme -> TLS


@dataclass(slots=True)
class ForwardOutputConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    tls: bool = False
    tls_ca_file: str | None = None
    tls_insecure: bool = False  # accept any server certificate (testing only)
    tls_cert_file: str | None = None  # client certificate, for servers that require one (mutual TLS)
    tls_key_file: str | None = None
    shared_key: str | None = field(default=None, repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    self_hostname: str = field(default_factory=socket.gethostname)
    gzip: bool = False
    require_ack: bool = True
    ack_timeout: float = field(default=30.0, metadata={PARSE: parse_duration})
    connect_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})
    name: str = "forward"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        config = dataclass_from_dict(cls, data, "forward")
        if not 0 < config.port < 65536:
            raise ConfigError("forward.port", f"must be 1-65535, got {config.port}")
        if config.password and not config.username:
            raise ConfigError("forward.password", "needs a username")
        for key in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
            path = getattr(config, key)
            if path and not os.path.isfile(path):
                raise ConfigError(f"forward.{key}", f"no such file: {path}")
        if bool(config.tls_cert_file) != bool(config.tls_key_file):
            raise ConfigError("forward.tls_key_file", "tls_cert_file and tls_key_file go together")
        if config.shared_key == "":
            raise ConfigError("forward.shared_key", "must not be empty (omit it to skip the handshake)")
        return config

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``forward[s]://[user:password@]host[:port][?shared_key=..&gzip=true&tls_ca_file=..]``.

        Error messages never echo the URL: it may carry the shared key or the password.
        """
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES:
            raise ConfigError("forward.url", f"scheme must be forward or forwards, got {parts.scheme!r}")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise ConfigError("forward.port", "the URL's port is not a number 1-65535") from None
        if not parts.hostname:
            raise ConfigError("forward.host", "the URL names no host")
        data: dict[str, Any] = {"host": parts.hostname, "port": port, "tls": _SCHEMES[parts.scheme]}
        if parts.username or parts.password:
            data["username"] = unquote(parts.username or "")
            data["password"] = unquote(parts.password or "")
        for key, values in parse_qs(parts.query, keep_blank_values=True).items():
            if key in data or len(values) != 1:
                raise ConfigError(f"forward.{key}", "given more than once in the URL")
            data[key] = values[0]
        return cls.from_dict(data)


class ForwardOutput:
    def __init__(self, config: ForwardOutputConfig) -> None:
        self.config = config
        self.name = config.name
        self._conn: socket.socket | None = None
        self._unpacker: msgpack.Unpacker | None = None
        self._lock = threading.Lock()  # one user of the connection at a time
        self.last_ack_seconds: float | None = None  # send -> last ack of the last delivered batch

    def __repr__(self) -> str:
        return f"ForwardOutput({self.name!r}, {self.config.host}:{self.config.port})"

    # -- Output ------------------------------------------------------------------------------------

    def send(self, records: list[Record]) -> SendResult:
        """Python records (tests, tools): packed into chunks first."""
        try:
            chunks = chunks_from_records(records)
        except (TypeError, ValueError, OverflowError, struct.error) as err:
            # msgpack cannot carry it (a time before 1970, an int over 64 bits): sending again won't help
            return SendResult(Outcome.REJECTED, f"cannot encode the batch: {err}")
        return self.send_chunks(chunks)

    def send_chunks(self, chunks: list[Chunk]) -> SendResult:
        if not chunks:
            return SendResult(Outcome.DELIVERED)
        with self._lock:
            return self._send(chunks)

    def _send(self, chunks: list[Chunk]) -> SendResult:
        frames = self._frames(chunks)
        count = sum(chunk.count for chunk in chunks)
        started = time.monotonic()
        deadline = started + self.config.ack_timeout
        try:
            conn = self._connection()
            conn.settimeout(max(deadline - time.monotonic(), 0.001))  # writing counts against the deadline
            for _, frame in frames:
                conn.sendall(frame)
            if self.config.require_ack:
                self._await_acks(conn, {chunk for chunk, _ in frames if chunk is not None}, deadline)
        except (OSError, ProtocolError) as err:  # ssl.SSLError and TimeoutError are OSErrors
            self._disconnect()
            reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.warning("forward output %s: batch of %d not delivered: %s", self.name, count, reason)
            return SendResult(Outcome.RETRY, reason)
        self.last_ack_seconds = time.monotonic() - started
        return SendResult(Outcome.DELIVERED)

    def healthcheck(self) -> bool:
        """Connect (and authenticate) if not connected. While a send holds the connection, the
        answer is "connected" rather than waiting up to ack_timeout."""
        if not self._lock.acquire(blocking=False):
            return self._conn is not None
        try:
            self._connection()
        except (OSError, ProtocolError) as err:
            log.debug("forward output %s: health check failed: %s", self.name, err)
            self._disconnect()
            return False
        finally:
            self._lock.release()
        return True

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._unpacker = None

    # -- internals ---------------------------------------------------------------------------------

    def _frames(self, chunks: list[Chunk]) -> list[tuple[str | None, bytes]]:
        """One PackedForward per tag (the mode carries one tag), in first-seen order."""
        by_tag: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_tag.setdefault(chunk.tag, []).append(chunk)
        frames = []
        for tag, same_tag in by_tag.items():
            # without require_ack no chunk is sent: the server must not answer what nobody reads
            chunk_id = new_chunk_id() if self.config.require_ack else None
            entries = b"".join(chunk.entries for chunk in same_tag)
            count = sum(chunk.count for chunk in same_tag)
            frames.append((chunk_id, packed_forward_frame(tag, entries, count, chunk_id, self.config.gzip,
                                                          _GZIP_LEVEL)))
        return frames

    def _connection(self) -> socket.socket:
        if self._conn is not None and not _peer_spoke(self._conn):
            return self._conn
        self._disconnect()  # a server that speaks unasked has closed the connection (or is confused)
        config = self.config
        conn: socket.socket = socket.create_connection((config.host, config.port), config.connect_timeout)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if config.tls:
                conn = self._tls_context().wrap_socket(conn, server_hostname=config.host)
            self._conn, self._unpacker = conn, _response_unpacker()
            if config.shared_key:
                self._handshake(conn, time.monotonic() + config.connect_timeout)
        except (OSError, ProtocolError):
            conn.close()
            self._conn = None
            raise
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.tls_ca_file)
        if self.config.tls_insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.config.tls_cert_file:
            context.load_cert_chain(self.config.tls_cert_file, self.config.tls_key_file)
        return context

    def _handshake(self, conn: socket.socket, deadline: float) -> None:
        config = self.config
        assert config.shared_key is not None
        helo = parse_helo(self._read_message(conn, deadline))
        ping = Ping.create(helo, config.self_hostname, config.shared_key, config.username, config.password)
        conn.sendall(ping.encode())
        parse_pong(self._read_message(conn, deadline)).verify(helo, ping, config.shared_key)

    def _await_acks(self, conn: socket.socket, chunks: set[str], deadline: float) -> None:
        while chunks:
            response = self._read_message(conn, deadline)
            if isinstance(response, list) and response[:1] == ["HELO"]:
                raise ProtocolError("the server requires the shared_key handshake; set shared_key")
            acked = response.get("ack") if isinstance(response, dict) else None
            if acked not in chunks:
                raise ProtocolError(f"unexpected response instead of an ack: {str(response)[:80]}")
            chunks.discard(acked)

    def _read_message(self, conn: socket.socket, deadline: float) -> Any:
        assert self._unpacker is not None
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                pass
            except (ValueError, msgpack.UnpackException) as err:
                raise ProtocolError(f"invalid response from the server: {err}") from err
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no response from the server before the ack timeout")
            conn.settimeout(remaining)
            data = conn.recv(RECV_BYTES)
            if not data:
                raise ConnectionResetError("the server closed the connection")
            try:
                self._unpacker.feed(data)
            except msgpack.BufferFull as err:
                raise ProtocolError("oversized response from the server") from err


def _response_unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(raw=False, max_buffer_size=_MAX_RESPONSE_BYTES)


def _peer_spoke(conn: socket.socket) -> bool:
    """True when the idle connection has EOF (the server closed it) or unsolicited data.

    A non-blocking read rather than select(): TLS 1.3 session tickets make the raw socket readable
    without any application data.
    """
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    conn.setblocking(False)
    try:
        conn.recv(1)  # b"" (EOF) or a stray byte: either way this connection is done
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        pass
    finally:
        conn.setblocking(True)
    return True
