"""The reader thread of an input that waits in select() (files, syslog) and what stops it at once."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class ReaderThread:
    """A daemon thread plus a stop event and a self-pipe: ``wake_fd`` sits in the input's select() set,
    so ``stop()`` ends a wait that would otherwise run to its timeout."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.wake_fd, self._wake_write = os.pipe()
        self._thread: threading.Thread | None = None

    def start(self, target: Callable[[], None]) -> None:
        self._thread = threading.Thread(target=target, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Signal, wake and join the thread; False when it was stopped already (a failed start is
        stopped too), so the caller's own clean-up runs once."""
        if self.stopping.is_set():
            return False
        self.stopping.set()
        os.write(self._wake_write, b"x")
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        return True

    def close(self) -> None:
        """Once: a second close would close whatever descriptors took these numbers since."""
        fds, self.wake_fd, self._wake_write = (self.wake_fd, self._wake_write), -1, -1
        for fd in fds:
            if fd >= 0:
                os.close(fd)
