"""GET /networks latency (p50/p99) at 50 concurrent clients against the portal under gunicorn on loopback.

The portal runs as the daemon runs it (gunicorn's hardened threaded worker forked by
``web.server.ForkedPortalServer``; the per-client limit raised to 64, the clients share one address) and
reaches a daemon
through the real RPC socket; the daemon is an in-memory PortalService, so the figure is
the web stack's cost (HTTP + gunicorn + bottle + RPC), not NetworkManager's. Run from the repository root:
``.venv/bin/python bench/wifi_api_latency.py [--clients 50] [--requests 40]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the fake daemon and the gunicorn helper live with the tests

from tests.wifi_connect.web.gunicorn_server import fake_daemon, free_port, portal_server  # noqa: E402

HOST = "127.0.0.1"
RESULTS = REPO_ROOT / "bench" / "results" / "wifi_api_latency.json"


def client_loop(url: str, count: int, start: threading.Barrier, latencies: list[float], errors: list[str]):
    with requests.Session() as session:
        start.wait()
        for _ in range(count):
            began = time.perf_counter()
            try:
                response = session.get(url, timeout=30)
                response.raise_for_status()
            except requests.RequestException as err:
                errors.append(str(err))
                continue
            latencies.append(time.perf_counter() - began)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(clients: int, per_client: int) -> dict:
    port = free_port()
    latencies: list[float] = []
    errors: list[str] = []
    with fake_daemon() as (_service, socket_path), \
            portal_server(HOST, port, socket_path, max_per_client=64):  # 50 clients, one address
        url = f"http://{HOST}:{port}/networks"
        requests.get(url, timeout=10).raise_for_status()  # warm up imports and the first RPC
        start = threading.Barrier(clients + 1)
        threads = [threading.Thread(target=client_loop, args=(url, per_client, start, latencies, errors))
                   for _ in range(clients)]
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    return {
        "benchmark": "GET /networks, the forked gunicorn (hardened threaded worker), fake daemon over RPC",
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    args = parser.parse_args()
    result = measure(args.clients, args.requests)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
