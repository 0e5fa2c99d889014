"""openapi.yaml is a valid OpenAPI 3.1 document, documents every route of both apps, and matches answers."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parents[3] / "services" / "wifi-connect" / "openapi.yaml"
UNDOCUMENTED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def test_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def openapi_path(rule: str) -> str:
    """bottle's /<mount:re:static|css>/<filename:path> -> /{mount}/{filename}"""
    return re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", rule)


def documented_methods(spec: dict, path: str) -> set[str]:
    item = spec["paths"][path]
    if "$ref" in item:
        item = spec["components"]["pathItems"][item["$ref"].rsplit("/", 1)[1]]
    return {method.upper() for method in item if method in {"get", "post", "put", "delete", "patch"}}


@pytest.mark.parametrize("app_fixture", ["portal_app", "control_app"])
def test_every_route_is_documented(spec, app_fixture, request):
    app = request.getfixturevalue(app_fixture)
    for route in app.routes:
        path = openapi_path(route.rule)
        assert path in spec["paths"], f"{route.rule} is not in openapi.yaml"
        missing = {route.method} - UNDOCUMENTED_METHODS - documented_methods(spec, path)
        assert not missing, f"{sorted(missing)} {route.rule} not in openapi.yaml"


def schema_validator(spec: dict, name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", **spec})


def test_answers_match_the_documented_schemas(spec, client):
    for row in client.get("/networks").get_json():
        schema_validator(spec, "Network").validate(row)
    schema_validator(spec, "Status").validate(client.get("/status").get_json())
    attempt = client.post("/connect", json={"ssid": "HomeNet", "passphrase": "wrong pass"}).get_json()
    schema_validator(spec, "Attempt").validate(attempt)
    schema_validator(spec, "Status").validate(client.get("/status").get_json())
    error = client.post("/connect", json={"ssid": ""}).get_json()
    schema_validator(spec, "Error").validate(error)
