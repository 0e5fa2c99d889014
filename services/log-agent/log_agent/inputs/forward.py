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
from typing import Any

import msgpack

from ..budget import MemoryBudget
from ..errors import ConfigError, ProtocolError
from ..protocol import Helo, ProtocolLimitError, ack, parse_ping
from ..protocol.handshake import Pong
from .base import EntrySink
from .forward_config import (
    RECV_BYTES,
    ConnectionClosed,
    ForwardInputConfig,
    ForwardStats,
    ThrottledLog,
    close_after_last_reply,
    server_tls_context,
    shutdown,
    wake,
)
from .forward_frames import FrameReader, parse_frame
from .forward_store import FrameStore, Reservation

__all__ = ["ForwardInput", "ForwardInputConfig", "ForwardStats", "ThrottledLog"]

log = logging.getLogger(__name__)

HEARTBEAT = b"\x00"
_STOP_SECONDS = 5.0
# stop(): how long a connection may take to finish the request it is handling (sink call and ack)
_DRAIN_SECONDS = 2.0
_END_OF_READ = b""  # yielded after the frames one recv() completed: where a sink batch ends


class ForwardInput:
    """The Forward server. ``start(sink)`` binds and returns; ``address`` is the bound TCP address."""

    def __init__(self, config: ForwardInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = ForwardStats()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[socket.socket] = []
        # every open connection -> when it opened (stop() shuts them down; none is ever evicted)
        self._connections: dict[socket.socket, float] = {}
        self._log_refusal = ThrottledLog(logging.WARNING)
        self._connections_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._sink: EntrySink | None = None
        self._partial: Any = None  # the DockerPartialSink in front of the core's sink, if enabled
        self._budget = MemoryBudget()  # replaced by the sink's (the agent's one budget) at start
        self._unix_bound = False  # stop() removes the socket file only if this input created it
        self.address: tuple[str, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, sink: EntrySink) -> None:
        """Bind every socket and start serving; on failure nothing is left bound (ConfigError)."""
        self._partial = None
        if self.config.docker_partial:  # Docker's fluentd driver: lines over 16 KiB come in pieces
            from ..processors.partial import DockerPartialConfig, DockerPartialSink

            joining = DockerPartialConfig(max_bytes=self.config.docker_partial_max_bytes,
                                          timeout=self.config.docker_partial_timeout)
            sink = self._partial = DockerPartialSink(sink, joining)
        self._sink = sink
        self._budget = getattr(sink, "budget", None) or self._budget
        self._stopping.clear()  # start() after stop() serves again (configuration reload)
        try:
            self._start_listeners()
        except BaseException:
            self.stop()
            raise

    def _start_listeners(self) -> None:
        self._tls = server_tls_context(self.config)
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
            wake(listener)
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
        if self._partial is not None:
            self._partial.flush()  # lines still waiting for pieces are stored as they are
        if self._unix_bound and self.config.unix_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.unix_path)
            self._unix_bound = False
        self._threads.clear()
        self._listeners.clear()

    def _shutdown_connections(self, how: int) -> None:
        with self._connections_lock:
            for conn in self._connections:
                shutdown(conn, how)

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
        sock.settimeout(None)  # blocking: stop() wakes accept()/recvfrom() (_wake), no polling at idle
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
        sock.settimeout(None)  # blocking: stop() wakes accept()/recvfrom() (_wake), no polling at idle
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
            reservation = Reservation(self._budget)  # what this connection holds in the budget
            messages = self._messages(conn, FrameReader(self.config.max_frame_bytes), reservation)
            if self.config.shared_key:
                self._handshake(conn, messages)
            conn.settimeout(self.config.idle_timeout)
            self._transport(conn, messages, reservation)
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
            close_after_last_reply(conn)

    def _wrap_tls(self, conn: socket.socket) -> ssl.SSLSocket:
        assert self._tls is not None
        try:
            return self._tls.wrap_socket(conn, server_side=True)
        except (OSError, ssl.SSLError) as err:
            raise ConnectionClosed("tls", f"TLS handshake failed: {err}") from err

    def _messages(self, conn: socket.socket, reader: FrameReader,
                  reservation: Reservation) -> Iterator[bytes]:
        """Complete frames from the connection (``_END_OF_READ`` after each read's) until the peer
        closes it or the input stops (then nothing more is read: what was read is still acked)."""
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
                # the buffer twice (the framing unpacker's copy and ours)
                reservation.ensure(2 * (reader.pending_bytes + len(data)))
                try:
                    yield from reader.feed(data)
                    yield _END_OF_READ
                except ProtocolLimitError as err:
                    raise ConnectionClosed("frame_too_large", str(err)) from err
                except ProtocolError as err:
                    raise ConnectionClosed("protocol", str(err)) from err
                reservation.shrink(2 * reader.pending_bytes)
        finally:
            reservation.shrink(0)

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

    def _transport(self, conn: socket.socket, messages: Iterator[bytes], reservation: Reservation) -> None:
        """Store events, one sink call per read and tag (fluent-logger sends one tiny request per
        event), and ack each chunk once everything up to it is durable."""
        pending: list[tuple[str, bytes, int]] = []  # read but not stored yet (no ack asked)
        assert self._sink is not None
        storing = FrameStore(self._sink, reservation, self.stats, self.config.max_decompressed_bytes)
        try:
            for message in messages:
                if message is _END_OF_READ:
                    storing.pending(pending, durable=False)
                    continue
                try:
                    frame = parse_frame(message)
                except ProtocolError as err:
                    raise ConnectionClosed("protocol", str(err)) from err
                if frame is None:  # keep-alive
                    continue
                self.stats.add("requests_total")
                if frame.compressed:
                    storing.pending(pending, durable=False)
                    storing.compressed(frame.tag, frame.entries, durable=frame.chunk is not None)
                else:
                    pending.append((frame.tag, frame.entries, frame.count))
                if frame.chunk is not None:
                    if pending:  # one durable write covers what came before
                        storing.pending(pending, durable=True)
                    self.stats.add("acks_total")  # counted first: a client may act on the ack at once
                    self._send(conn, ack(frame.chunk))
        except ConnectionClosed:
            storing.pending(pending, durable=False, closing=True)  # events before a bad frame are kept
            raise
        storing.pending(pending, durable=False)

    @staticmethod
    def _send(conn: socket.socket, data: bytes) -> None:
        try:
            conn.sendall(data)
        except OSError as err:
            raise ConnectionClosed("io", f"write failed: {err}") from err
