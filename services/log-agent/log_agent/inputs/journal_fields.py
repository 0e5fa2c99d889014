"""Pure parts of the journald input: one journalctl entry -> ``(time_ns, record)``, the
unit/container filter, and joining the pieces of a line Docker split.

Field mapping (balenaEngine and Docker run with the journald log driver):

=======================  =====================================================================
record key               journal field
=======================  =====================================================================
message                  MESSAGE; a JSON array of byte values (journalctl's form for binary or
                         non-UTF-8 data) becomes text when it is UTF-8, else stays bytes (bin)
service                  CONTAINER_NAME without balena's ``_<imageId>_<releaseId>[_<commit>]``
                         suffix; else SYSLOG_IDENTIFIER, else _SYSTEMD_UNIT, else _COMM
container_name           CONTAINER_NAME
container_id             CONTAINER_ID_FULL (else CONTAINER_ID)
image                    IMAGE_NAME
stream                   container entries only: PRIORITY 3 -> stderr, 6 -> stdout (the engine's)
level                    PRIORITY 0-7 -> emergency ... debug
unit, host, pid          _SYSTEMD_UNIT, _HOSTNAME, _PID
time                     __REALTIME_TIMESTAMP (microseconds) at full precision
=======================  =====================================================================
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from typing import Any

from ..processors.base import TimedRecord
from ..processors.level import SYSLOG_NAMES

# balena names a service's container <service>_<imageId>_<releaseId>[_<commit>]
_BALENA_NAME = re.compile(r"^(?P<service>.+?)_\d+_\d+(?:_[0-9a-f]+)?$")
_STREAMS = {"3": "stderr", "6": "stdout"}
_COPIED = (("CONTAINER_NAME", "container_name"), ("IMAGE_NAME", "image"), ("_SYSTEMD_UNIT", "unit"),
           ("_HOSTNAME", "host"), ("_PID", "pid"), ("SYSLOG_IDENTIFIER", "syslog_identifier"))
# What journalctl is asked for (--output-fields; the __CURSOR/__REALTIME_TIMESTAMP kind always come):
# formatting and parsing the thirty-odd fields of a real entry costs more than reading it.
FIELDS_READ = ("MESSAGE", "PRIORITY", "CONTAINER_ID", "CONTAINER_ID_FULL", "_COMM",
               "CONTAINER_PARTIAL_MESSAGE", "CONTAINER_PARTIAL_ID", "CONTAINER_PARTIAL_ORDINAL",
               "CONTAINER_PARTIAL_LAST", *(name for name, _ in _COPIED))


def extra_field_key(name: str) -> str:
    """The record key of an ``extra_fields`` journal field: ``_SYSTEMD_SLICE`` -> ``systemd_slice``."""
    return name.lstrip("_").lower()


def field_value(value: Any) -> str | bytes | None:
    """One field as journalctl gave it (export form: bytes; JSON form: a string, or an array of byte
    values for binary data) -> str (UTF-8) or bytes. A field that occurs several times in an entry
    comes as an array of values in JSON: the first one is taken."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        if value and all(isinstance(item, int) for item in value):
            raw = bytes(value)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw
        return field_value(value[0]) if value else None
    return str(value)


def text(entry: dict[str, Any], name: str) -> str | None:
    return _text(entry.get(name))


@functools.lru_cache(maxsize=256)  # a device runs a handful of containers
def service_name(container_name: str) -> str:
    match = _BALENA_NAME.match(container_name)
    return match.group("service") if match else container_name


def _text(value: Any) -> str | None:
    """``text()`` for a value already fetched; the common case (a str) costs one check."""
    if value is None or value.__class__ is str:
        return value
    value = field_value(value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def to_record(entry: dict[str, Any], extra_fields: Sequence[str] = ()) -> TimedRecord:
    get = entry.get
    realtime = _text(get("__REALTIME_TIMESTAMP"))
    time_ns = int(realtime) * 1000 if realtime and realtime.isdigit() else 0
    message = get("MESSAGE")
    if message.__class__ is not str:
        message = field_value(message)
    record: dict[str, Any] = {"message": "" if message is None else message}
    for journal_key, key in _COPIED:
        value = _text(get(journal_key))
        if value is not None:
            record[key] = value
    container = record.get("container_name")
    container_id = _text(get("CONTAINER_ID_FULL")) or _text(get("CONTAINER_ID"))
    if container_id:
        record["container_id"] = container_id
    priority = _text(get("PRIORITY"))
    if container is not None:
        record["service"] = service_name(container)
        if priority in _STREAMS:
            record["stream"] = _STREAMS[priority]
    else:
        service = record.get("syslog_identifier") or record.get("unit") or _text(get("_COMM"))
        if service:
            record["service"] = service
    if priority and priority.isdigit() and int(priority) < len(SYSLOG_NAMES):
        record["level"] = SYSLOG_NAMES[int(priority)]
    for name in extra_fields:
        value = field_value(get(name))
        if value is not None:
            record[extra_field_key(name)] = value
    return time_ns, record


class EntryFilter:
    """Units and containers to read (glob patterns; empty include = all) and to skip. An entry passes
    when it matches an include pattern (if any are given) and no exclude pattern. Containers match on
    CONTAINER_NAME and on the service name derived from it."""

    def __init__(self, include_units: Sequence[str] = (), exclude_units: Sequence[str] = (),
                 include_containers: Sequence[str] = (), exclude_containers: Sequence[str] = ()) -> None:
        self._include_units, self._exclude_units = tuple(include_units), tuple(exclude_units)
        self._include_containers = tuple(include_containers)
        self._exclude_containers = tuple(exclude_containers)
        self.filters_anything = any((include_units, exclude_units, include_containers, exclude_containers))

    @staticmethod
    def _any(names: Sequence[str], patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in patterns)

    def passes(self, entry: dict[str, Any]) -> bool:
        if not self.filters_anything:
            return True
        unit = text(entry, "_SYSTEMD_UNIT")
        units = (unit,) if unit else ()
        container = text(entry, "CONTAINER_NAME")
        containers = (container, service_name(container)) if container else ()
        included = (self._any(units, self._include_units)
                    or self._any(containers, self._include_containers))
        if (self._include_units or self._include_containers) and not included:
            return False
        return not (self._any(units, self._exclude_units)
                    or self._any(containers, self._exclude_containers))


def partial_piece(entry: dict[str, Any]) -> tuple[Any, int, bool] | None:
    """(key, ordinal, last) when the entry is a piece of a line the engine split, else None.

    Newer engines set CONTAINER_PARTIAL_ID/ORDINAL/LAST on every piece and CONTAINER_PARTIAL_MESSAGE
    on all but the last; older ones only the flag. The piece without the flag ends the line too
    (some engines always write LAST=false: moby "CONTAINER_PARTIAL_LAST is always false")."""
    partial_id = text(entry, "CONTAINER_PARTIAL_ID")
    flagged = (text(entry, "CONTAINER_PARTIAL_MESSAGE") or "").lower() == "true"
    if partial_id is None and not flagged:
        return None
    container = text(entry, "CONTAINER_ID_FULL") or text(entry, "CONTAINER_ID") or text(
        entry, "CONTAINER_NAME")
    ordinal_text = text(entry, "CONTAINER_PARTIAL_ORDINAL") or ""
    ordinal = int(ordinal_text) if ordinal_text.isdigit() else 0
    last = (text(entry, "CONTAINER_PARTIAL_LAST") or "").lower() == "true" or not flagged
    return (container, partial_id), ordinal, last


_CONTAINER_DIR = re.compile(r"/containers/([0-9a-f]{64})/")


def own_container_id(mountinfo: str | None = None) -> str | None:
    """The 64-hex id of the container this process runs in (Docker and balenaEngine bind-mount
    /etc/hostname, /etc/hosts and resolv.conf from ``.../containers/<id>/``), or None outside one."""
    if mountinfo is None:
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
                mountinfo = handle.read()
        except OSError:
            return None
    match = _CONTAINER_DIR.search(mountinfo)
    return match.group(1) if match else None


def cursor_seqnum(cursor: str) -> tuple[str, int] | None:
    """(seqnum id, seqnum) of a journal cursor ``s=...;i=<hex>;...``, or None if it has neither."""
    parts = dict(part.split("=", 1) for part in cursor.split(";") if "=" in part)
    try:
        return parts["s"], int(parts["i"], 16)
    except (KeyError, ValueError):
        return None
