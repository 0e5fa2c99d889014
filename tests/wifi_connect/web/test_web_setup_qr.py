"""GET /setup-qr.svg on the control API: the WIFI: payload, escaped, in a self-contained SVG that decodes
back to exactly that payload (from the SVG's own module grid, and with a real QR decoder if installed)."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET

import pytest
import segno
from wifi_connect.setup_qr import escape, setup_qr_svg, wifi_payload
from wifi_connect.web import create_control_app
from wifi_connect.web.control import SetupNetwork

from tests.wifi_connect.web.wsgi_client import WsgiClient

SVG = "{http://www.w3.org/2000/svg}"
ODD = 'Café ;,:"\\ net'


def test_payload_and_escaping_follow_the_wifi_qr_convention():
    assert wifi_payload("Setup 3f9a", "portal-secret-42") == "WIFI:S:Setup 3f9a;T:WPA;P:portal-secret-42;;"
    assert wifi_payload("Open Setup", None) == "WIFI:S:Open Setup;T:nopass;;"
    assert escape('a\\b;c,d:e"f') == 'a\\\\b\\;c\\,d\\:e\\"f'
    expected = 'WIFI:S:Café \\;\\,\\:\\"\\\\ net;T:WPA;P:p\\;a\\:s\\,s\\"\\\\;;'
    assert wifi_payload(ODD, 'p;a:s,s"\\') == expected


def module_grid(svg: bytes) -> list[list[int]]:
    """The QR modules drawn by the SVG: segno draws each dark run as ``h<n>`` on a row at y + 0.5,
    moving with absolute ``M`` once and relative ``m`` after; the quiet zone is cut off again."""
    root = ET.fromstring(svg)
    size = int(root.get("viewBox").split()[2])
    dark = next(p for p in root.iter(f"{SVG}path") if p.get("stroke"))
    grid = [[0] * size for _ in range(size)]
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s+(-?[\d.]+))?", dark.get("d")):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(int(x), int(x + float(a))):
                grid[int(y)][column] = 1
            x += float(a)
    border = 4
    return [row[border:-border] for row in grid[border:-border]]


def matrix_of(payload: str) -> list[list[int]]:
    return [[int(bool(m)) for m in row] for row in segno.make(payload, encoding="utf-8", error="m").matrix]


@pytest.mark.parametrize(("ssid", "passphrase"), [("Setup 3f9a", "portal-secret-42"), (ODD, None)])
def test_the_svg_holds_exactly_the_payload(ssid, passphrase):
    svg = setup_qr_svg(ssid, passphrase)
    assert module_grid(svg) == matrix_of(wifi_payload(ssid, passphrase))
    assert module_grid(svg) != matrix_of(wifi_payload(ssid, "something else"))


def test_a_real_decoder_reads_the_payload_back():
    zxingcpp = pytest.importorskip("zxingcpp")
    numpy = pytest.importorskip("numpy")
    for ssid, passphrase in (("Setup 3f9a", "portal-secret-42"), (ODD, 'p;a:s,s"\\')):
        grid = module_grid(setup_qr_svg(ssid, passphrase))
        quiet = 4
        padded = numpy.pad(numpy.array(grid, dtype=numpy.uint8), quiet)
        image = numpy.kron(255 - 255 * padded, numpy.ones((8, 8), dtype=numpy.uint8)).astype(numpy.uint8)
        found = zxingcpp.read_barcodes(image)
        assert [code.text for code in found] == [wifi_payload(ssid, passphrase)]


def test_the_svg_is_self_contained():
    svg = setup_qr_svg('<Setup & "co">', "portal-secret-42")
    root = ET.fromstring(svg)  # well-formed, the title escaped
    text = svg.decode()
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    for needle in ("href", "<script", "<image", "<style", "url(", "@import", "http://", "https://"):
        assert needle not in text.replace("http://www.w3.org/2000/svg", ""), needle


def test_the_control_api_serves_it_uncached_and_never_logs_the_passphrase(caplog):
    caplog.set_level(logging.DEBUG)
    network = SetupNetwork("Setup 3f9a", "portal-secret-42")
    assert "portal-secret-42" not in repr(network)
    app = create_control_app(object(), network)  # the route needs no service
    response = WsgiClient(app).get("/setup-qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Cache-Control"] == "no-store"
    assert module_grid(response.get_data()) == matrix_of(wifi_payload("Setup 3f9a", "portal-secret-42"))
    assert "portal-secret-42" not in caplog.text


def test_an_open_setup_network_says_nopass():
    app = create_control_app(object(), SetupNetwork("Open Setup", None))
    svg = WsgiClient(app).get("/setup-qr.svg").get_data()
    assert module_grid(svg) == matrix_of("WIFI:S:Open Setup;T:nopass;;")
