"""loki output against a local HTTP server: the push API JSON shape, labels, ordering, tenant, auth."""

from __future__ import annotations

import base64

import pytest
from log_agent.models import Outcome, Record
from log_agent.outputs import config_from_url
from log_agent.outputs.loki import LokiOutput, LokiOutputConfig

from tests.log_agent.http_receiver import HttpReceiver, Reply
from tests.log_agent.outputs.sample_records import T0

DEVICE = {"uuid": "abc123", "service": "sensor"}


def loki_output(receiver: HttpReceiver, **options: object) -> LokiOutput:
    return LokiOutput(LokiOutputConfig.from_dict({"url": receiver.url, **options}))


def test_push_body_groups_streams_by_labels_and_sorts_values(receiver: HttpReceiver) -> None:
    records = [
        Record("app.web", T0 + 30, {"message": "third", "device": DEVICE}),
        Record("app.db", T0 + 5, {"message": "other stream", "device": DEVICE}),
        Record("app.web", T0 + 10, {"message": "first", "device": DEVICE}),
        Record("app.web", T0 + 20, {"message": "second", "device": DEVICE}),
    ]
    result = loki_output(receiver).send(records)
    assert result.outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.target == "/loki/api/v1/push"
    assert request.header("Content-Type") == "application/json"
    labels = {"job": "log-agent", "device": "abc123"}  # a record's "service" field is no label
    assert request.json() == {
        "streams": [
            {
                "stream": {**labels, "tag": "app.web"},
                "values": [
                    [str(T0 + 10), '{"message":"first","device":{"uuid":"abc123","service":"sensor"}}'],
                    [str(T0 + 20), '{"message":"second","device":{"uuid":"abc123","service":"sensor"}}'],
                    [str(T0 + 30), '{"message":"third","device":{"uuid":"abc123","service":"sensor"}}'],
                ],
            },
            {
                "stream": {**labels, "tag": "app.db"},
                "values": [
                    [str(T0 + 5), '{"message":"other stream","device":{"uuid":"abc123","service":"sensor"}}']
                ],
            },
        ]
    }


def test_missing_label_fields_are_left_out(receiver: HttpReceiver) -> None:
    loki_output(receiver).send([Record("plain", T0, {"message": "no identity"})])
    assert receiver.requests[0].json()["streams"][0]["stream"] == {"job": "log-agent", "tag": "plain"}


def test_message_lines_structured_metadata_tenant_gzip_and_basic_auth_from_url(
    receiver: HttpReceiver,
) -> None:
    url = receiver.url.replace("http://", "loki+http://fleet:pw@") + "?tenant_id=team-a&gzip=true"
    options = {
        "line_format": "message",
        "labels": {"tag": "$tag", "level": "level"},
        "static_labels": {},
        "structured_metadata": {"trace_id": "trace.id", "seq": "seq"},
    }
    kind, config = config_from_url(url, options)  # the URL plus YAML options, as config.py does
    assert kind == "loki"
    record = Record("app", T0, {"message": "hello", "level": "info", "trace": {"id": "0242ac"}, "seq": 7})
    no_message = Record("app", T0 + 1, {"log": "docker style line\n", "level": "info"})
    assert LokiOutput(config).send([record, no_message]).outcome is Outcome.DELIVERED
    request = receiver.requests[0]
    assert request.header("Content-Encoding") == "gzip"
    assert request.header("X-Scope-OrgID") == "team-a"
    assert request.header("Authorization") == "Basic " + base64.b64encode(b"fleet:pw").decode()
    assert request.json()["streams"] == [
        {
            "stream": {"tag": "app", "level": "info"},
            "values": [
                [str(T0), "hello", {"trace_id": "0242ac", "seq": "7"}],
                [str(T0 + 1), "docker style line\n"],
            ],
        }
    ]


def test_path_prefix_is_kept_before_the_push_path(receiver: HttpReceiver) -> None:
    LokiOutput(LokiOutputConfig.from_url(receiver.url.replace("http", "loki+http") + "/gateway/")).send(
        [Record("a", T0, {})]
    )
    full = LokiOutput(LokiOutputConfig.from_dict({"url": receiver.url + "/x/loki/api/v1/push"}))
    full.send([Record("a", T0, {})])
    assert [r.target for r in receiver.requests] == ["/gateway/loki/api/v1/push", "/x/loki/api/v1/push"]


@pytest.mark.parametrize(
    ("status", "outcome"), [(429, Outcome.RETRY), (502, Outcome.RETRY), (400, Outcome.REJECTED)]
)
def test_loki_errors(receiver: HttpReceiver, status: int, outcome: Outcome) -> None:
    receiver.script(Reply(status, b"entry out of order"))
    result = loki_output(receiver).send([Record("a", T0, {})])
    assert result.outcome is outcome
    assert "entry out of order" in result.reason
