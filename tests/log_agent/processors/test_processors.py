"""Processors, table-driven: each kind's effect on a batch, its config errors, and the chain."""

from __future__ import annotations

from typing import Any

import pytest
from log_agent.errors import ConfigError
from log_agent.processors import Chain, parse_processors
from log_agent.processors.level import normalise
from log_agent.processors.partial import DockerPartial, DockerPartialConfig
from log_agent.processors.rate_limit import RateLimit, RateLimitConfig


def run(items: list[dict[str, Any]], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chain = Chain.build(parse_processors(items, "processors"))
    return [record for _, record in chain([(i, record) for i, record in enumerate(records)])]


@pytest.mark.parametrize("items, records, expected", [
    # parse_json: merge (source removed), nest, keep_source, not JSON, not an object, bytes JSON
    ([{"type": "parse_json"}], [{"message": '{"a": 1, "level": "warn"}', "host": "h"}],
     [{"host": "h", "a": 1, "level": "warn"}]),
    ([{"type": "parse_json", "mode": "nest", "target": "data"}], [{"message": '{"a": 1}'}],
     [{"message": '{"a": 1}', "data": {"a": 1}}]),
    ([{"type": "parse_json", "keep_source": True}], [{"message": ' {"a": 1}'}],
     [{"message": ' {"a": 1}', "a": 1}]),
    ([{"type": "parse_json"}], [{"message": "plain {text"}, {"message": "[1, 2]"}, {"message": "{bad"}],
     [{"message": "plain {text"}, {"message": "[1, 2]"}, {"message": "{bad"}]),
    ([{"type": "parse_json", "source": "log"}], [{"log": b'{"b": "x"}'}], [{"b": "x"}]),
    ([{"type": "parse_json", "max_bytes": 5}], [{"message": '{"a": 1}'}], [{"message": '{"a": 1}'}]),
    # level: names, numbers (syslog and pino), the first source present, unknown left alone
    ([{"type": "level"}], [{"level": "WARN"}, {"severity": "E"}, {"level": 3}, {"level": "30"},
                           {"priority": "fatal"}, {"level": "loud"}, {"message": "none"}],
     [{"level": "warning"}, {"severity": "E", "level": "error"}, {"level": "error"}, {"level": "info"},
      {"priority": "fatal", "level": "critical"}, {"level": "loud"}, {"message": "none"}]),
    ([{"type": "level", "sources": ["lvl"], "target": "severity"}], [{"lvl": "dbg"}],
     [{"lvl": "dbg", "severity": "debug"}]),
    # grep: include all must match, exclude any drops, nested fields, missing field
    ([{"type": "grep", "include": {"service": "^api$"}}],
     [{"service": "api", "m": 1}, {"service": "web"}, {"m": 2}], [{"service": "api", "m": 1}]),
    ([{"type": "grep", "exclude": {"message": "healthcheck|ping", "k8s.app": "noisy"}}],
     [{"message": "GET /healthcheck"}, {"message": "real"}, {"message": "x", "k8s": {"app": "noisy"}}],
     [{"message": "real"}]),
    ([{"type": "grep", "include": {"status": "^5"}}], [{"status": 503}, {"status": 200}], [{"status": 503}]),
    # redact: every string anywhere (nested, lists, bytes), or named fields only
    ([{"type": "redact", "patterns": ["password=\\S+", "Bearer [A-Za-z0-9.]+"]}],
     [{"message": "login password=hunter2 ok", "headers": {"auth": "Bearer abc.def"},
       "args": ["x", "password=pw"], "raw": b"\xffpassword=b1n"}],
     [{"message": "login [REDACTED] ok", "headers": {"auth": "[REDACTED]"}, "args": ["x", "[REDACTED]"],
       "raw": b"\xff[REDACTED]"}]),
    ([{"type": "redact", "patterns": "\\d{4}-\\d{4}", "fields": ["message"], "replacement": "****"}],
     [{"message": "card 1234-5678", "other": "1234-5678"}], [{"message": "card ****", "other": "1234-5678"}]),
    # rate_limit: a burst per source, the rest dropped
    ([{"type": "rate_limit", "rate": 0.001, "burst": 2, "key": "service"}],
     [{"service": "a", "n": i} for i in range(4)] + [{"service": "b", "n": 9}],
     [{"service": "a", "n": 0}, {"service": "a", "n": 1}, {"service": "b", "n": 9}]),
    # a chain: parse, normalise, filter on the parsed level
    ([{"type": "parse_json"}, {"type": "level"}, {"type": "grep", "exclude": {"level": "^debug$"}}],
     [{"message": '{"level": "DBG", "m": 1}'}, {"message": '{"level": "ERR", "m": 2}'}],
     [{"level": "error", "m": 2}]),
])
def test_processors(items: list, records: list, expected: list) -> None:
    assert run(items, records) == expected


@pytest.mark.parametrize("items, key", [
    ("parse_json", "processors"),
    ([{"type": "nope"}], "processors[0].type"),
    ([{"mode": "merge"}], "processors[0].type"),
    (["parse_json"], "processors[0]"),
    ([{"type": "parse_json", "mode": "glue"}], "processors[0].mode"),
    ([{"type": "parse_json", "colour": 1}], "processors[0].colour"),
    ([{"type": "grep"}], "processors[0].include"),
    ([{"type": "grep", "include": {"m": "("}}], "processors[0].include.m"),
    ([{"type": "level"}, {"type": "redact"}], "processors[1].patterns"),
    ([{"type": "redact", "patterns": ["ok", "[bad"]}], "processors[0].patterns[1]"),
    ([{"type": "rate_limit", "rate": 0}], "processors[0].rate"),
    ([{"type": "rate_limit", "rate": "fast"}], "processors[0].rate"),
])
def test_bad_processor_config_names_the_key(items: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_processors(items, "processors")
    assert caught.value.key == key


@pytest.mark.parametrize("value, expected", [
    ("Warning", "warning"), ("w", "warning"), (" INFO ", "info"), ("notice", "notice"), ("crit", "critical"),
    ("emerg", "emergency"), ("panic", "emergency"), (0, "emergency"), (7, "debug"), ("6", "info"),
    (10, "trace"), (60, "critical"), (b"err", "error"), (8, None), ("", None), (True, None), (None, None),
])
def test_level_names(value: Any, expected: str | None) -> None:
    assert normalise(value) == expected


def test_rate_limit_refills_and_counts_drops_per_source() -> None:
    now = [0.0]
    limiter = RateLimit(RateLimitConfig.from_dict({"rate": 10, "key": "service"}), clock=lambda: now[0])
    batch = [(0, {"service": "chatty"}) for _ in range(25)]
    assert len(limiter(batch)) == 10
    now[0] = 0.5  # half a second: five more tokens
    assert len(limiter(batch)) == 5
    assert limiter.stats.dropped == {"rate_limited": 35}
    assert limiter.dropped_by_source == {"chatty": 35}


def test_rate_limit_keeps_a_bounded_number_of_sources() -> None:
    limiter = RateLimit(RateLimitConfig.from_dict({"rate": 1, "key": "s", "max_sources": 3}))
    limiter([(0, {"s": str(i)}) for i in range(100)])
    assert len(limiter._buckets) == 3


def docker_piece(text: str, ordinal: int, last: bool, partial_id: str = "p1") -> dict[str, Any]:
    """A piece of a long line as Docker's fluentd log driver sends it (strings, as the driver does)."""
    return {"container_id": "c1", "container_name": "/app", "source": "stdout", "log": text,
            "partial_message": "true", "partial_id": partial_id, "partial_ordinal": str(ordinal),
            "partial_last": "true" if last else "false"}


def test_docker_partial_messages_are_joined_and_others_pass_in_order() -> None:
    joiner = DockerPartial(DockerPartialConfig())
    first = joiner([(1, docker_piece("a" * 16384, 1, False)), (2, {"log": "unrelated"}),
                    (3, docker_piece("b" * 16384, 2, False))])
    assert first == [(2, {"log": "unrelated"})]
    (time_ns, record), = joiner([(4, docker_piece("tail", 3, True))])
    assert time_ns == 1 and record["log"] == "a" * 16384 + "b" * 16384 + "tail"
    assert not any(key.startswith("partial") for key in record)
    assert record["container_name"] == "/app"


def test_docker_partial_is_bounded() -> None:
    now = [0.0]
    joiner = DockerPartial(DockerPartialConfig.from_dict({"max_bytes": 10, "max_pending": 1,
                                                          "timeout": "1s"}), clock=lambda: now[0])
    (_, too_long), = joiner([(1, docker_piece("x" * 12, 1, False))])
    assert too_long["partial_incomplete"] is True and too_long["log"] == "x" * 12
    joiner([(2, docker_piece("y", 1, False, "p2"))])
    (_, evicted), = joiner([(3, docker_piece("z", 1, False, "p3"))])  # max_pending 1: oldest let out
    assert evicted["log"] == "y"
    now[0] = 2.0
    (_, overdue), = joiner([])
    assert overdue["log"] == "z" and overdue["partial_incomplete"] is True
