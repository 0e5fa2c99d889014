"""Starting gunicorn's portal worker in the process the daemon forked: what gunicorn's arbiter does in
``Arbiter.spawn_worker`` before ``init_process``, with the daemon as the arbiter (``web.server``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

from ..config import ConnectionLimits


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
        """Once (gunicorn and we both close it): a second close could hit a descriptor opened since."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


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
