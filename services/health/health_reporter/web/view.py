"""What the dashboard shows, decided here so the template only lays it out: one state per check card with
the colour and the words that go with it, the header's worst current reading, sizes and errors in the
words a person uses.

A card is in one of five states, each with its own colour class and its own word, so colour and text can
never disagree: ok, warning, critical, unknown ("not measured"), and pending (a condition check waiting
out its debounce, rising or clearing: neither the old level's colour nor the new one's).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024
GIB = 1024 * MIB
WORDS = {
    "ok": "OK", "warning": "Warning", "critical": "Critical", "unknown": "Not measured", "pending": "Pending",
}  # fmt: skip
LEVELS = ("unknown", "ok", "warning", "critical")  # in rising order, as models.Level
# A sidecar probe's failure reason (collectors.local_http.REASONS) as a person would say it.
REASON_WORDS = {
    "timeout": "not answering (timed out)",
    "refused": "not running (connection refused)",
    "reset": "dropped the connection",
    "unreachable": "cannot be reached",
    "name_unresolved": "its address does not resolve",
    "http_4xx": "refuses the health probe (HTTP 4xx)",
    "http_5xx": "answers with a server error (HTTP 5xx)",
    "bad_response": "answers something unexpected",
}


@dataclass(frozen=True, slots=True)
class CheckView:
    name: str
    title: str
    level: str  # the confirmed level (data-status)
    shown: str  # the state drawn: a level, or "pending"
    word: str
    text: str  # what was observed
    detail: str  # since when, or what the pending state waits for

    @classmethod
    def of(cls, check: Mapping[str, Any]) -> CheckView:
        level, pending = check["status"], check.get("pending")
        observed = _observation(check)
        if pending:
            target = pending["status"]
            rising = LEVELS.index(target) > LEVELS.index(level)
            wait = f"{pending['so_far']} of {pending['after']} samples"
            if rising:
                detail = f"{WORDS[target]} if it persists ({wait})"
            else:
                detail = f"back to {WORDS[target]} if it holds ({wait}); still {WORDS[level].lower()}"
            return cls(check["check"], check["title"], level, "pending", WORDS["pending"], observed, detail)
        detail = f"since {clock(check['since'])}"
        return cls(check["check"], check["title"], level, level, WORDS[level], observed, detail)


def _observation(check: Mapping[str, Any]) -> str:
    """The message without the debounce suffix /status adds (the card says that in its own line)."""
    message, pending = str(check["message"]), check.get("pending")
    if pending:  # checks.base.Pending.describe, as CheckState.to_json appended it
        rising = LEVELS.index(pending["status"]) > LEVELS.index(check["status"])
        target = pending["status"] if rising else f"back to {pending['status']}"
        waited = f"{pending['after']} samples, {pending['so_far']} so far"
        message = message.removesuffix(f" ({target} after {waited})")
    return message


@dataclass(frozen=True, slots=True)
class Header:
    shown: str
    word: str
    note: str  # e.g. "sidecar not confirmed yet"


def header(status: Mapping[str, Any] | None) -> Header:
    """The worst current reading: a pending rise counts, so the badge never says OK while a check's
    latest readings are bad (the confirmed overall is /status's "status")."""
    if status is None:
        return Header("starting", "Starting", "")
    worst = status.get("worst_reading", status["status"])
    waiting = [
        check["title"]
        for check in status["checks"]
        if check.get("pending") and check["pending"]["status"] == worst and check["status"] != worst
    ]
    note = f"not confirmed yet: {', '.join(waiting)}" if waiting and worst != status["status"] else ""
    return Header(worst, WORDS[worst], note)


@dataclass(frozen=True, slots=True)
class SidecarView:
    name: str
    up: bool
    words: str  # "up" or why it is down, in words
    error: str  # the probe's own text, behind <details>
    extra: str  # wifi-connect's state or the log backlog


def sidecar_views(sidecars: Mapping[str, Mapping[str, Any]]) -> list[SidecarView]:
    views = []
    for name, sidecar in sidecars.items():
        up = bool(sidecar.get("up"))
        reason = sidecar.get("reason")
        words = "up" if up else f"down: {REASON_WORDS.get(str(reason), 'not answering')}"
        error = "" if up else str(sidecar.get("error") or "")
        views.append(SidecarView(name, up, words, error, _extra(sidecar)))
    return views


def _extra(sidecar: Mapping[str, Any]) -> str:
    if sidecar.get("state"):
        return str(sidecar["state"])
    if sidecar.get("backlog_records") is not None:
        return f"backlog {quantity(sidecar['backlog_records'], 'records')}"
    if sidecar.get("backlog_bytes") is not None:
        return f"backlog {quantity(sidecar['backlog_bytes'], 'bytes')}"
    return ""


def size_pair(used_mib: float | None, total_mib: float | None) -> tuple[str, str]:
    """("25.2 GB", "of 252 GB"): both in the total's unit, GB from 10 GB up, else MB (MiB-based, as
    /status and the balena supervisor count them)."""
    if used_mib is None or total_mib is None:
        return "–", ""
    if total_mib * MIB >= 10 * GIB:
        return f"{_gb(used_mib * MIB)} GB", f"of {_gb(total_mib * MIB)} GB"
    return f"{used_mib:.0f} MB", f"of {total_mib:.0f} MB"


def _gb(size: float) -> str:
    gigabytes = size / GIB
    return f"{gigabytes:.0f}" if gigabytes >= 100 else f"{gigabytes:.1f}"


def fmt(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.1f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def quantity(value: float | None, unit: str) -> str:
    """ "12 records", "55 °C", or for bytes "4.0 KiB" (a log backlog, in the agent's binary units)."""
    if value is None:
        return "–"
    if unit == "bytes":
        return _binary_size(value)
    return f"{fmt(value)} {unit}"


def _binary_size(value: float) -> str:
    if value < 1024:
        return f"{value:.0f} Bytes"
    size, unit = value / 1024, "KiB"
    for bigger in ("MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


def clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))
