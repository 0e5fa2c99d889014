"""Portal first load: bytes (raw and gzip) and request count, as headless Chromium loads it on a phone.

Budget from the issue: <= 20 KB gzip in <= 3 requests. Run from the repository root:
``.venv/bin/python bench/wifi_portal_size.py``.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the fake daemon, gunicorn and browser helpers live with the tests

from tests.wifi_connect.web.browser import chromium, phone_page  # noqa: E402
from tests.wifi_connect.web.gunicorn_server import fake_daemon, free_port, portal_server  # noqa: E402

HOST = "127.0.0.1"
RESULTS = REPO_ROOT / "bench" / "results" / "wifi_portal_size.json"
BUDGET_GZIP_BYTES = 20 * 1024
BUDGET_REQUESTS = 3


def first_load(url: str) -> list[dict]:
    """Every response of the first page load: path, raw bytes, gzip bytes."""
    loaded: list[dict] = []
    with chromium() as browser:
        page = phone_page(browser)
        page.on("response", lambda response: loaded.append({"response": response}))
        page.goto(url, wait_until="networkidle")
        rows = []
        for item in loaded:
            body = item["response"].body()
            rows.append({"url": item["response"].url.removeprefix(url.rstrip("/")),
                         "raw_bytes": len(body), "gzip_bytes": len(gzip.compress(body, 9))})
        page.context.close()
        return rows


def main() -> None:
    port = free_port()
    with fake_daemon() as (_service, socket_path), \
            portal_server(HOST, port, socket_path):
        rows = first_load(f"http://{HOST}:{port}/")
    result = {
        "benchmark": "portal first load in headless Chromium (390x844), 4 networks listed",
        "requests": len(rows),
        "raw_bytes": sum(row["raw_bytes"] for row in rows),
        "gzip_bytes": sum(row["gzip_bytes"] for row in rows),
        "within_budget": len(rows) <= BUDGET_REQUESTS
        and sum(row["gzip_bytes"] for row in rows) <= BUDGET_GZIP_BYTES,
        "responses": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
