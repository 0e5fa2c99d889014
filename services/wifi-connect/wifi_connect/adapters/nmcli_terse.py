"""Reading ``nmcli -t -e yes`` (terse, escaped) output: splitting its lines and the wifi scan's rows."""

from __future__ import annotations

from ..models import AccessPoint, Security

SCAN_FIELDS = "IN-USE,SSID,BSSID,SECURITY,SIGNAL,FREQ"


def split_terse(line: str) -> list[str]:
    """Split one line of ``nmcli -t -e yes`` output: ':' separates, '\\' escapes ':' and '\\'."""
    fields, current, chars = [], [], iter(line)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def escape_terse(field: str) -> str:
    """What nmcli does to a value in terse mode (the inverse of ``split_terse``)."""
    return field.replace("\\", "\\\\").replace(":", "\\:")


def terse_rows(output: str) -> list[list[str]]:
    """Every non-empty line of ``nmcli -t -e yes`` output, split into its fields."""
    return [split_terse(line) for line in output.splitlines() if line]


def parse_scan(output: str) -> list[AccessPoint]:
    """``-t -e yes -f IN-USE,SSID,BSSID,SECURITY,SIGNAL,FREQ device wifi list`` -> access points."""
    return [access_point_from_row(row) for row in terse_rows(output)]


def access_point_from_row(row: list[str]) -> AccessPoint:
    in_use, ssid, bssid, security, signal, frequency = row
    return AccessPoint(
        ssid=ssid,
        bssid=bssid,
        security=Security.from_nmcli(security),
        signal=int(signal or 0),
        frequency=int(frequency.split()[0] if frequency else 0),
        in_use=in_use.strip() == "*",
    )
