"""TLS on sidecar_common.http.HttpServer with real clients (requests, python ssl, curl) and openssl-made
certificates: requests and large bodies both ways, mTLS, TLS 1.2 minimum, handshake deadline."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
from sidecar_common.http import HttpServer, ServeLimits, TlsFiles

from tests.common.conftest import StartServer
from tests.common.http_helpers import read_until_closed


def https_url(server: HttpServer, path: str = "/") -> str:
    return f"https://127.0.0.1:{server.address[1]}{path}"


def test_requests_over_tls(start_server: StartServer, server_tls: TlsFiles, certs: dict[str, Path]) -> None:
    server = start_server(tls=server_tls)
    ca = str(certs["ca.pem"])  # per request: a Session's verify loses to REQUESTS_CA_BUNDLE
    with requests.Session() as session:
        assert session.get(https_url(server), verify=ca, timeout=5).text == "ok"
        body = os.urandom(700_000)  # many TLS records in one go: exercises draining pending()
        assert session.post(https_url(server, "/echo"), data=body, verify=ca, timeout=10).content == body
        big = session.get(https_url(server, "/big/3000000"), verify=ca, timeout=10)  # over the watermark
        assert big.content == b"x" * 3_000_000
    assert server.stats.closed_total["tls_error"] == 0


def test_curl_over_tls(start_server: StartServer, server_tls: TlsFiles, certs: dict[str, Path]) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    server = start_server(tls=server_tls)
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "5", "--cacert", str(certs["ca.pem"]), https_url(server),
         https_url(server)],  # twice: the second request reuses the connection
        capture_output=True, text=True, timeout=10, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "okok"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_1_2_is_refused_by_the_server(start_server: StartServer, server_tls: TlsFiles) -> None:
    server = start_server(tls=server_tls)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that this client really offers TLS 1.1
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot offer TLS 1.1")
    with socket.create_connection(server.address, timeout=5) as raw, pytest.raises(ssl.SSLError) as refused:
        context.wrap_socket(raw).close()
    if "NO_PROTOCOLS_AVAILABLE" in str(refused.value):
        pytest.skip("this OpenSSL build refuses to offer TLS 1.1 at all")
    assert "PROTOCOL_VERSION" in str(refused.value).upper()  # the server's alert, not our own refusal


def test_plain_http_to_a_tls_port_is_closed(start_server: StartServer, server_tls: TlsFiles) -> None:
    server = start_server(tls=server_tls)
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" not in read_until_closed(sock)
    time.sleep(0.1)
    assert server.stats.closed_total["tls_error"] == 1


def test_trickled_handshake_is_closed_by_the_header_deadline(start_server: StartServer,
                                                             server_tls: TlsFiles) -> None:
    server = start_server(tls=server_tls, limits=ServeLimits(header_timeout=2, idle_timeout=30))
    # The start of a real ClientHello, one byte a second.
    hello = bytes.fromhex("16030100f4010000f00303") + os.urandom(32)
    sock = socket.create_connection(server.address, timeout=5)
    sock.setblocking(False)
    began = time.monotonic()
    closed_after = None
    for byte in hello:
        try:
            sock.send(bytes([byte]))
            time.sleep(0.5)
            if sock.recv(100) == b"":
                closed_after = time.monotonic() - began
                break
        except BlockingIOError:
            continue
        except OSError:
            closed_after = time.monotonic() - began
            break
    sock.close()
    assert closed_after is not None and closed_after <= 2 + 2
    assert server.stats.closed_total["header_timeout"] == 1


def test_idle_tls_connection_is_closed(start_server: StartServer, server_tls: TlsFiles) -> None:
    """A connection that never starts the handshake falls under header_timeout too (no free pass)."""
    server = start_server(tls=server_tls, limits=ServeLimits(header_timeout=1, idle_timeout=30))
    with socket.create_connection(server.address, timeout=5) as sock:
        began = time.monotonic()
        assert read_until_closed(sock, timeout=5) == b""
        assert time.monotonic() - began <= 1 + 2


def test_client_certificate_required_with_a_client_ca(start_server: StartServer,
                                                      certs: dict[str, Path]) -> None:
    tls = TlsFiles(cert_file=str(certs["server.pem"]), key_file=str(certs["server.key"]),
                   client_ca_file=str(certs["ca.pem"]))
    server = start_server(tls=tls)
    client_cert = (str(certs["client.pem"]), str(certs["client.key"]))
    ok = requests.get(https_url(server), verify=str(certs["ca.pem"]), cert=client_cert, timeout=5)
    assert ok.text == "ok"
    with pytest.raises(requests.exceptions.RequestException):  # handshake refused without a certificate
        requests.get(https_url(server), verify=str(certs["ca.pem"]), timeout=5)
    # TLS 1.3: the client may see the server's alert before the server's loop has counted the close
    deadline = time.monotonic() + 2
    while server.stats.closed_total["tls_error"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.stats.closed_total["tls_error"] >= 1


def test_unreadable_tls_files_fail_at_start(start_server: StartServer, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        start_server(tls=TlsFiles(cert_file=str(tmp_path / "missing.pem"), key_file=str(tmp_path / "k")))
