"""Fixtures for sidecar_common's HTTP tests: servers on 127.0.0.1 port 0, and
openssl-made certificates (a CA, a server certificate for 127.0.0.1/localhost, a client certificate)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sidecar_common.http import HttpServer, Listen, ServeLimits, TlsFiles, parse_listen

from tests.common.http_helpers import make_app

StartServer = Callable[..., HttpServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(app=None, listen="127.0.0.1:0", **HttpServer keywords)`` -> a started server."""
    servers: list[HttpServer] = []

    def start(app: object = None, listen: str | Listen = "127.0.0.1:0", **kwargs: object) -> HttpServer:
        where = parse_listen(listen, "TEST_LISTEN") if isinstance(listen, str) else listen
        kwargs.setdefault("limits", ServeLimits())
        server = HttpServer(app or make_app(), where, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files: ca.pem/ca.key, server.pem/server.key (signed by the CA), client.pem/client.key."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    where = tmp_path_factory.mktemp("certs")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA",
             cwd=where)
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                            ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}",
                 cwd=where)
        (where / f"{name}.ext").write_text(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=where)
    return {path.name: path for path in where.iterdir()}


@pytest.fixture
def server_tls(certs: dict[str, Path]) -> TlsFiles:
    return TlsFiles(cert_file=str(certs["server.pem"]), key_file=str(certs["server.key"]))
