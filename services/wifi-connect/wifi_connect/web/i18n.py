"""The portal in the phone's language: ``Accept-Language`` picks one of the bundled translations.

One file per language, ``web/locales/<code>.json`` (a primary language subtag: ``de``, ``pt``, ``zh``):
a flat JSON object from message keys to text with ``{name}`` placeholders. ``en.json`` has every key
and is the fallback for a key a translation lacks. To add a language, copy ``en.json`` to
``<code>.json`` and translate the values (keep the placeholders); the tests then render it in Chromium
at a phone's width. Text is HTML-escaped by the templates like any other value.

Negotiation (RFC 9110 section 12.5.4, simplified): the header is cut at 1 KiB and 32 entries; ranges are
tried by q-value, then order; ``pt-BR`` or ``zh-Hant-TW`` match ``pt`` or ``zh`` by their primary subtag;
``*`` or nothing bundled -> English.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locales"
DEFAULT = "en"
MAX_HEADER = 1024
MAX_RANGES = 32
RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


@functools.cache
def catalogs() -> Mapping[str, Mapping[str, str]]:
    """Every bundled translation, read on the first page served: the daemon, which serves no page when
    gunicorn serves the portal, does not keep them (~0.8 MiB)."""
    loaded = {}
    for path in sorted(LOCALES.glob("*.json")):
        loaded[path.stem] = {str(k): str(v) for k, v in json.loads(path.read_text("utf-8")).items()}
    return loaded


def negotiate(header: str | None) -> str:
    """The bundled language the ``Accept-Language`` header prefers most, else English."""
    ranked: list[tuple[float, int, str]] = []
    for order, item in enumerate((header or "")[:MAX_HEADER].split(",")[:MAX_RANGES]):
        match = RANGE.match(item)
        if not match:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranked.append((-quality, order, match.group(1).lower()))
    for _, _, language_range in sorted(ranked):
        primary = language_range.split("-", 1)[0]
        if primary == "*":
            return DEFAULT
        if primary in catalogs():
            return primary
    return DEFAULT


@dataclass(frozen=True, slots=True)
class Translator:
    """``t("key", ssid=...)``: the text in ``lang`` (English when the translation lacks the key)."""

    lang: str = DEFAULT

    def __call__(self, key: str, **values: object) -> str:
        text = catalogs().get(self.lang, {}).get(key) or catalogs()[DEFAULT][key]
        return text.format(**values) if values else text


def for_header(header: str | None) -> Translator:
    return Translator(negotiate(header))
