"""JSON over a Unix socket between the daemon (which owns the controller) and its gunicorn workers.

One request per connection, one line each way: ``{"method": ..., "params": {...}}`` then
``{"result": ...}`` or ``{"error": {"type", "message", "field"}}``. InputError and BusyError travel back as
themselves so the web apps answer 400/409 exactly as they would in-process. The socket is mode 0600: only
root (the daemon's own workers) may talk to it, and a passphrase crosses it only inside a connect request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
import time
from pathlib import Path

from .errors import AdapterError, BusyError, InputError, WifiConnectError
from .ports import PortalService

log = logging.getLogger(__name__)

METHODS = ("status", "networks", "rescan", "connect", "touch", "enter_setup_mode", "forget_networks")
MAX_REQUEST = 64 * 1024  # a connect request is a few short fields
MAX_RESPONSE = 8 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0  # a rescan may take a while; the daemon never blocks longer than that
# Calls answered at once (a thread each). The portal's worker may hold hundreds of connections; beyond this
# their calls wait in the listen queue (the client retries a full queue until its timeout), so a flood of
# portal requests cannot make the daemon start hundreds of threads and nmcli processes.
MAX_CONCURRENT_CALLS = 8


def _encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def _error_payload(err: Exception) -> dict:
    if isinstance(err, InputError):
        return {"type": "InputError", "field": err.field, "message": err.message}
    for kind in (BusyError, AdapterError, WifiConnectError):
        if isinstance(err, kind):
            return {"type": kind.__name__, "message": str(err)}
    log.exception("RPC handler failed", exc_info=err)
    return {"type": "WifiConnectError", "message": "internal error in the wifi-connect daemon"}


def _raise_error(payload: dict) -> None:
    kind, message = payload.get("type"), str(payload.get("message", ""))
    if kind == "InputError":
        raise InputError(str(payload.get("field", "")), message)
    raise {"BusyError": BusyError, "AdapterError": AdapterError}.get(kind, WifiConnectError)(message)


def _read_line(sock: socket.socket, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk or size > limit:
            break
    data = b"".join(chunks)
    if size > limit:
        raise ValueError(f"message larger than {limit} bytes")
    return data.split(b"\n", 1)[0]


class _Handler(socketserver.BaseRequestHandler):
    server: RpcServer

    def handle(self) -> None:
        self.request.settimeout(10.0)
        try:
            request = json.loads(_read_line(self.request, MAX_REQUEST))
            method, params = request["method"], request.get("params") or {}
            if method not in METHODS or not isinstance(params, dict):
                raise ValueError(f"unknown method {method!r}")
        except (ValueError, KeyError, TypeError, OSError) as err:
            reply = {"error": {"type": "WifiConnectError", "message": f"bad RPC request: {err}"}}
        else:
            reply = self._call(method, params)
        self.request.sendall(_encode(reply))

    def _call(self, method: str, params: dict) -> dict:
        try:
            return {"result": self.server.call(method, params)}
        except Exception as err:  # every failure goes back to the caller, none kills the server
            return {"error": _error_payload(err)}


class RpcServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves ``service``'s PortalService methods on ``path`` from a background thread."""

    daemon_threads = True
    request_queue_size = 128  # bursts of phones wait here

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self._slots.acquire()  # the accept loop waits for a free slot: bounded threads
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def __init__(self, service: PortalService, path: Path) -> None:
        self.service = service
        self.path = Path(path)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_CALLS)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path.unlink(missing_ok=True)  # a socket left by a killed daemon
            old_umask = os.umask(0o177)  # the socket is created 0600
            try:
                super().__init__(str(self.path), _Handler)
            finally:
                os.umask(old_umask)
        except OSError as err:
            raise AdapterError(f"cannot listen on {self.path}: {err}") from err
        # no poll interval: the accept loop sleeps until a call comes (idle means idle); stop() wakes it
        self._thread = threading.Thread(target=self.serve_forever, args=(None,), name="rpc", daemon=True)

    def call(self, method: str, params: dict) -> object:
        if method == "connect":
            return self.service.connect(params.get("fields", {}))
        return getattr(self.service, method)()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            # shutdown() asks the loop to end and waits for it; shutting the listening socket down wakes
            # the loop's select (accept then fails, and the loop sees the request)
            asking = threading.Thread(target=self.shutdown, name="rpc-stop", daemon=True)
            asking.start()
            while asking.is_alive():
                with contextlib.suppress(OSError):
                    self.socket.shutdown(socket.SHUT_RDWR)
                asking.join(0.05)
        self.server_close()
        self.path.unlink(missing_ok=True)


class ControllerClient:
    """``ports.PortalService`` for the web workers: every call is one round trip to the daemon."""

    def __init__(self, socket_path: str | Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket_path = str(socket_path)
        self.timeout = timeout

    def _call(self, method: str, **params: object) -> object:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                self._connect(sock)
                sock.sendall(_encode({"method": method, "params": params}))
                reply = json.loads(_read_line(sock, MAX_RESPONSE))
        except (OSError, ValueError) as err:
            raise AdapterError(f"no answer from the daemon on {self.socket_path}: {err}") from err
        if "error" in reply:
            _raise_error(reply["error"])
        return reply.get("result")

    def _connect(self, sock: socket.socket) -> None:
        """A full listen backlog makes a Unix-socket connect fail with EAGAIN: retry until the timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock.connect(self.socket_path)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def status(self) -> dict:
        return self._call("status")

    def networks(self) -> list[dict]:
        return self._call("networks")

    def rescan(self) -> list[dict]:
        return self._call("rescan")

    def connect(self, fields: dict[str, str]) -> dict:
        return self._call("connect", fields=fields)

    def touch(self) -> None:
        self._call("touch")

    def enter_setup_mode(self) -> dict:
        return self._call("enter_setup_mode")

    def forget_networks(self) -> dict:
        return self._call("forget_networks")
