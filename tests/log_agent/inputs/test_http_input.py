"""HTTP input: POST /logs/<tag> mounted on a bottle app served by the real in-process HttpServer."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import bottle
import pytest
import requests
from log_agent.errors import ConfigError
from log_agent.inputs.http import HttpInput, HttpInputConfig
from sidecar_common.http import HttpServer, ServeLimits, parse_listen

from tests.log_agent.inputs.input_helpers import ChunkSink


@pytest.fixture
def served() -> Iterator[tuple[str, HttpInput, ChunkSink]]:
    source = HttpInput(HttpInputConfig.from_dict({"max_body_bytes": 4096, "max_inflated_bytes": 65536,
                                                  "max_records": 100, "tag_prefix": "http"}))
    sink = ChunkSink()
    source.start(sink)
    app = bottle.Bottle()
    source.mount(app)
    limits = ServeLimits(max_body_bytes=1 << 20)
    server = HttpServer(app, parse_listen("127.0.0.1:0", "listen"), limits=limits)
    server.start()
    host, port = server.address  # type: ignore[misc]
    yield f"http://{host}:{port}/logs", source, sink
    server.stop()
    source.stop()


def post(url: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=10)


@pytest.mark.parametrize("body, messages", [
    (b'{"message": "one"}', ["one"]),
    (b'[{"message": "a"}, {"message": "b"}]', ["a", "b"]),
    (b'{"message": "x"}\n\n{"message": "y"}\n', ["x", "y"]),
])
def test_object_array_and_ndjson(served: tuple, body: bytes, messages: list[str]) -> None:
    url, _, sink = served
    answer = post(f"{url}/web", body, **{"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json() == {"records": len(messages)}
    assert sink.messages() == messages  # stored before the answer
    assert {tag for tag, _, _ in sink.records} == {"http.web"}
    assert all(durable for _, _, durable in sink.calls)


def test_gzip_body(served: tuple) -> None:
    url, _, sink = served
    body = gzip.compress(b"\n".join(json.dumps({"message": f"m{i}"}).encode() for i in range(50)))
    answer = post(f"{url}/app", body, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.json() == {"records": 50}
    assert sink.messages() == [f"m{i}" for i in range(50)]


@pytest.mark.parametrize("body, headers, status, error", [
    (b"x" * 5000, {}, 413, "over the limit of 4096"),
    (gzip.compress(b" " * 200_000), {"Content-Encoding": "gzip"}, 413, "inflates to more than 65536"),
    (b'{"message": "a"}\n[1]\n', {}, 400, "line 2: not a JSON object"),
    (b'{"message": "a"}\n{bad\n', {}, 400, "line 2: not JSON"),
    (b'[{"a": 1}, 2]', {}, 400, "item 1 is not a JSON object"),
    (b'"just a string"', {}, 400, "got str"),
    (b"{nope", {}, 400, "body is not JSON"),
    (b"", {}, 400, "empty body"),
    (b"\xff\xfe", {}, 400, "not UTF-8"),
    (b"not gzip", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
    (b"{}", {"Content-Encoding": "br"}, 400, "unsupported Content-Encoding"),
    (json.dumps([{}] * 101).encode(), {}, 413, "over the limit of 100"),
])
def test_refusals_name_the_problem(served: tuple, body: bytes, headers: dict, status: int,
                                   error: str) -> None:
    url, _, sink = served
    answer = post(f"{url}/web", body, **headers)
    assert answer.status_code == status, answer.text
    assert error in answer.json()["error"]
    assert sink.records == []


def test_bad_tag_and_spool_failure(served: tuple) -> None:
    url, source, sink = served
    assert post(f"{url}/bad tag!", b"{}").status_code == 400
    sink.fail = True
    answer = post(f"{url}/web", b'{"message": "later"}')
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert source.stats.errors == {"bad_request": 1, "spool": 1}


def test_path_must_not_shadow_the_agent_endpoints() -> None:
    with pytest.raises(ConfigError) as caught:
        HttpInputConfig.from_dict({"path": "/metrics"})
    assert caught.value.key == "http.path"
