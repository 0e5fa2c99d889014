"""http output against a real local HTTP server: exact request shapes and the status -> outcome rules."""

from __future__ import annotations

import base64
import email.utils
import logging
import socket
import time
from pathlib import Path

import pytest
from log_agent.models import Outcome, Record
from log_agent.outputs.http import HttpOutput, HttpOutputConfig

from tests.log_agent.forward_receiver import make_self_signed_cert
from tests.log_agent.http_receiver import HttpReceiver, Reply
from tests.log_agent.outputs.sample_records import T0, T0_TEXT, make_records

TOKEN = "s3cr3t-token-value"


def http_output(receiver: HttpReceiver, path: str = "/ingest", **options: object) -> HttpOutput:
    return HttpOutput(HttpOutputConfig.from_dict({"url": receiver.url + path, **options}))


def test_json_array_body_is_the_envelope_of_each_record(receiver: HttpReceiver) -> None:
    output = http_output(receiver, "/ingest?source=device")
    result = output.send(make_records(2))
    assert result.outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert (request.method, request.target) == ("POST", "/ingest?source=device")
    assert request.header("Content-Type") == "application/json"
    assert request.header("Content-Encoding") is None
    assert request.header("User-Agent") == "log-agent (edge-sidecars)"
    assert request.json() == [
        {"time": T0_TEXT, "tag": "app.web", "record": {"message": "line 0", "seq": 0}},
        {
            "time": T0_TEXT.replace("789Z", "790Z"),
            "tag": "app.web",
            "record": {"message": "line 1", "seq": 1},
        },
    ]


def test_ndjson_gzip_is_one_line_per_record_with_trailing_newline(receiver: HttpReceiver) -> None:
    output = http_output(receiver, format="ndjson", gzip=True)
    assert output.send(make_records(3)).outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.header("Content-Encoding") == "gzip"
    assert request.header("Content-Type") == "application/x-ndjson"
    assert request.body[:2] == b"\x1f\x8b"
    assert [line["record"]["seq"] for line in request.ndjson()] == [0, 1, 2]


def test_bytes_values_become_text_or_base64(receiver: HttpReceiver) -> None:
    record = Record("bin", T0, {"text": b"caf\xc3\xa9", "raw": b"\xff\x00"})
    http_output(receiver).send([record])
    assert receiver.requests[0].json()[0]["record"] == {"text": "café", "raw": {"base64": "/wA="}}


def test_custom_headers_and_bearer_token_are_sent_but_never_logged(
    receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    output = http_output(receiver, headers={"X-Api-Key": TOKEN}, bearer_token=TOKEN)
    receiver.script(Reply(401, b'{"error":"bad token"}'))
    with caplog.at_level(logging.DEBUG):
        result = output.send(make_records(1))
    assert result.outcome is Outcome.REJECTED
    request = receiver.requests[0]
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.header("X-Api-Key") == TOKEN
    assert "HTTP 401" in caplog.text
    for text in (caplog.text, result.reason, repr(output), repr(output._config)):
        assert TOKEN not in text


def test_credentials_in_the_url_become_basic_auth_and_are_redacted(
    receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = receiver.url.replace("http://", "http://device:pa%40ss@") + "/logs"
    output = HttpOutput(HttpOutputConfig.from_url(url))
    receiver.script(Reply(503))
    with caplog.at_level(logging.DEBUG):
        output.send(make_records(1))
    expected = "Basic " + base64.b64encode(b"device:pa@ss").decode()
    assert receiver.requests[0].header("Authorization") == expected
    assert "pa@ss" not in caplog.text + repr(output) + repr(output._config)
    assert "pa%40ss" not in caplog.text


@pytest.mark.parametrize(
    ("reply", "outcome", "retry_after"),
    [
        (Reply(200), Outcome.DELIVERED, None),
        (Reply(204, b""), Outcome.DELIVERED, None),
        (Reply(429, headers={"Retry-After": "7"}), Outcome.RETRY, 7.0),
        (Reply(500), Outcome.RETRY, None),
        (Reply(503, headers={"Retry-After": "120"}), Outcome.RETRY, 120.0),
        (Reply(408), Outcome.RETRY, None),
        (Reply(400, b'{"error":"bad json"}'), Outcome.REJECTED, None),
        (Reply(404), Outcome.REJECTED, None),
        (Reply(413), Outcome.REJECTED, None),
    ],
)
def test_status_decides_the_outcome(
    receiver: HttpReceiver, reply: Reply, outcome: Outcome, retry_after: float | None
) -> None:
    receiver.script(reply)
    result = http_output(receiver).send(make_records(1))
    assert (result.outcome, result.retry_after) == (outcome, retry_after)
    if outcome is not Outcome.DELIVERED:
        assert f"HTTP {reply.status}" in result.reason


def test_retry_after_as_an_http_date(receiver: HttpReceiver) -> None:
    receiver.script(
        Reply(429, headers={"Retry-After": email.utils.formatdate(time.time() + 30, usegmt=True)})
    )
    result = http_output(receiver).send(make_records(1))
    assert result.outcome is Outcome.RETRY
    assert result.retry_after is not None and 25 <= result.retry_after <= 31


def test_bad_request_reason_carries_the_server_message(receiver: HttpReceiver) -> None:
    receiver.script(Reply(400, b'{"error":"field seq must be a string"}'))
    result = http_output(receiver).send(make_records(1))
    assert "field seq must be a string" in result.reason


def test_unreachable_server_is_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = HttpOutput(HttpOutputConfig.from_url(f"http://127.0.0.1:{port}/x"))
    result = output.send(make_records(1))
    assert result.outcome is Outcome.RETRY
    assert "127.0.0.1" in result.reason
    assert output.healthcheck() is False


def test_dropped_connection_and_slow_server_are_retried(receiver: HttpReceiver) -> None:
    output = http_output(receiver, timeout_s=0.3)
    receiver.script(Reply(drop_connection=True), Reply(delay_s=3.0))
    assert output.send(make_records(1)).outcome is Outcome.RETRY
    started = time.monotonic()
    assert output.send(make_records(1)).outcome is Outcome.RETRY
    assert time.monotonic() - started < 2.0  # the 0.3 s timeout, not the server's 3 s
    assert output.send(make_records(1)).outcome is Outcome.DELIVERED
    assert output.healthcheck() is True


def test_keep_alive_connection_closed_by_the_server_is_reopened(receiver: HttpReceiver) -> None:
    output = http_output(receiver)
    receiver.script(Reply(close_after=True))
    assert output.send(make_records(1)).outcome is Outcome.DELIVERED
    time.sleep(0.05)  # let the server close its end
    assert output.send(make_records(1)).outcome is Outcome.DELIVERED
    assert len(receiver.requests) == 2


def test_empty_batch_sends_nothing(receiver: HttpReceiver) -> None:
    assert http_output(receiver).send([]).outcome is Outcome.DELIVERED
    assert receiver.requests == []


def test_https_with_a_private_ca_or_without_verification(tmp_path: Path) -> None:
    cert, key = make_self_signed_cert(tmp_path)
    with HttpReceiver(tls=(cert, key)) as receiver:
        trusted = http_output(receiver, tls_ca_file=cert)
        assert trusted.send(make_records(1)).outcome is Outcome.DELIVERED
        untrusted = http_output(receiver).send(make_records(1))
        assert untrusted.outcome is Outcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in untrusted.reason
        assert http_output(receiver, tls_verify=False).send(make_records(1)).outcome is Outcome.DELIVERED
    assert len(receiver.requests) == 2


def test_a_retried_send_logs_at_debug_only(receiver: HttpReceiver, caplog: pytest.LogCaptureFixture) -> None:
    output = http_output(receiver)
    receiver.script(Reply(503), Reply(503))
    with caplog.at_level(logging.DEBUG, logger="log_agent.outputs"):
        for _ in range(2):
            assert output.send(make_records(1)).outcome is Outcome.RETRY
    assert [r.levelno for r in caplog.records if "503" in r.getMessage()] == [logging.DEBUG] * 2
