"""A setup SSID unique per device: ``PORTAL_SSID="Setup {id4}"`` -> ``Setup 3f9a``.

``{idN}`` (N = 1-12) is replaced by the last N characters of the device's ID: ``BALENA_DEVICE_UUID``
(balena sets it in every container) when set, else the portal interface's MAC address (hex digits,
colons dropped), read from NetworkManager at start. Both are lowercase hex; ``{{`` and ``}}`` are
literal braces. The placeholder's width is fixed, so the finished SSID's length (1-32 bytes) is
checked when the settings are read, before any device is looked at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Config

from .validation import check_ssid

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{id([0-9]{1,2})\}|[{}]")
MAX_ID_CHARS = 12  # a MAC address has 12 hex digits
HEX_OR_DASH = re.compile(r"[0-9a-fA-F-]+")


def _expand(template: str, device_id: str) -> str:
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("{{", "}}"):
            return text[0]
        if match.group(1) is None:
            raise ValueError("has a lone '{' or '}' (write {{ or }} for a literal brace; the only "
                             "placeholder is {idN}, N = 1-12)")
        width = int(match.group(1))
        if not 1 <= width <= MAX_ID_CHARS:
            raise ValueError(f"{{id{width}}}: N must be 1-{MAX_ID_CHARS}")
        return device_id[-width:].rjust(width, "0")

    return PLACEHOLDER.sub(replace, template)


def has_placeholder(template: str) -> bool:
    return any(match.group(1) is not None for match in PLACEHOLDER.finditer(template))


def check_template(template: str) -> str:
    """The template as given if its SSID will be 1-32 bytes whatever the ID (the placeholders' width is
    fixed); ValueError or InputError says why not."""
    check_ssid(_expand(template, "0" * MAX_ID_CHARS))
    return template


def device_id_from(text: str) -> str:
    """Lowercase hex digits of a device UUID or a MAC address ("" when there are none)."""
    if text and not HEX_OR_DASH.fullmatch(text.replace(":", "")):
        raise ValueError("must be hex digits (a device UUID or a MAC address)")
    return re.sub(r"[^0-9a-f]", "", text.lower())


def expand(template: str, device_id: str) -> str:
    """The SSID for this device. ``device_id``: hex digits (see ``device_id_from``)."""
    return _expand(template, device_id)


def portal_ssid_for(config: Config, mac_address: Callable[[], str]) -> str:
    """``config.portal_ssid`` expanded with the device ID, or the portal interface's MAC address
    (asked for only when the template needs it and no ID was configured)."""
    template = config.portal_ssid
    if not has_placeholder(template):
        return expand(template, "")  # {{ and }} still become single braces
    return expand(template, config.device_id or device_id_from(mac_address()))
