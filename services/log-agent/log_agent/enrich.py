"""Device identity added to every record, so the back end can tell devices and services apart.

Under one key (default "device"), from the environment balena sets for each service:

    uuid      BALENA_DEVICE_UUID
    name      BALENA_DEVICE_NAME_AT_INIT
    app_name  BALENA_APP_NAME
    app_id    BALENA_APP_ID
    hostname  the container's hostname (unless identity.hostname is false)

BALENA_SERVICE_NAME is deliberately not used: in the agent's container it names the agent's own
service (log-agent), not the app that logged the line. The app is told apart by the tag (Docker's
fluentd driver: ``tag: "{{.Name}}"``).

plus any static ``identity.fields`` (site, fleet...). Variables that are unset or empty are left out.
An app's own keys always win: a record that already has "device" keeps it; if it is a map, only the
missing sub-keys are filled in.

Records stay msgpack bytes: the identity is encoded once (``splice``) and spliced into each record map
by ``protocol.walk`` (map header + 1, the encoded pair appended). Only a record whose bytes contain
the encoded key is decoded, to apply the rule above exactly (``enrich``).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import msgpack

from .confparse import dataclass_from_dict
from .errors import ConfigError
from .models import Record
from .protocol.walk import Splice

IDENTITY_ENV: dict[str, str] = {
    "uuid": "BALENA_DEVICE_UUID",
    "name": "BALENA_DEVICE_NAME_AT_INIT",
    "app_name": "BALENA_APP_NAME",
    "app_id": "BALENA_APP_ID",
}
_KEY = re.compile(r"^[A-Za-z_@][A-Za-z0-9_.@-]*$")


@dataclass(frozen=True)
class IdentityConfig:
    enabled: bool = True
    key: str = "device"  # the record key the identity map goes under
    hostname: bool = True  # include the hostname
    fields: dict[str, str] = field(default_factory=dict)  # static extras, e.g. {"site": "plant-3"}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        config = dataclass_from_dict(cls, data, "identity")
        if not _KEY.match(config.key):
            raise ConfigError("identity.key", f"not a usable record key: {config.key!r}")
        return config


def device_identity(
    config: IdentityConfig, env: Mapping[str, str], hostname: str | None = None
) -> dict[str, str]:
    """The identity map for this device; ``hostname`` defaults to socket.gethostname()."""
    identity = {key: env[var] for key, var in IDENTITY_ENV.items() if env.get(var)}
    if config.hostname:
        identity["hostname"] = hostname if hostname is not None else socket.gethostname()
    return {**identity, **config.fields}


class Enricher:
    """Callable on a batch: returns new Records (inputs' dicts are not mutated)."""

    def __init__(self, identity: Mapping[str, str], key: str = "device") -> None:
        self._identity = dict(identity)
        self._key = key
        self.splice: Splice | None = None
        if self._identity:
            packed_key = msgpack.packb(key, use_bin_type=True)
            pair = packed_key + msgpack.packb(self._identity, use_bin_type=True)
            self.splice = Splice(pair, 1, packed_key, self.merge)

    @classmethod
    def from_config(cls, config: IdentityConfig, env: Mapping[str, str], hostname: str | None = None) -> Self:
        identity = device_identity(config, env, hostname) if config.enabled else {}
        return cls(identity, config.key)

    def merge(self, body: dict[Any, Any]) -> dict[Any, Any]:
        """The record map with the identity added (a new dict; the app's own keys win)."""
        existing = body.get(self._key)
        if existing is None:
            merged: Any = dict(self._identity)
        elif isinstance(existing, dict):
            merged = {**self._identity, **existing}  # the app's sub-keys win
        else:
            return body  # the app uses this key for something else: leave it alone
        return {**body, self._key: merged}

    def enrich(self, record: Record) -> Record:
        body = self.merge(record.record)
        return record if body is record.record else Record(record.tag, record.time_ns, body)

    def __call__(self, records: list[Record]) -> list[Record]:
        if not self._identity:
            return records
        return [self.enrich(r) for r in records]
