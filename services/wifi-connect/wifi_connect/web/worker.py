"""gunicorn's gevent worker, hardened for the open setup AP: many slow or idle clients cannot starve it.

Each connection is a greenlet (no thread to hold), and on top of gunicorn's gevent worker:

- a **head deadline**: a connection must deliver a complete request line and headers within
  ``head_timeout`` seconds of being accepted (or of the previous answer on a kept-alive connection);
  otherwise it is closed. This bounds idle connections and clients trickling a header byte at a time.
- a **body deadline** and **size limit**: the body is read (and buffered) before the app sees it, within
  ``body_timeout`` seconds and at most ``max_body_bytes`` (a larger one, also a chunked one, gets 413).
- a **per-client-address limit**: a client address may hold ``max_per_client`` connections; more are
  closed at once (a person's phone needs a handful).
- a **total cap**: gunicorn's ``worker_connections`` is the size of the greenlet pool; beyond it, new
  connections wait in the listen backlog until one of the above frees a slot.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable

import gevent
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from ..config import ConnectionLimits

REFUSAL_LOG_INTERVAL = 60.0


class PortalWorker(GeventWorker):
    """The gevent worker with ``ConnectionLimits``; ``worker_class(limits)`` binds the limits."""

    limits = ConnectionLimits()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.open_per_client: Counter[str] = Counter()
        self.refused_per_client = 0  # since the last log line
        self._refusals_logged_at = 0.0

    def timeout_ctx(self) -> gevent.Timeout:
        """gunicorn reads each request head inside this (with keepalive on, also the first one)."""
        return gevent.Timeout(self.limits.head_timeout, False)

    def handle(self, listener, client, addr) -> None:
        peer = addr[0] if isinstance(addr, tuple) else ""
        if self.open_per_client[peer] >= self.limits.max_per_client:
            util.close(client)
            self._count_refusal()
            return
        self.open_per_client[peer] += 1
        try:
            super().handle(listener, client, addr)
        finally:
            self.open_per_client[peer] -= 1
            if not self.open_per_client[peer]:
                del self.open_per_client[peer]

    def _count_refusal(self) -> None:
        """One warning a minute at most: a flood must not flood the log."""
        self.refused_per_client += 1
        now = time.monotonic()
        if now - self._refusals_logged_at >= REFUSAL_LOG_INTERVAL:
            self.log.warning("closed %d connections over the limit of %d per client address",
                             self.refused_per_client, self.limits.max_per_client)
            self.refused_per_client, self._refusals_logged_at = 0, now

    def handle_request(self, listener_name, req, sock, addr) -> bool:
        self._buffer_body(req, sock)
        return super().handle_request(listener_name, req, sock, addr)

    def _buffer_body(self, req, sock) -> None:
        """Read the whole body now, bounded in time and size; the app then reads it from memory."""
        limit = self.limits.max_body_bytes
        declared = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), "")
        if declared.isdigit() and int(declared) > limit:
            _refuse(sock, 413, f"the request body is larger than {limit} bytes")
        timer = gevent.Timeout(self.limits.body_timeout)
        timer.start()
        try:
            data = req.body.read(limit + 1)
        except gevent.Timeout as err:
            if err is not timer:
                raise
            _refuse(sock, 408, f"the request body did not arrive within {self.limits.body_timeout:g} s")
        finally:
            timer.close()
        if len(data) > limit:
            _refuse(sock, 413, f"the request body is larger than {limit} bytes")
        req.body = io.BytesIO(data)
        # the app now reads a plain body of known length, whatever framing it came in
        req.headers = [(name, value) for name, value in req.headers
                       if name not in ("TRANSFER-ENCODING", "CONTENT-LENGTH")]
        if data or declared:
            req.headers.append(("CONTENT-LENGTH", str(len(data))))


def _refuse(sock, status: int, message: str) -> None:
    """Answer ``status`` with a JSON error and close the connection (raises StopIteration for gunicorn)."""
    reason = {408: "Request Timeout", 413: "Content Too Large"}[status]
    body = json.dumps({"error": message, "field": "body"}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        util.write(sock, head + body)
    raise StopIteration(f"refused with {status}")


def worker_class(limits: ConnectionLimits) -> type[PortalWorker]:
    """A PortalWorker subclass carrying ``limits`` (gunicorn takes a class for ``worker_class``)."""
    return type("PortalWorker", (PortalWorker,), {"limits": limits})


class Heartbeat:
    """gunicorn's ``WorkerTmp`` over a file the daemon opened: the worker touches it, the daemon reads it."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def notify(self) -> None:
        now = time.monotonic()  # gunicorn's clock for it; the daemon compares with its own monotonic()
        os.utime(self._fd, (now, now))

    def last_update(self) -> float:
        return os.fstat(self._fd).st_mtime

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class _LoadedApp:
    """What gunicorn's worker asks of its application object: the WSGI callable."""

    def __init__(self, app: object) -> None:
        self.app = app

    def wsgi(self) -> object:
        return self.app


def run_worker(app: object, listen_fd: int, heartbeat_fd: int, limits: ConnectionLimits,
               ready: Callable[[], None]) -> int:
    """Run gunicorn's portal worker in this (forked) process until it is stopped; the exit code.

    What gunicorn's arbiter does before it calls ``init_process`` (``Arbiter.spawn_worker``), with the
    daemon as the arbiter: settings as values, the inherited listening socket, the daemon's heartbeat."""
    import socket

    from gunicorn.config import Config
    from gunicorn.sock import TCP6Socket, TCPSocket

    from ..gunicorn_config import portal_settings

    config = Config()
    for key, value in portal_settings(limits, lambda _worker: ready()).items():
        config.set(key, value)
    logger = config.logger_class(config)
    with socket.socket(fileno=listen_fd) as inherited:  # the daemon's bound, listening socket
        kind = TCP6Socket if inherited.family == socket.AF_INET6 else TCPSocket
        sockets = [kind(inherited.getsockname(), config, logger, fd=os.dup(inherited.fileno()))]
    age, arbiter = 1, os.getppid()
    worker = config.worker_class(age, arbiter, sockets, _LoadedApp(app), config.timeout / 2, config, logger)
    worker.tmp.close()  # gunicorn's own heartbeat file: ours is the one the daemon watches
    worker.tmp = Heartbeat(heartbeat_fd)
    try:
        worker.init_process()  # returns when the worker has stopped
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 1
    finally:
        worker.tmp.close()
    return 0
