"""gunicorn's threaded worker, hardened for the open setup AP: slow, idle and flooding clients cannot starve
it.

gunicorn's ``gthread`` worker hands each new connection to a thread, which then waits for the request
head; twelve clients trickling a header byte every few seconds hold every thread (issue 7 measured it).
``PortalWorker`` keeps gunicorn's event loop, thread pool, parser and WSGI handling, and changes what
happens before a thread is involved: the event loop itself reads each connection, without blocking,
until the whole request (head and body) is buffered (``web.arrival``); only then does a thread run the
app, reading the request from memory. So:

- a **head deadline**: a connection must deliver its whole request head within ``head_timeout`` seconds
  of being accepted, or it is closed: idle connections and heads trickled a byte at a time;
- a **body deadline** and **size limit**: the body must arrive within ``body_timeout`` seconds of the head
  (else **408**) and be at most ``max_body_bytes`` (else **413**, also for a chunked body growing past it);
  heads over ``MAX_HEAD_BYTES`` get **431**;
- a **per-client-address limit**: a client address may hold ``max_per_client`` connections; more are
  closed at once (a person's phone needs a handful);
- a **total cap**: ``worker_connections``; beyond it, new connections wait in the listen backlog until one
  of the above frees a slot;
- **no keep-alive**: each connection carries one request, so a connection is only ever waiting for its
  request (bounded above) or being answered by a thread; a page is three requests on the local WiFi.

Why not the gevent worker (what this replaced): gevent and its monkey-patching cost the forked worker
about 12 MiB of private memory, a third of the service's budget while the portal is up.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import time
from collections import Counter
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

from ..config import ConnectionLimits
from .arrival import Progress, RequestArrival

MAX_HEAD_BYTES = 16 * 1024  # a phone's request head is a few hundred bytes
RECV_BYTES = 16 * 1024
SEND_TIMEOUT = 10.0  # a thread writing an answer to a client that stopped reading gives up after this
REFUSAL_LOG_INTERVAL = 60.0
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REASONS = {408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large"}


class PrefilledSocket:
    """The client's socket, with the request the event loop buffered served first to gunicorn's parser.

    Every other use (sending the answer, closing) goes to the real socket; blocking mode becomes a send
    timeout, so a thread is never held for ever by a client that does not read."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock = sock
        self._data = memoryview(data)

    def recv(self, size: int) -> bytes:
        if self._data:
            taken, self._data = self._data[:size], self._data[size:]
            return bytes(taken)
        return self._sock.recv(size)

    def setblocking(self, flag: bool) -> None:
        self._sock.settimeout(SEND_TIMEOUT if flag else 0.0)

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


class Arriving:
    """A connection whose request is still arriving: its buffer and its deadline."""

    __slots__ = ("conn", "deadline", "request")

    def __init__(self, conn: TConn, request: RequestArrival, deadline: float) -> None:
        self.conn, self.request, self.deadline = conn, request, deadline


class PortalWorker(ThreadWorker):
    """gunicorn's gthread worker with ``ConnectionLimits``; ``worker_class(limits)`` binds the limits."""

    limits = ConnectionLimits()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.open_per_client: Counter[str] = Counter()
        self.arriving: dict[socket.socket, Arriving] = {}
        self.refused_per_client = 0  # since the last log line
        self._refusals_logged_at = 0.0

    # -- accepting --------------------------------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except (BlockingIOError, ConnectionAbortedError, InterruptedError):
            return
        peer = _peer(address)
        if self.open_per_client[peer] >= self.limits.max_per_client:
            util.close(client)
            self._count_refusal()
            return
        self.open_per_client[peer] += 1
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking from here
        arriving = Arriving(conn, RequestArrival.new(MAX_HEAD_BYTES, self.limits.max_body_bytes),
                            time.monotonic() + self.limits.head_timeout)
        self.arriving[client] = arriving
        self.poller.register(client, selectors.EVENT_READ, partial(self._read_request, arriving))

    def _read_request(self, arriving: Arriving, client: socket.socket) -> None:
        """In the event loop: take what arrived; hand a whole request to a thread, or refuse it."""
        try:
            chunk = client.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(arriving)
            return
        request = arriving.request
        head_was_complete = request.head_complete
        progress = request.feed(chunk)
        if request.head_complete and not head_was_complete:
            arriving.deadline = time.monotonic() + self.limits.body_timeout
            if request.expects_continue and progress is Progress.MORE:
                with contextlib.suppress(OSError):
                    client.send(CONTINUE)
        if progress is Progress.MORE:
            return
        if progress is Progress.COMPLETE:
            self._stop_watching(arriving)
            arriving.conn.sock = PrefilledSocket(client, request.as_plain_request())
            arriving.conn.data_ready = True  # gthread's handle() then reads at once
            self.enqueue_req(arriving.conn)
            return
        limit = self.limits.max_body_bytes
        if progress is Progress.TOO_LARGE_BODY:
            self._refuse(arriving, 413, f"the request body is larger than {limit} bytes")
        else:
            self._refuse(arriving, 431, f"the request head is larger than {MAX_HEAD_BYTES} bytes")

    # -- deadlines and endings -------------------------------------------------------------------------

    def murder_pending(self) -> None:
        """gthread calls this from its event loop about once a second: close requests past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        for arriving in [a for a in self.arriving.values() if a.deadline <= now]:
            if arriving.request.head_complete:  # the head came, the body did not
                self._refuse(arriving, 408, f"the request body did not arrive within "
                                            f"{self.limits.body_timeout:g} s")
            else:
                self._drop(arriving)

    def finish_request(self, conn: TConn, _done: object) -> None:
        """A thread answered (there is no keep-alive, and nothing is ever deferred): close at once.

        gunicorn would linger here, in the event loop, up to 2 s for the client to close first (so that
        unread request bytes cannot turn the close into a reset): a client that never closes would stall
        every other one. Here the whole request was read before the app ran, so there is nothing unread."""
        self.nr_conns -= 1
        util.close(conn.sock)
        self._release(conn.client)

    def _refuse(self, arriving: Arriving, status: int, message: str) -> None:
        """A JSON error (as the app's own errors) and a close, best effort: the event loop never blocks."""
        body = json.dumps({"error": message, "field": "body"}).encode()
        head = (f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        with contextlib.suppress(OSError):
            arriving.conn.sock.send(head + body)
        self._drop(arriving)

    def _drop(self, arriving: Arriving) -> None:
        self._stop_watching(arriving)
        util.close(arriving.conn.sock)
        self.nr_conns -= 1
        self._release(arriving.conn.client)

    def _stop_watching(self, arriving: Arriving) -> None:
        sock = arriving.conn.sock
        self.arriving.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(sock)

    def _release(self, address: object) -> None:
        peer = _peer(address)
        self.open_per_client[peer] -= 1
        if self.open_per_client[peer] <= 0:
            del self.open_per_client[peer]

    def _count_refusal(self) -> None:
        """One warning a minute at most: a flood must not flood the log."""
        self.refused_per_client += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= REFUSAL_LOG_INTERVAL:
            self.log.warning("closed %d connections over the limit of %d per client address",
                             self.refused_per_client, self.limits.max_per_client)
            self.refused_per_client, self._refusals_logged_at = 0, now


def _peer(address: object) -> str:
    """The client address a connection counts against (its IP; "" for a Unix socket)."""
    return address[0] if isinstance(address, tuple) else ""


def worker_class(limits: ConnectionLimits) -> type[PortalWorker]:
    """A PortalWorker subclass carrying ``limits`` (gunicorn takes a class for ``worker_class``)."""
    return type("PortalWorker", (PortalWorker,), {"limits": limits})
