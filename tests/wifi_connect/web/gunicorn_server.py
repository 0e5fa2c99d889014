"""Run wifi-connect's portal as the daemon runs it (gunicorn forked by ``web.server.ForkedPortalServer``)
for a test or a benchmark, and always stop it. The daemon it talks to is ``fake_daemon()``: the real RPC
server over an in-memory PortalService.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from wifi_connect.rpc import RpcServer

from tests.wifi_connect.web.fake_portal_service import FakePortalService

REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def portal_server(host: str, port: int, socket_path: Path, prefix: Sequence[str] = (),
                  log_path: Path | None = None, **limits: object) -> Iterator[subprocess.Popen]:
    """The portal on host:port until the block ends; ``prefix`` runs it elsewhere (``ip netns exec NS``);
    ``limits``: ConnectionLimits fields. Yields the runner process once gunicorn listens."""
    command = [*prefix, sys.executable, "-m", "tests.wifi_connect.web.run_portal", host, str(port),
               str(socket_path), *(f"{name}={value}" for name, value in limits.items())]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    # the JSON logs go to log_path; "ready" comes on stderr (a pipe nobody reads later must stay quiet)
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.PIPE,
                               start_new_session=True, text=True)
    try:
        ready = process.stderr.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"the portal did not start on {host}:{port} (exit {process.wait(10)})")
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
