"""Sample values per metric family from a Prometheus text exposition (0.0.4), enough to sum the log agent's
backlog: prometheus-client's parser would cost the reporter 10 MiB of PSS for this one read."""

from __future__ import annotations

import re

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def family_values(text: str) -> dict[str, list[float]]:
    """{family: [values]}; counter samples are keyed without ``_total`` and ``_created`` samples skipped,
    so a family reads the same whichever way the exporter wrote it. ValueError on a malformed line."""
    values: dict[str, list[float]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _NAME.match(line)
        if match is None:
            raise ValueError(f"line {number}: no metric name")
        name, rest = match[0], line[match.end() :]
        if rest.startswith("{"):
            rest = rest[_labels_end(rest, number) :]
        fields = rest.split()
        if not fields or len(fields) > 2:
            raise ValueError(f"line {number}: expected a value (and a timestamp)")
        try:
            value = float(fields[0])
        except ValueError:
            raise ValueError(f"line {number}: {fields[0][:40]!r} is not a number") from None
        if not name.endswith("_created"):
            values.setdefault(name.removesuffix("_total"), []).append(value)
    return values


def _labels_end(text: str, number: int) -> int:
    """Index just past the ``}`` closing the label set that ``text`` starts with (quotes and escapes
    honoured: a label value may contain ``}``)."""
    quoted = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = quoted
        elif char == '"':
            quoted = not quoted
        elif char == "}" and not quoted:
            return index + 1
    raise ValueError(f"line {number}: unterminated label set")
