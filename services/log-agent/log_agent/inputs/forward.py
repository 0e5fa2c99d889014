"""Fluent Forward protocol v1 server: TCP (optionally TLS), a Unix socket, and the UDP heartbeat.

One thread per connection: the sink blocks until records are fsynced, and acks must wait for it, so a
blocking thread per client is the simplest correct shape. A bad or oversized frame closes only that
connection, with one logged reason and a counter in ``stats``. At ``max_connections`` the newest
client is refused (counted as ``too_many_connections``): a connection in the middle of a frame or
waiting for its ack is never cut for a newcomer, so a flood of connections cannot break an acking
client; idle ones leave after ``idle_timeout``.

Frames stay bytes (forward_frames.py): every mode becomes entry bytes under its tag, checked and
enriched by the core's sink. What a connection holds (a frame being received, a payload being
inflated) is reserved in the agent's one memory budget; a frame that finds no room within a short
wait closes its connection, counted as ``memory_budget`` (the client resends it later).

``stop()`` (SIGHUP reload, SIGTERM) never cuts an ack off: it stops accepting, lets every connection
finish what it already read (the sink call and the ack) within a short grace, and only then closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgpack

from ..budget import MemoryBudget
from ..confparse import PARSE, SectionConfig, parse_duration, parse_listen, parse_size
from ..errors import BudgetExceeded, ConfigError, LogAgentError, ProtocolError, SpoolError
from ..protocol import Helo, Limits, ProtocolLimitError, ack, parse_ping
from ..protocol.handshake import Pong
from ..sink import working_bytes
from .base import EntrySink
from .forward_frames import FrameReader, inflate, parse_frame

log = logging.getLogger(__name__)

RECV_BYTES = 64 * 1024
HEARTBEAT = b"\x00"
_POLL_SECONDS = 1.0  # fallback: how often blocking accept/recvfrom loops notice stop()
_STOP_SECONDS = 5.0
# stop(): how long a connection may take to finish the request it is handling (sink call and ack)
_DRAIN_SECONDS = 2.0
_CLOSE_DRAIN_READS = 16  # bounded: a client that keeps streaming must not hold a closing connection
_END_OF_READ = b""  # yielded after the frames one recv() completed: where a sink batch ends
_BUDGET_WAIT_SECONDS = 2.0  # a frame waits this long for room in the memory budget, then is refused
_FREE_BUFFER_BYTES = 64 * 1024  # per connection, not reserved: small frames never touch the budget
_RESERVE_STEP = 256 * 1024
_PIECE_BYTES = 1024 * 1024  # inflated entries handed to the sink at a time
# what a compressed frame holds: the inflated bytes not handed on yet, the piece cut from them, the
# framing unpacker's buffer, the piece waiting to be stored, and the sink's work on a piece
_INFLATE_RESERVE = 4 * _PIECE_BYTES + working_bytes(_PIECE_BYTES)
_LOG_EVERY_SECONDS = 5.0  # refusals and evictions come in floods: one line per interval, with a count


@dataclass(slots=True)
class ForwardInputConfig(SectionConfig):
    """``listen`` is "host:port" (port 0 picks a free one); ``shared_key`` enables the handshake and
    ``users`` (username -> password) adds user auth on top; ``tls_cert_file``/``tls_key_file`` enable
    TLS on the TCP port, ``tls_client_ca_file`` also requires client certificates (mutual TLS)."""

    SECTION: ClassVar[str] = "forward"
    listen: tuple[str, int] = field(default=("127.0.0.1", 24224), metadata={PARSE: parse_listen})
    unix_path: str | None = None
    unix_mode: str = "0660"
    shared_key: str | None = field(default=None, repr=False)
    users: dict[str, str] = field(default_factory=dict, repr=False)
    self_hostname: str = field(default_factory=socket.gethostname)
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None  # set: clients must present a certificate this CA signed
    heartbeat: bool = True
    max_frame_bytes: int = field(default=8 * 1024 * 1024, metadata={PARSE: parse_size})
    max_decompressed_bytes: int = field(default=32 * 1024 * 1024, metadata={PARSE: parse_size})
    # One thread per connection: 64 keeps a reconnecting burst from costing hundreds of threads
    # (and their stacks and malloc arenas); at the limit the longest-idle connection is closed.
    max_connections: int = 64
    idle_timeout: float = field(default=60.0, metadata={PARSE: parse_duration})
    handshake_timeout: float = field(default=10.0, metadata={PARSE: parse_duration})
    name: str = "forward"

    def validate(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("forward.tls_key_file", "tls_cert_file and tls_key_file go together")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise ConfigError("forward.tls_client_ca_file", "client certificates need TLS (tls_cert_file)")
        if self.users and not self.shared_key:
            raise ConfigError("forward.users", "user auth needs shared_key (it rides on the handshake)")
        if self.shared_key == "":
            raise ConfigError("forward.shared_key", "must not be empty (omit it to disable the handshake)")
        try:
            int(self.unix_mode, 8)
        except ValueError:
            message = f"expected an octal mode such as 0660, got {self.unix_mode!r}"
            raise ConfigError("forward.unix_mode", message) from None
        for key in ("max_frame_bytes", "max_decompressed_bytes", "max_connections"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"forward.{key}", "must be positive")

    @property
    def limits(self) -> Limits:
        return Limits(self.max_frame_bytes, self.max_decompressed_bytes)


class ForwardStats:
    """Counters for metrics; read them without the lock (ints are replaced atomically)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections_total = 0
        self.connections_active = 0
        self.records_total = 0
        self.requests_total = 0
        self.acks_total = 0
        self.heartbeats_total = 0
        self.errors: dict[str, int] = {}

    def add(self, counter: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + amount)

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors[reason] = self.errors.get(reason, 0) + 1


class ThrottledLog:
    """Log a recurring event at most once per ``interval`` seconds, saying how many were folded in."""

    def __init__(self, level: int, interval: float = _LOG_EVERY_SECONDS) -> None:
        self.level = level
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            self._last, suppressed, self._suppressed = now, self._suppressed, 0
        more = f" (and {suppressed} more in the last {self.interval:g} s)" if suppressed else ""
        log.log(self.level, message + more, *args)


class ConnectionClosed(LogAgentError):
    """Closing a connection on purpose; ``reason`` is a short counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _server_tls_context(config: ForwardInputConfig) -> ssl.SSLContext | None:
    if not config.tls_cert_file:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError("forward.tls_cert_file", f"cannot load certificate/key: {err}") from err
    if config.tls_client_ca_file:
        try:
            context.load_verify_locations(cafile=config.tls_client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError("forward.tls_client_ca_file", f"cannot load the CA: {err}") from err
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class ForwardInput:
    """The Forward server. ``start(sink)`` binds and returns; ``address`` is the bound TCP address."""

    def __init__(self, config: ForwardInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = ForwardStats()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[socket.socket] = []
        # every open connection -> when it last received data (monotonic): the limit evicts the oldest
        self._connections: dict[socket.socket, float] = {}
        self._log_refusal = ThrottledLog(logging.WARNING)
        self._connections_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._sink: EntrySink | None = None
        self._budget = MemoryBudget()  # replaced by the sink's (the agent's one budget) at start
        self._unix_bound = False  # stop() removes the socket file only if this input created it
        self.address: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, sink: EntrySink) -> None:
        """Bind every socket and start serving; on failure nothing is left bound (ConfigError)."""
        self._sink = sink
        self._budget = getattr(sink, "budget", None) or self._budget
        self._stopping.clear()  # start() after stop() serves again (configuration reload)
        try:
            self._start_listeners()
        except BaseException:
            self.stop()
            raise

    def _start_listeners(self) -> None:
        self._tls = _server_tls_context(self.config)
        tcp = self._bind(socket.SOCK_STREAM, self.config.listen)
        tcp.listen(128)
        self.address = tcp.getsockname()[:2]
        self._spawn(f"forward-accept {self.address[1]}", self._accept_loop, tcp)
        if self.config.heartbeat:
            udp = self._bind(socket.SOCK_DGRAM, self.address)
            self._spawn(f"forward-heartbeat {self.address[1]}", self._heartbeat_loop, udp)
        if self.config.unix_path:
            self._spawn("forward-accept unix", self._accept_loop, self._bind_unix(self.config.unix_path))
        log.info("forward input listening on %s:%d%s", *self.address, " (TLS)" if self._tls else "")

    def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (sink call and ack) within a short grace,
        then close every connection. A request not completely read yet gets no ack: its client sends
        it again, and as it was never stored, that is no duplicate."""
        self._stopping.set()
        for listener in self._listeners:
            _wake(listener)
        for thread in self._threads:
            thread.join(timeout=_STOP_SECONDS)
        for listener in self._listeners:
            listener.close()  # new clients are refused from here on
        # SHUT_RD wakes connections idle in recv() (they end at once) and leaves the write side open,
        # so a connection in the middle of its sink call can still send the ack.
        self._shutdown_connections(socket.SHUT_RD)
        if not self._connections_ended(_DRAIN_SECONDS):
            self._shutdown_connections(socket.SHUT_RDWR)  # past the grace: those acks are given up
            self._connections_ended(_STOP_SECONDS)
        if self._unix_bound and self.config.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.unix_path)
            self._unix_bound = False
        self._threads.clear()
        self._listeners.clear()

    def _shutdown_connections(self, how: int) -> None:
        with self._connections_lock:
            for conn in self._connections:
                _shutdown(conn, how)

    def _connections_ended(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.stats.connections_active and time.monotonic() < deadline:
            time.sleep(0.01)  # connection threads end once their sink call and ack are done
        return not self.stats.connections_active

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _bind(self, kind: int, address: tuple[str, int]) -> socket.socket:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        sock = socket.socket(family, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            sock.close()
            raise ConfigError("forward.listen", f"cannot bind {address[0]}:{address[1]}: {err}") from err
        sock.settimeout(_POLL_SECONDS)
        self._listeners.append(sock)
        return sock

    def _bind_unix(self, path: str) -> socket.socket:
        if os.path.exists(path) and not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ConfigError("forward.unix_path", f"{path} exists and is not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if os.path.exists(path):
                os.unlink(path)  # a stale socket from a previous run
            sock.bind(path)
            self._unix_bound = True
            os.chmod(path, int(self.config.unix_mode, 8))
        except OSError as err:
            sock.close()
            raise ConfigError("forward.unix_path", f"cannot listen on {path}: {err}") from err
        sock.listen(128)
        sock.settimeout(_POLL_SECONDS)
        self._listeners.append(sock)
        return sock

    # -- loops -------------------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError as err:
                if not self._stopping.is_set():
                    log.error("forward input: accept failed: %s", err)
                return
            if self._stopping.is_set():
                conn.close()
                return
            peer_name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "unix"
            if self.stats.connections_active >= self.config.max_connections:
                self._reject(conn, peer_name, "too_many_connections", "connection limit reached")
                continue
            self._start_connection(conn, peer_name, is_tcp=listener.family != socket.AF_UNIX)

    def _start_connection(self, conn: socket.socket, peer: str, is_tcp: bool) -> None:
        # counted here, not in the thread, so a burst of clients cannot overshoot max_connections
        self.stats.add("connections_total")
        self.stats.add("connections_active")
        with self._connections_lock:
            self._connections[conn] = time.monotonic()
        # not kept in self._threads (that would grow forever); stop() waits on connections_active
        thread = threading.Thread(
            target=self._serve, args=(conn, peer, is_tcp), name=f"forward {peer}", daemon=True
        )
        try:
            thread.start()
        except RuntimeError as err:  # out of threads: refuse this client, keep serving the others
            self.stats.add("connections_active", -1)
            with self._connections_lock:
                self._connections.pop(conn, None)
            self._reject(conn, peer, "no_thread", f"cannot start a thread: {err}")

    def _heartbeat_loop(self, udp: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                data, peer = udp.recvfrom(16)
            except TimeoutError:
                continue
            except OSError:
                return
            if data == HEARTBEAT:  # reply to the spec's payload only, never amplify anything else
                self.stats.add("heartbeats_total")
                try:
                    udp.sendto(HEARTBEAT, peer)
                except OSError as err:
                    log.debug("forward heartbeat reply to %s failed: %s", peer, err)

    # -- one connection ----------------------------------------------------------------------------

    def _reject(self, conn: socket.socket, peer: str, reason: str, detail: str) -> None:
        self.stats.error(reason)
        self._log_refusal("forward input: refusing connection from %s: %s", peer, detail)
        conn.close()

    def _serve(self, raw: socket.socket, peer: str, is_tcp: bool) -> None:
        conn = raw
        try:
            conn.settimeout(self.config.handshake_timeout)
            if self._tls is not None and is_tcp:  # TLS is for the TCP port; the Unix socket is local
                conn = self._wrap_tls(raw)
            messages = self._messages(conn, FrameReader(self.config.max_frame_bytes))
            if self.config.shared_key:
                self._handshake(conn, messages)
            conn.settimeout(self.config.idle_timeout)
            self._transport(conn, messages)
        except ConnectionClosed as closed:
            self.stats.error(closed.reason)
            # an idle client is routine (fluent-logger reconnects on its next emit); the rest is not
            level = logging.INFO if closed.reason == "timeout" else logging.WARNING
            # str(): a log handler that keeps records must not pin the traceback and its buffers
            log.log(level, "forward input: closing connection from %s: %s", peer, str(closed))
        except Exception:  # a bug must cost one connection, never the server
            self.stats.error("internal")
            log.exception("forward input: closing connection from %s after an unexpected error", peer)
        finally:
            with self._connections_lock:
                self._connections.pop(raw, None)
            self.stats.add("connections_active", -1)
            _close_after_last_reply(conn)

    def _wrap_tls(self, conn: socket.socket) -> ssl.SSLSocket:
        assert self._tls is not None
        try:
            return self._tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as err:
            raise ConnectionClosed("tls", f"TLS handshake failed: {err}") from err

    def _messages(self, conn: socket.socket, reader: FrameReader) -> Iterator[bytes]:
        """Complete frames from the connection (``_END_OF_READ`` after each read's) until the peer
        closes it or the input stops (then nothing more is read: what was read is still acked)."""
        held = 0  # bytes of this connection's buffer reserved in the budget
        try:
            while not self._stopping.is_set():
                try:
                    data = conn.recv(RECV_BYTES)
                except TimeoutError as err:
                    raise ConnectionClosed("timeout", "no data before the timeout") from err
                except OSError as err:
                    if self._stopping.is_set():
                        return
                    raise ConnectionClosed("io", f"read failed: {err}") from err
                if not data:
                    if reader.pending_bytes:  # the client died or gave up in the middle of a request
                        detail = f"closed mid-frame ({reader.pending_bytes} bytes discarded)"
                        raise ConnectionClosed("truncated", detail)
                    return
                held = self._reserve(held, reader.pending_bytes + len(data))
                try:
                    yield from reader.feed(data)
                    yield _END_OF_READ
                except ProtocolLimitError as err:
                    raise ConnectionClosed("frame_too_large", str(err)) from err
                except ProtocolError as err:
                    raise ConnectionClosed("protocol", str(err)) from err
                held = self._reserve(held, reader.pending_bytes)
        finally:
            self._budget.release(held)

    def _reserve(self, held: int, buffered: int) -> int:
        """Keep ``buffered`` bytes (twice: the framer's copy and ours) covered in the budget beyond
        the free allowance; returns the new reservation. A frame that cannot get room closes."""
        need = max(0, 2 * buffered - _FREE_BUFFER_BYTES)
        if need <= held:
            if held - need > _RESERVE_STEP:  # shrink once the frame is done
                self._budget.release(held - need)
                return need
            return held
        more = need - held + _RESERVE_STEP
        try:
            self._budget.acquire(more, _BUDGET_WAIT_SECONDS)
        except BudgetExceeded as err:
            raise ConnectionClosed("memory_budget", f"frame refused: {err}") from err
        return held + more

    def _handshake(self, conn: socket.socket, messages: Iterator[Any]) -> None:
        config = self.config
        assert config.shared_key is not None
        # random bytes, as Fluentd sends them: some clients (fluent-logger-node) only use a bin auth salt
        helo = Helo(nonce=os.urandom(16), auth_salt=os.urandom(16) if config.users else "")
        self._send(conn, helo.encode())
        first = next((frame for frame in messages if frame is not _END_OF_READ), None)
        if first is None:
            raise ConnectionClosed("auth", "closed before PING")
        try:
            ping = parse_ping(msgpack.unpackb(first, raw=True, strict_map_key=False))
        except (ValueError, msgpack.UnpackException) as err:
            raise ConnectionClosed("auth", f"bad PING: {err}") from err
        except ProtocolError as err:
            raise ConnectionClosed("auth", f"bad PING: {err}") from err
        reason = ping.verify(helo, config.shared_key, config.users)
        self._send(conn, Pong.create(helo, ping, reason, config.self_hostname, config.shared_key).encode())
        if reason:
            raise ConnectionClosed("auth", f"authentication failed ({reason}) for {ping.hostname!r}")

    def _transport(self, conn: socket.socket, messages: Iterator[bytes]) -> None:
        """Store events, one sink call per read and tag (fluent-logger sends one tiny request per
        event), and ack each chunk once everything up to it is durable."""
        pending: list[tuple[str, bytes, int]] = []  # read but not stored yet (no ack asked)
        try:
            for message in messages:
                if message is _END_OF_READ:
                    self._store_pending(pending, durable=False)
                    continue
                try:
                    frame = parse_frame(message)
                except ProtocolError as err:
                    raise ConnectionClosed("protocol", str(err)) from err
                if frame is None:  # keep-alive
                    continue
                self.stats.add("requests_total")
                if frame.compressed:
                    self._store_pending(pending, durable=False)
                    self._store_compressed(frame.tag, frame.entries, durable=frame.chunk is not None)
                else:
                    pending.append((frame.tag, frame.entries, frame.count))
                if frame.chunk is not None:
                    if pending:  # one durable write covers what came before
                        self._store_pending(pending, durable=True)
                    self.stats.add("acks_total")  # counted first: a client may act on the ack at once
                    self._send(conn, ack(frame.chunk))
        except ConnectionClosed:
            self._store_pending(pending, durable=False, closing=True)  # events before a bad frame are kept
            raise
        self._store_pending(pending, durable=False)

    def _store_pending(self, pending: list[tuple[str, bytes, int]], durable: bool,
                       closing: bool = False) -> None:
        """Store what was read (consecutive requests of one tag as one chunk), then forget it."""
        if not pending:
            if durable:
                self._store("", b"", 0, durable=True)
            return
        groups: list[tuple[str, list[bytes], int]] = []
        for tag, entries, count in pending:
            if groups and groups[-1][0] == tag and count >= 0 and groups[-1][2] >= 0:
                groups[-1][1].append(entries)
                groups[-1] = (tag, groups[-1][1], groups[-1][2] + count)
            else:
                groups.append((tag, [entries], count))
        pending.clear()
        for index, (tag, parts, count) in enumerate(groups):
            last = index == len(groups) - 1
            try:
                self._store(tag, b"".join(parts), count, durable=durable and last)
            except ConnectionClosed:
                if not closing:
                    raise

    def _store_compressed(self, tag: str, payload: bytes, durable: bool) -> None:
        """Inflate in steps, each piece stored as it comes: memory stays a piece, not the payload.

        One reservation covers the whole frame (inflating and the sink's work on each piece): a
        connection never holds part of the budget while it waits for more."""
        try:
            self._budget.acquire(_INFLATE_RESERVE, _BUDGET_WAIT_SECONDS)
        except BudgetExceeded as err:
            raise ConnectionClosed("memory_budget", f"compressed frame refused: {err}") from err
        previous: tuple[bytes, int] | None = None  # one piece behind: the last one is the durable one
        try:
            for piece in inflate(payload, self.config.max_decompressed_bytes, _PIECE_BYTES):
                if previous is not None:
                    self._store(tag, *previous, durable=False, reserved=True)
                previous = piece
            self._store(tag, *(previous or (b"", 0)), durable=durable, reserved=True)
        except ProtocolLimitError as err:
            raise ConnectionClosed("decompressed_too_large", str(err)) from err
        except ProtocolError as err:
            raise ConnectionClosed("protocol", str(err)) from err
        finally:
            self._budget.release(_INFLATE_RESERVE)

    def _store(self, tag: str, entries: bytes, count: int, durable: bool, reserved: bool = False) -> None:
        """Hand entries to the sink (an empty call with ``durable`` only syncs what came before);
        waits up to _BUDGET_WAIT_SECONDS while the memory budget is in use."""
        assert self._sink is not None
        deadline = time.monotonic() + _BUDGET_WAIT_SECONDS
        while True:
            try:
                stored = self._sink(tag, entries, count, durable=durable, reserved=reserved)
                self.stats.add("records_total", stored if isinstance(stored, int) else max(count, 0))
                return
            except BudgetExceeded as err:
                if time.monotonic() >= deadline or self._stopping.is_set():
                    detail = f"records not stored, no ack sent: {err}"
                    raise ConnectionClosed("memory_budget", detail) from err
                time.sleep(0.05)
            except SpoolError as err:
                # no ack: the client keeps the chunk and resends it after reconnecting
                raise ConnectionClosed("spool", f"records not stored, no ack sent: {err}") from err
            except ProtocolError as err:
                raise ConnectionClosed("protocol", str(err)) from err

    @staticmethod
    def _send(conn: socket.socket, data: bytes) -> None:
        try:
            conn.sendall(data)
        except OSError as err:
            raise ConnectionClosed("io", f"write failed: {err}") from err


def _wake(listener: socket.socket) -> None:
    """Make a blocked accept()/recvfrom() return now rather than at its next poll timeout."""
    with contextlib.suppress(OSError):
        if listener.type == socket.SOCK_DGRAM:  # shutdown() does not wake an unconnected UDP socket
            listener.sendto(b"", listener.getsockname())
        elif listener.family == socket.AF_UNIX:  # nor a listening Unix socket: knock instead
            with socket.socket(socket.AF_UNIX) as knock:
                knock.connect(listener.getsockname())
        else:
            _shutdown(listener)


def _shutdown(conn: socket.socket, how: int = socket.SHUT_RDWR) -> None:
    """Wake a thread blocked in recv()/accept() on this socket (close() alone does not)."""
    with contextlib.suppress(OSError):
        conn.shutdown(how)


def _close_after_last_reply(conn: socket.socket) -> None:
    """Close so the last ack still arrives: FIN after it, and unread bytes discarded first, because
    close() with unread bytes makes Linux reset the connection and drop what it had not sent yet."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
        conn.setblocking(False)
        for _ in range(_CLOSE_DRAIN_READS):
            if not conn.recv(RECV_BYTES):
                break
    conn.close()
