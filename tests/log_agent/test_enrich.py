"""Device identity enrichment: documented keys from balena's env, the app's own keys always win."""

from __future__ import annotations

import socket

import pytest
from log_agent.enrich import Enricher, IdentityConfig
from log_agent.errors import ConfigError
from log_agent.models import Record

BALENA_ENV = {
    "BALENA_DEVICE_UUID": "7c5a1f",
    "BALENA_DEVICE_NAME_AT_INIT": "frosty-pond",
    "BALENA_APP_NAME": "greenhouse",
    "BALENA_APP_ID": "1234",
    "BALENA_SERVICE_NAME": "sensor",
    "UNRELATED": "x",
}
IDENTITY = {
    "uuid": "7c5a1f",
    "name": "frosty-pond",
    "app_name": "greenhouse",
    "app_id": "1234",
    "hostname": "host-1",
}


def enricher(env: dict[str, str] = BALENA_ENV, **options: object) -> Enricher:
    return Enricher.from_config(IdentityConfig.from_dict(options), env, hostname="host-1")


def test_identity_from_balena_env_under_the_device_key() -> None:
    (record,) = enricher()([Record("app", 1, {"message": "hi"})])
    # no "service": BALENA_SERVICE_NAME is the agent's own service, the same on every record
    assert record == Record("app", 1, {"message": "hi", "device": IDENTITY})


def test_unset_or_empty_variables_are_left_out() -> None:
    env = {"BALENA_DEVICE_UUID": "7c5a1f", "BALENA_APP_NAME": ""}
    (record,) = enricher(env)([Record("app", 1, {})])
    assert record.record["device"] == {"uuid": "7c5a1f", "hostname": "host-1"}


def test_the_apps_own_keys_win() -> None:
    records = [
        Record("a", 1, {"device": "thermostat-3"}),  # not a map: untouched
        Record("a", 2, {"device": {"name": "custom", "slot": 2}}),  # a map: only missing sub-keys filled
    ]
    first, second = enricher()(records)
    assert first.record == {"device": "thermostat-3"}
    assert second.record["device"] == {**IDENTITY, "name": "custom", "slot": 2}


def test_input_records_are_not_mutated() -> None:
    original = {"nested": {"device": "inner"}, "device": {"slot": 1}}
    enricher()([Record("a", 1, original)])
    assert original == {"nested": {"device": "inner"}, "device": {"slot": 1}}


def test_key_static_fields_hostname_and_disable() -> None:
    (record,) = enricher(key="_host", hostname=False, fields={"site": "plant-3"})([Record("a", 1, {})])
    without_hostname = {k: v for k, v in IDENTITY.items() if k != "hostname"}
    assert record.record == {"_host": {**without_hostname, "site": "plant-3"}}
    batch = [Record("a", 1, {})]
    assert enricher(enabled=False)(batch) is batch


def test_default_hostname_is_the_real_one() -> None:
    (record,) = Enricher.from_config(IdentityConfig(), {})([Record("a", 1, {})])
    assert record.record["device"] == {"hostname": socket.gethostname()}


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"key": "bad key"}, "identity.key"),
        ({"fields": ["x"]}, "identity.fields"),
        ({"uuid": "x"}, "identity.uuid"),
    ],
)
def test_bad_identity_config_names_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        IdentityConfig.from_dict(options)
    assert caught.value.key == key
