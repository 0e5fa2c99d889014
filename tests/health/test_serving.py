"""The real ``health-reporter`` process serving HTTP: idle and trickling clients, auth, TLS with real
clients (curl, requests, Prometheus), the engine socket left alone, and the phone's side of a device."""

from __future__ import annotations

import base64
import ctypes
import os
import secrets
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.health.conftest import CONSOLE_SCRIPT, Reporter, start_reporter
from tests.health.helpers import free_port, stop_process, wait_until

IDLE, TRICKLING = 200, 12


def connect_from(address: str, port: int) -> socket.socket:
    """A TCP connection to 127.0.0.1:port from another loopback address (the server limits per address)."""
    sock = socket.socket()
    sock.bind((address, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def test_200_idle_and_12_trickling_clients_leave_room_for_a_normal_request(tmp_path: Path) -> None:
    reporter = start_reporter({}, tmp_path / "reporter.log")
    held: list[socket.socket] = []
    stop = threading.Event()
    try:
        for index in range(IDLE):  # 29 per address, under the per-address limit of 32
            held.append(connect_from(f"127.0.0.{2 + index // 29}", reporter.port))
        trickling = [connect_from("127.0.0.20", reporter.port) for _ in range(TRICKLING)]
        held += trickling

        def trickle() -> None:  # a request head one byte every 0.2 s, never finished within the test
            head = b"GET /metrics HTTP/1.1\r\nHost: device\r\nX-Padding: " + b"x" * 200
            for byte in head:
                for sock in trickling:
                    sock.send(bytes([byte]))
                if stop.wait(0.2):
                    return

        threading.Thread(target=trickle, daemon=True).start()
        time.sleep(1.0)  # every connection accepted and trickling
        for path in ("/healthz", "/metrics", "/"):
            started = time.monotonic()
            response = requests.get(reporter.url + path, timeout=5)
            elapsed = time.monotonic() - started
            assert response.status_code == 200 and elapsed < 1.0, (path, elapsed)
        metrics = requests.get(reporter.url + "/metrics", timeout=5).text
        open_now = next(
            line for line in metrics.splitlines() if line.startswith("device_http_open_connections ")
        )
        assert float(open_now.split()[1]) >= IDLE + TRICKLING  # all held, none refused: within the limits
        assert 'device_http_refused_connections_total{reason="per_client"} 0.0' in metrics
    finally:
        stop.set()
        for sock in held:
            sock.close()
        stop_process(reporter.process)


def test_one_address_holds_at_most_32_connections_and_is_counted(tmp_path: Path) -> None:
    reporter = start_reporter({}, tmp_path / "reporter.log")
    held = []
    try:
        for _ in range(40):
            held.append(connect_from("127.0.0.30", reporter.port))  # 8 beyond the per-address limit
        time.sleep(0.5)
        started = time.monotonic()
        metrics = requests.get(reporter.url + "/metrics", timeout=5).text  # another address: served
        assert time.monotonic() - started < 1.0
        assert 'device_http_refused_connections_total{reason="per_client"} 8.0' in metrics
    finally:
        for sock in held:
            sock.close()
        stop_process(reporter.process)


def run_main(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "HEALTH_TELEMETRY": "0", **env}
    return subprocess.run([str(CONSOLE_SCRIPT), *args], env=full, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("listen", ["0.0.0.0:9199", ":9199", "[::]:9199", "192.168.42.1:9199"])
def test_listening_beyond_loopback_without_credentials_exits_2_naming_the_setting(listen: str) -> None:
    result = run_main({"HEALTH_LISTEN": listen}, "--check-config")
    assert result.returncode == 2
    assert result.stderr.startswith("health-reporter: configuration error: HEALTH_LISTEN: ")
    assert "HEALTH_AUTH_TOKEN" in result.stderr
    assert (
        run_main({"HEALTH_LISTEN": listen, "HEALTH_AUTH_TOKEN": "s3cret"}, "--check-config").returncode == 0
    )


def test_bearer_token_from_a_file_and_basic_auth(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("tok-" + secrets.token_hex(8) + "\n")
    token = token_file.read_text().strip()
    env = {"HEALTH_AUTH_TOKEN_FILE": str(token_file), "HEALTH_AUTH_USER": "ops", "HEALTH_AUTH_PASSWORD": "pw"}
    reporter = start_reporter(env, tmp_path / "reporter.log")  # readiness: /readyz needs no credentials
    try:
        denied = requests.get(reporter.url + "/status", timeout=5)
        assert denied.status_code == 401 and "Bearer" in denied.headers["WWW-Authenticate"]
        assert token not in denied.text
        bearer = {"Authorization": f"Bearer {token}"}
        assert requests.get(reporter.url + "/metrics", headers=bearer, timeout=5).status_code == 200
        wrong = {"Authorization": f"Bearer {token}x"}
        assert requests.get(reporter.url + "/metrics", headers=wrong, timeout=5).status_code == 401
        assert requests.get(reporter.url + "/", auth=("ops", "pw"), timeout=5).status_code == 200
        assert requests.get(reporter.url + "/", auth=("ops", "no"), timeout=5).status_code == 401
        assert requests.get(reporter.url + "/healthz", timeout=5).status_code == 200  # liveness stays open
    finally:
        stop_process(reporter.process)
    assert token not in (tmp_path / "reporter.log").read_text()


# -- TLS -----------------------------------------------------------------------------------------------


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))  # fmt: skip
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))  # fmt: skip
        (d / f"{name}.ext").write_text(extension + "\n")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(d / f"{name}.ext"),
                "-out", str(d / f"{name}.pem"))  # fmt: skip
    return d


def start_tls(env: dict[str, str], log: Path, ready: Callable[[str], bool]) -> Reporter:
    port = free_port()
    full = {
        **os.environ, "HEALTH_LISTEN": f"127.0.0.1:{port}", "HEALTH_TELEMETRY": "0",
        "HEALTH_FAST_INTERVAL": "1", "HEALTH_SLOW_INTERVAL": "2",
        "HEALTH_WIFI_CONNECT_URL": "off", "HEALTH_LOG_AGENT_URL": "off", **env,
    }  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen([str(CONSOLE_SCRIPT)], env=full, stdout=out, stderr=subprocess.STDOUT)
    reporter = Reporter(f"https://127.0.0.1:{port}", port, process)
    try:
        wait_until(lambda: ready(reporter.url) or process.poll() is not None, 30, "TLS reporter ready")
        assert process.poll() is None, log.read_text()
    except BaseException:
        stop_process(process)
        raise
    return reporter


def https_ok(url: str, ca: Path, **kwargs: object) -> bool:
    try:
        return requests.get(url + "/readyz", verify=str(ca), timeout=2, **kwargs).status_code == 200
    except requests.RequestException:
        return False


def test_tls_with_curl_and_requests(pki: Path, tmp_path: Path) -> None:
    env = {"HEALTH_TLS_CERT_FILE": str(pki / "server.pem"), "HEALTH_TLS_KEY_FILE": str(pki / "server.key")}
    reporter = start_tls(env, tmp_path / "reporter.log", lambda url: https_ok(url, pki / "ca.pem"))
    try:
        curl = subprocess.run(
            ["curl", "-sS", "--cacert", str(pki / "ca.pem"), "-o", "/dev/null",
             "-w", "%{http_code} %{ssl_verify_result}", reporter.url + "/metrics"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert curl.stdout == "200 0", curl.stderr
        response = requests.get(reporter.url + "/status", verify=str(pki / "ca.pem"), timeout=5)
        assert response.status_code == 200 and response.json()["memory_total"] > 0
        with pytest.raises(requests.ConnectionError):  # plain HTTP on the TLS port gets no answer
            requests.get(f"http://127.0.0.1:{reporter.port}/healthz", timeout=3)
        probe = run_main({"HEALTH_LISTEN": f"127.0.0.1:{reporter.port}", **env}, "--healthcheck")
        assert probe.returncode == 0, probe.stderr  # Docker's HEALTHCHECK speaks TLS too
    finally:
        stop_process(reporter.process)


def bcrypt(password: str) -> str:
    """A $2y$ hash like ``htpasswd -nBC 10`` writes, from the C library's crypt(3)."""
    library = ctypes.CDLL("libcrypt.so.1")
    library.crypt.restype = ctypes.c_char_p
    salt = base64.b64encode(secrets.token_bytes(16), b"./").decode()[:22]
    return library.crypt(password.encode(), f"$2y$10${salt}".encode()).decode()


def test_node_exporter_web_config_scraped_by_prometheus(pki: Path, tmp_path: Path) -> None:
    """The same web config file node_exporter takes (--web.config.file): TLS, client certificates and
    bcrypt users, scraped by a real Prometheus with the matching scrape config."""
    web_config = tmp_path / "web.yml"
    web_config.write_text(
        "tls_server_config:\n"
        f"  cert_file: {pki / 'server.pem'}\n  key_file: {pki / 'server.key'}\n"
        f"  client_ca_file: {pki / 'ca.pem'}\n  client_auth_type: RequireAndVerifyClientCert\n"
        f"basic_auth_users:\n  prometheus: '{bcrypt('scrape-pw')}'\n"
    )
    client = (str(pki / "client.pem"), str(pki / "client.key"))
    reporter = start_tls(
        {"HEALTH_WEB_CONFIG_FILE": str(web_config)},
        tmp_path / "reporter.log",
        lambda url: https_ok(url, pki / "ca.pem", cert=client),
    )
    try:
        ca = str(pki / "ca.pem")
        with pytest.raises(requests.exceptions.SSLError):  # no client certificate: no handshake
            requests.get(reporter.url + "/metrics", verify=ca, timeout=5)
        assert requests.get(reporter.url + "/metrics", verify=ca, cert=client, timeout=5).status_code == 401
        wrong = requests.get(
            reporter.url + "/metrics", verify=ca, cert=client, auth=("prometheus", "x"), timeout=5
        )
        assert wrong.status_code == 401
        scraped = prometheus_scrape(tmp_path, reporter.port, pki)
        assert scraped["up"] == "1" and scraped["node_load1"]
    finally:
        stop_process(reporter.process)


def prometheus_scrape(tmp_path: Path, port: int, pki: Path) -> dict[str, object]:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: health\n    scheme: https\n"
        f"    tls_config: {{ca_file: {pki / 'ca.pem'}, cert_file: {pki / 'client.pem'}, "
        f"key_file: {pki / 'client.key'}}}\n"
        "    basic_auth: {username: prometheus, password: scrape-pw}\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    web = free_port()
    api = f"http://127.0.0.1:{web}/api/v1/query"
    command = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"]  # fmt: skip
    with (tmp_path / "prometheus.log").open("wb") as log:
        prometheus = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def query(expression: str) -> list[dict]:
        try:
            return requests.get(api, params={"query": expression}, timeout=2).json()["data"]["result"]
        except (requests.RequestException, ValueError, KeyError):
            return []

    try:
        wait_until(lambda: bool(query('up{job="health"} == 1')), 30, "an authenticated TLS scrape")
        return {"up": query('up{job="health"}')[0]["value"][1], "node_load1": query("node_load1")}
    finally:
        stop_process(prometheus)


# -- least privilege: the engine socket ------------------------------------------------------------


class CountingEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    connections = 0


class _Count(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.connections += 1  # type: ignore[attr-defined]
        self.request.recv(65536)
        body = b'[{"Names": ["/app"], "State": "running", "Status": "Up 1 minute (healthy)"}]'
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        self.request.sendall(head + body)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[CountingEngine]:
    server = CountingEngine(str(tmp_path / "engine.sock"), _Count)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("enabled", [False, True])
def test_the_engine_socket_is_opened_only_with_container_health_on(
    engine: CountingEngine, tmp_path: Path, enabled: bool
) -> None:
    env = {"DOCKER_HOST": f"unix://{engine.server_address}", "HEALTH_SLOW_INTERVAL": "1"}
    if enabled:
        env["HEALTH_CONTAINERS"] = "on"
    reporter = start_reporter(env, tmp_path / "reporter.log")
    try:
        time.sleep(3)  # three slow ticks
        status = requests.get(reporter.url + "/status", timeout=5).json()
    finally:
        stop_process(reporter.process)
    measured = next(check for check in status["checks"] if check["check"] == "containers")
    if enabled:
        assert engine.connections >= 2 and measured["status"] != "unknown"
    else:
        assert engine.connections == 0 and measured["status"] == "unknown"
