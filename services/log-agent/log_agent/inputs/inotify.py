"""Linux inotify through ctypes (the standard library has no binding): the files input waits on
directory events instead of polling. ``Inotify.available`` is False where libc lacks it (then the
caller falls back to sleeping); watching a directory reports changes of every file in it."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
DIRECTORY_CHANGES = IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
WATCH_MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | DIRECTORY_CHANGES
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch, libc.inotify_rm_watch  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


class Inotify:
    def __init__(self) -> None:
        self._libc = _libc()
        self.fd = -1
        if self._libc is not None:
            self.fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        self.watches: dict[str, int] = {}  # directory -> watch descriptor

    @property
    def available(self) -> bool:
        return self.fd >= 0

    def watch(self, directory: str) -> bool:
        if not self.available or directory in self.watches:
            return directory in self.watches
        assert self._libc is not None
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory), WATCH_MASK)
        if wd < 0:
            return False
        self.watches[directory] = wd
        return True

    def unwatch_missing(self, keep: set[str]) -> None:
        assert self._libc is not None or not self.watches
        for directory in [d for d in self.watches if d not in keep]:
            self._libc.inotify_rm_watch(self.fd, self.watches.pop(directory))  # type: ignore[union-attr]

    def read_masks(self) -> int:
        """OR of the masks of every queued event (0 when none); a queue overflow reads as a change."""
        combined = 0
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return combined
            if not data:
                return combined
            offset = 0
            while offset + _EVENT.size <= len(data):
                _, mask, _, length = _EVENT.unpack_from(data, offset)
                combined |= DIRECTORY_CHANGES if mask & IN_Q_OVERFLOW else mask
                offset += _EVENT.size + length

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
