"""Where a server listens: ``host:port``, ``[v6]:port``, ``:port`` or ``unix:/path``, and binding it.

Binding is done here rather than by waitress so that every listener gets the same treatment:
SO_REUSEADDR (a restart right after ``kill -9`` binds again at once instead of waiting out TIME_WAIT),
IPv6-only for v6 addresses, a stale Unix socket file (its server died) replaced but a live one never
stolen, and Unix sockets made mode 0660 before anyone can connect.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
from dataclasses import dataclass

from sidecar_common.errors import ConfigError

UNIX_PREFIX = "unix:"
UNIX_SOCKET_MODE = 0o660


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int
    unix_path: str = ""

    def is_loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1, ``localhost`` or a Unix socket: only this machine can connect."""
        if self.unix_path:
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        if self.unix_path:
            return UNIX_PREFIX + self.unix_path
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str, key: str) -> Listen:
    """A ``Listen`` from ``host:port``, ``[v6]:port``, ``:port`` (all IPv4 interfaces) or ``unix:/path``.

    Raises ``ConfigError(key, ...)`` for anything else. Port 0 means "any free port" (tests).
    """
    text = text.strip()
    if text.startswith(UNIX_PREFIX):
        path = text[len(UNIX_PREFIX):]
        if not path.startswith("/"):
            raise ConfigError(key, f"a Unix socket needs an absolute path (unix:/run/x.sock), got {text!r}")
        return Listen(host="", port=0, unix_path=path)
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ConfigError(key, f"expected host:port, [v6]:port or unix:/path, got {text!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ConfigError(key, f"unbalanced brackets in {text!r}")
    bracketed = host.startswith("[")
    host = host[1:-1] if bracketed else host
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(key, f"port must be a number 0-65535, got {port_text!r}")
    if ":" in host and not bracketed:
        raise ConfigError(key, f"write an IPv6 address in brackets ([::1]:8080), got {text!r}")
    host = host or "0.0.0.0"
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(key, f"host must be an IP address or localhost, got {host!r}") from None
    return Listen(host=host, port=int(port_text))


def bind_listen(listen: Listen, backlog: int) -> socket.socket:
    """A listening socket for ``listen``; OSError (address in use, permission) propagates."""
    if listen.unix_path:
        return _bind_unix(listen.unix_path, backlog)
    host = "127.0.0.1" if listen.host == "localhost" else listen.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, listen.port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_unix(path: str, backlog: int) -> socket.socket:
    _remove_stale_unix_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        # Before listen(): nobody can connect yet, so there is no window with the umask's mode.
        os.chmod(path, UNIX_SOCKET_MODE)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale_unix_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(path)
    except OSError:
        # Nobody answers: the file is left over from a server that died (kill -9). Replace it.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another server is listening on {path}")
