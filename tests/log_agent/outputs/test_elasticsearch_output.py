"""elasticsearch output against a local HTTP server: _bulk NDJSON with create actions, per-item errors."""

from __future__ import annotations

import pytest
from log_agent.models import Outcome, Record
from log_agent.outputs.elasticsearch import ElasticsearchOutput, ElasticsearchOutputConfig

from tests.log_agent.http_receiver import HttpReceiver, Reply, bulk_reply
from tests.log_agent.outputs.sample_records import T0, T0_TEXT, make_records


def es_output(receiver: HttpReceiver, path: str = "/logs-device", query: str = "") -> ElasticsearchOutput:
    url = receiver.url.replace("http://", "es+http://") + path + query
    return ElasticsearchOutput(ElasticsearchOutputConfig.from_url(url))


def test_bulk_body_is_create_actions_with_nanosecond_timestamps(receiver: HttpReceiver) -> None:
    receiver.script(bulk_reply([201, 201]))
    records = [
        Record("app.web", T0, {"message": "hi"}),
        Record("app.web", T0 + 1, {"@timestamp": "mine", "tag": 1}),
    ]
    assert es_output(receiver).send(records).outcome is Outcome.DELIVERED
    (request,) = receiver.requests
    assert request.target == "/_bulk"
    assert request.header("Content-Type") == "application/x-ndjson"
    assert request.data.endswith(b"}\n")
    assert request.ndjson() == [
        {"create": {"_index": "logs-device"}},
        {"@timestamp": T0_TEXT, "tag": "app.web", "message": "hi"},
        {"create": {"_index": "logs-device"}},
        {"@timestamp": "mine", "tag": 1},  # the record's own keys win
    ]


def test_partial_errors_reject_only_those_items(receiver: HttpReceiver) -> None:
    receiver.script(bulk_reply([201, 400, 201, 404]))
    result = es_output(receiver).send(make_records(4))
    assert result.outcome is Outcome.DELIVERED
    assert result.rejected == [1, 3]
    assert "2 rejected" in result.reason and "item 1: 400 mapper_parsing_exception" in result.reason


def test_throttled_items_are_retried_without_resending_the_rest(receiver: HttpReceiver) -> None:
    output = es_output(receiver)
    batch = make_records(4)
    receiver.script(bulk_reply([201, 429, 400, 503]), bulk_reply([429, 201]), bulk_reply([201]))
    first = output.send(batch)
    assert first.outcome is Outcome.RETRY
    assert "2 of 4 items" in first.reason
    assert output.send(batch).outcome is Outcome.RETRY  # item 1 throttled again, item 3 stored
    final = output.send(batch)
    assert (final.outcome, final.rejected) == (Outcome.DELIVERED, [2])
    sent = [[doc["seq"] for doc in r.ndjson()[1::2]] for r in receiver.requests]
    assert sent == [[0, 1, 2, 3], [1, 3], [1]]


def test_a_different_batch_after_a_partial_retry_is_sent_whole(receiver: HttpReceiver) -> None:
    output = es_output(receiver)
    receiver.script(bulk_reply([201, 429]), bulk_reply([201, 201, 201]))
    output.send(make_records(2))
    assert output.send(make_records(3, tag="other")).outcome is Outcome.DELIVERED
    assert len(receiver.requests[1].ndjson()) == 6


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(429, b'{"error":"too many requests"}'), Outcome.RETRY),
        (Reply(503), Outcome.RETRY),
        (Reply(401, b'{"error":"unauthorized"}'), Outcome.REJECTED),
        (Reply(200, b"<html>proxy page</html>"), Outcome.RETRY),
        (Reply(200, b'{"errors":false,"items":[]}'), Outcome.RETRY),  # wrong item count
    ],
)
def test_whole_request_failures(receiver: HttpReceiver, reply: Reply, outcome: Outcome) -> None:
    receiver.script(reply)
    assert es_output(receiver).send(make_records(2)).outcome is outcome


def test_url_options_pipeline_gzip_and_opensearch_scheme(receiver: HttpReceiver) -> None:
    url = receiver.url.replace("http://", "opensearch+http://admin:pw@") + "/app-logs?pipeline=geo&gzip=true"
    config = ElasticsearchOutputConfig.from_url(url)
    assert (config.index, config.pipeline, config.gzip, config.username) == ("app-logs", "geo", True, "admin")
    receiver.script(bulk_reply([201]))
    assert ElasticsearchOutput(config).send(make_records(1)).outcome is Outcome.DELIVERED
    request = receiver.requests[0]
    assert request.target == "/_bulk?pipeline=geo"
    assert request.header("Content-Encoding") == "gzip"
    assert request.ndjson()[0] == {"create": {"_index": "app-logs"}}
