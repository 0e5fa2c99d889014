"""The setup network as a QR code a phone's camera joins: ``WIFI:S:<ssid>;T:WPA;P:<passphrase>;;``.

The payload is the de-facto standard from ZXing's "Barcode Contents" (what iOS and Android cameras read):
``T:WPA`` with ``P:`` for a WPA2 access point, ``T:nopass`` for an open one; ``\\``, ``;``, ``,``, ``:``
and ``"`` in the SSID or the passphrase are escaped with a backslash. The text is encoded as UTF-8 (a
non-ASCII SSID reads back right on phones, which assume UTF-8). The SVG (segno) is self-contained: no
fonts, scripts, links or external resources, a white quiet zone of 4 modules and a ``viewBox`` so it
scales to any size.

The passphrase is a secret: this is served only on the loopback control API and never logged.
"""

from __future__ import annotations

import io

import segno

SPECIAL = '\\;,:"'


def escape(text: str) -> str:
    """Backslash before each of ``\\ ; , : "`` (the WIFI: payload's special characters)."""
    return "".join(f"\\{char}" if char in SPECIAL else char for char in text)


def wifi_payload(ssid: str, passphrase: str | None) -> str:
    """The WIFI: text for the setup access point (WPA2 when it has a passphrase, else open)."""
    if passphrase:
        return f"WIFI:S:{escape(ssid)};T:WPA;P:{escape(passphrase)};;"
    return f"WIFI:S:{escape(ssid)};T:nopass;;"


def setup_qr_svg(ssid: str, passphrase: str | None) -> bytes:
    """An SVG document of the QR code (error correction M, the smallest version that fits)."""
    code = segno.make(wifi_payload(ssid, passphrase), encoding="utf-8", error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=1, border=4, dark="#000", light="#fff", xmldecl=True,
              svgns=True, omitsize=True, title=f"Join the WiFi network {ssid}", nl=True)
    return out.getvalue()
