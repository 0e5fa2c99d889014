"""Pure parts of the syslog input: RFC 5424 and RFC 3164 messages -> ``(time_ns, record)``, and TCP
framing (RFC 6587: octet counting ``<len> <msg>`` or one message per line).

Record keys: message, facility, level (severity as in the level processor), host, app, pid, msgid,
structured_data ({sd-id: {param: value}}, 5424 only). Time: the message's timestamp when it has one
(5424 with its offset; 3164 has neither year nor zone: local time, this year, or last year when that
would put it more than a day in the future), else the time it was received.
"""

from __future__ import annotations

import calendar
import re
import time
from datetime import datetime
from typing import Any

from ..processors.base import TimedRecord
from ..processors.level import SYSLOG_NAMES

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1",
              "local2", "local3", "local4", "local5", "local6", "local7")
_PRI = re.compile(rb"^<(\d{1,3})>")
_RFC5424_HEADER = re.compile(
    rb"^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ")  # version timestamp host app procid msgid
_RFC3164_HEADER = re.compile(
    rb"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (?:(\S+) )?")
_TAG = re.compile(r"^([^\s:\[]{1,128})(?:\[([^\]]{1,32})\])?: ?")
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_SD_PARAM = re.compile(rb'\s*([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')
_BOM = b"\xef\xbb\xbf"


class FrameError(ValueError):
    """The TCP stream is not syslog framing, or a frame is over the size limit."""


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _nil(raw: bytes) -> str | None:
    return None if raw == b"-" else raw.decode("utf-8", "replace")


def parse(data: bytes, received_ns: int | None = None) -> TimedRecord:
    """One syslog message (either RFC) -> (time_ns, record); never raises (bad input -> plain text)."""
    received_ns = time.time_ns() if received_ns is None else received_ns
    data = data.rstrip(b"\r\n\x00")
    record: dict[str, Any] = {}
    match = _PRI.match(data)
    if match and int(match.group(1)) < 192:
        facility, severity = divmod(int(match.group(1)), 8)
        record["facility"], record["level"] = FACILITIES[facility], SYSLOG_NAMES[severity]
        data = data[match.end():]
        header = _RFC5424_HEADER.match(data)
        if header and header.group(1) == b"1":
            return _rfc5424(data, header, record, received_ns)
        return _rfc3164(data, record, received_ns)
    record["message"] = _text(data)
    return received_ns, record


def _rfc5424(data: bytes, header: re.Match[bytes], record: dict[str, Any], received_ns: int) -> TimedRecord:
    _, stamp, host, app, procid, msgid = header.groups()
    for key, value in (("host", host), ("app", app), ("pid", procid), ("msgid", msgid)):
        text = _nil(value)
        if text is not None:
            record[key] = text
    rest = data[header.end():]
    structured, rest = _structured_data(rest)
    if structured:
        record["structured_data"] = structured
    if rest.startswith(b" "):
        rest = rest[1:]
    if rest.startswith(_BOM):
        rest = rest[len(_BOM):]
    record["message"] = _text(rest)
    return _rfc3339_ns(stamp) or received_ns, record


def _structured_data(data: bytes) -> tuple[dict[str, dict[str, str]], bytes]:
    if data.startswith(b"-"):
        return {}, data[1:]
    elements: dict[str, dict[str, str]] = {}
    while data.startswith(b"["):
        end_id = re.match(rb"\[([^\s\]]+)", data)
        if end_id is None:
            break
        params: dict[str, str] = {}
        position = end_id.end()
        while True:
            param = _SD_PARAM.match(data, position)
            if param is None:
                break
            value = re.sub(rb'\\(["\\\]])', rb"\1", param.group(2))
            params[param.group(1).decode("utf-8", "replace")] = value.decode("utf-8", "replace")
            position = param.end()
        if data[position:position + 1] != b"]":
            break  # malformed: the rest stays in the message
        elements[end_id.group(1).decode("utf-8", "replace")] = params
        data = data[position + 1:]
    return elements, data


def _rfc3339_ns(stamp: bytes) -> int | None:
    if stamp == b"-":
        return None
    text = stamp.decode("ascii", "replace")
    whole, _, fraction = text.partition(".")
    zone = ""
    if fraction:
        digits = re.match(r"\d*", fraction).group(0)  # type: ignore[union-attr]
        zone = fraction[len(digits):]
    else:
        match = re.search(r"(Z|[+-]\d\d:\d\d)$", whole)
        zone = match.group(1) if match else ""
        whole = whole[: len(whole) - len(zone)]
        digits = ""
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone in ("Z", "") else zone))
    except ValueError:
        return None
    nanos = int((digits + "000000000")[:9]) if digits else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def _rfc3164(data: bytes, record: dict[str, Any], received_ns: int) -> TimedRecord:
    time_ns = received_ns
    header = _RFC3164_HEADER.match(data)
    if header:
        month, day, hour, minute, second, host = header.groups()
        time_ns = _bsd_time_ns(month.decode(), int(day), int(hour), int(minute), int(second),
                               received_ns)
        if host is not None:
            record["host"] = host.decode("utf-8", "replace")
        data = data[header.end():]
    text = _text(data)
    if isinstance(text, str):
        tag = _TAG.match(text)
        if tag:
            record["app"] = tag.group(1)
            if tag.group(2):
                record["pid"] = tag.group(2)
            text = text[tag.end():]
    record["message"] = text
    return time_ns, record


def _bsd_time_ns(month: str, day: int, hour: int, minute: int, second: int, received_ns: int) -> int:
    if month not in _MONTHS:
        return received_ns
    now = time.localtime(received_ns / 1e9)
    for year in (now.tm_year, now.tm_year - 1):
        try:
            seconds = time.mktime((year, _MONTHS[month], day, hour, minute, second, 0, 0, -1))
        except (OverflowError, ValueError):
            return received_ns
        if seconds * 1e9 <= received_ns + 86_400e9:
            return int(seconds) * 1_000_000_000
    return received_ns


class Framer:
    """RFC 6587 TCP framing, both kinds (each frame says which: a digit starts octet counting)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The complete messages ``data`` finishes; FrameError when a frame is over the limit."""
        self.buffer += data
        out: list[bytes] = []
        while self.buffer:
            if self.buffer[:1].isdigit():
                space = self.buffer.find(b" ", 0, 12)
                if space < 0:
                    if len(self.buffer) >= 12:
                        raise FrameError("octet count is not followed by a space")
                    break
                length_text = bytes(self.buffer[:space])
                if not length_text.isdigit():
                    raise FrameError("bad octet count")
                length = int(length_text)
                if length > self.max_bytes:
                    raise FrameError(f"frame of {length} bytes is over the {self.max_bytes}-byte limit")
                if len(self.buffer) < space + 1 + length:
                    break
                out.append(bytes(self.buffer[space + 1:space + 1 + length]))
                del self.buffer[:space + 1 + length]
            else:
                end = self.buffer.find(b"\n")
                if end < 0:
                    if len(self.buffer) > self.max_bytes:
                        raise FrameError(f"line over the {self.max_bytes}-byte limit")
                    break
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 1]
                if line.strip():
                    out.append(line)
        return out
