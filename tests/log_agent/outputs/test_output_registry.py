"""The output registry and LOG_AGENT_OUTPUT URLs: scheme -> kind -> config, errors naming the key."""

from __future__ import annotations

import pytest
from log_agent.errors import ConfigError
from log_agent.outputs import (
    REGISTRY,
    SCHEMES,
    build_output,
    config_from_dict,
    config_from_url,
    kind_of_url,
    output_from_url,
)


def test_every_kind_resolves_to_a_config_and_an_output_class() -> None:
    assert set(REGISTRY) == {"forward", "http", "loki", "elasticsearch", "file", "stdout"}
    for kind, (config_class, output_class) in REGISTRY.items():
        assert hasattr(config_class, "from_dict") and hasattr(config_class, "from_url"), kind
        assert callable(output_class.send), kind
    assert set(SCHEMES.values()) == set(REGISTRY)


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        ("forward://collector:24224", "forward", {"host": "collector", "port": 24224, "tls": False}),
        ("forwards://collector", "forward", {"tls": True}),
        (
            "https://ingest.example.com/v1/logs?key=a",
            "http",
            {"url": "https://ingest.example.com/v1/logs?key=a"},
        ),
        ("loki+https://logs.example.com", "loki", {"url": "https://logs.example.com"}),
        ("es+http://es:9200/device-logs", "elasticsearch", {"url": "http://es:9200", "index": "device-logs"}),
        ("file:///var/log/agent.jsonl", "file", {"path": "/var/log/agent.jsonl"}),
        ("stdout:", "stdout", {"stream": "stdout"}),
    ],
)
def test_urls_select_the_kind_and_fill_the_config(url: str, kind: str, expected: dict[str, object]) -> None:
    found_kind, config = config_from_url(url)
    assert found_kind == kind
    assert {key: getattr(config, key) for key in expected} == expected


def test_yaml_options_override_what_the_url_says() -> None:
    _, config = config_from_url("loki+http://loki:3100?gzip=true", {"gzip": False, "tenant_id": "t"})
    assert (config.gzip, config.tenant_id) == (False, "t")


def test_unknown_scheme_names_the_key_and_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        kind_of_url("ftp://host/x", "outputs[1].url")
    assert str(caught.value).startswith("outputs[1].url: unsupported scheme 'ftp'")
    assert "loki+https:" in str(caught.value)


def test_outputs_get_the_given_name() -> None:
    assert output_from_url("stdout:", name="console").name == "console"
    _, config = config_from_url("http://h/x")
    assert build_output("http", config).name == "http"


def test_secrets_in_urls_stay_out_of_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_url("loki+http://user:hunter2@loki:3100?line_format=bogus")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "options", "key"),
    [
        ("http", {"url": "ftp://host/x"}, "http.url"),
        ("http", {"url": "http://h", "format": "xml"}, "http.format"),
        ("http", {"url": "http://h:port/x"}, "http.url"),
        ("http", {"url": "http://h", "timeout_s": 0}, "http.timeout_s"),
        ("http", {"url": "http://h", "timeout_s": "soon"}, "http.timeout_s"),
        ("http", {"url": "http://h", "gzip": "maybe"}, "http.gzip"),
        ("http", {"url": "http://h", "headers": ["a"]}, "http.headers"),
        ("http", {"url": "http://h", "password": "x"}, "http.username"),
        ("http", {"url": "http://h", "tls_ca_file": "/nonexistent/ca.pem"}, "http.tls_ca_file"),
        ("http", {"url": "http://h", "colour": "red"}, "http.colour"),
        ("http", {}, "http.url"),
        ("loki", {"labels": {"bad-name": "$tag"}}, "loki.labels.bad-name"),
        ("loki", {"static_labels": {"1st": "x"}}, "loki.static_labels.1st"),
        ("loki", {"labels": {"level": "level"}, "static_labels": {}}, "loki.labels"),
        ("loki", {"line_format": "logfmt"}, "loki.line_format"),
        ("loki", {"labels": "tag"}, "loki.labels"),
        ("loki", {"tenant": "a"}, "loki.tenant"),
        ("elasticsearch", {"index": "Upper"}, "elasticsearch.index"),
        ("elasticsearch", {"index": "a b"}, "elasticsearch.index"),
        ("elasticsearch", {"index": ""}, "elasticsearch.index"),
        ("elasticsearch", {"id": "x"}, "elasticsearch.id"),
        ("file", {"path": "relative.jsonl"}, "file.path"),
        ("file", {}, "file.path"),
        ("file", {"path": "/tmp/edge-sidecars-test-output.jsonl", "max_bytes": "lots"}, "file.max_bytes"),
        ("file", {"path": "/tmp/edge-sidecars-test-output.jsonl", "keep": -1}, "file.keep"),
        ("file", {"path": "/tmp/edge-sidecars-test-output.jsonl", "fsync": "always"}, "file.fsync"),
        ("file", {"path": "/tmp/edge-sidecars-test-output.jsonl", "rotate": 3}, "file.rotate"),
        ("stdout", {"stream": "tty"}, "stdout.stream"),
    ],
)
def test_bad_output_config_names_the_key(kind: str, options: dict[str, object], key: str) -> None:
    if kind in ("loki", "elasticsearch"):
        options = {"url": "http://server:3100", **options}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(kind, options)
    assert caught.value.key == key
