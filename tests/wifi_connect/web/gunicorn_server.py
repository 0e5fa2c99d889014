"""Run wifi-connect's web apps under real gunicorn for a test or a benchmark, and always stop them.

The apps are started exactly as the daemon starts them (``wifi_connect.web:create_portal_app()``); the
daemon they talk to is ``fake_daemon()``: the real RPC server over an in-memory PortalService.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from wifi_connect.rpc import RpcServer

from tests.wifi_connect.web.fake_portal_service import FakePortalService

REPO_ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).with_name("gunicorn")
PORTAL_APP = "wifi_connect.web:create_portal_app()"
CONTROL_APP = "wifi_connect.web:create_control_app()"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"gunicorn did not listen on {host}:{port} within {timeout} s")


@contextlib.contextmanager
def gunicorn(
    app: str,
    host: str,
    port: int,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
    workers: int = 1,
    threads: int = 8,
    log_path: Path | None = None,
    wait: bool = True,
) -> Iterator[subprocess.Popen]:
    """gunicorn serving ``app`` on host:port; ``prefix`` runs it elsewhere (e.g. ``ip netns exec NS``),
    in which case the caller waits for it (``wait=False``): this namespace cannot reach host:port."""
    command = [*prefix, str(GUNICORN), "--bind", f"{host}:{port}", "--workers", str(workers),
               "--threads", str(threads), "--worker-class", "gthread", "--graceful-timeout", "2",
               "--pythonpath", str(REPO_ROOT), app]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, cwd=REPO_ROOT,
                               stdout=log, stderr=log, start_new_session=True)
    try:
        if wait:
            wait_for_port(host, port, process)
        yield process
    finally:
        _stop(process)
        if log_path:
            log.close()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def fake_daemon(service: FakePortalService | None = None) -> Iterator[tuple[FakePortalService, Path]]:
    """The daemon's RPC socket, answered by a fake; yields (service, socket path)."""
    service = service or FakePortalService()
    with tempfile.TemporaryDirectory(prefix="wc-rpc-") as directory:  # short: AF_UNIX paths <= 107 bytes
        server = RpcServer(service, Path(directory) / "rpc.sock")
        server.start()
        try:
            yield service, server.path
        finally:
            server.stop()


def portal_env(host: str, port: int, socket_path: Path, **extra: str) -> dict[str, str]:
    """The environment the daemon gives the portal's gunicorn."""
    return {"PORTAL_GATEWAY": host, "PORTAL_LISTENING_PORT": str(port),
            "WIFI_CONNECT_SOCKET": str(socket_path), **extra}
