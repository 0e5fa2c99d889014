"""Captive-portal detection end to end: a "phone" namespace joins the device's setup network, gets a DHCP
lease from the service's real dnsmasq, and every OS's probe URL, resolved by that dnsmasq, ends at the portal
page served by gunicorn on the gateway (a fake daemon answers behind the real RPC socket)."""

from __future__ import annotations

import pytest

from tests.wifi_connect.web.netns_portal import portal_in_namespace

pytestmark = [pytest.mark.rig]

# The HTTP probe each OS makes right after joining a network.
OS_PROBE_URLS = {
    "android": "http://connectivitycheck.gstatic.com/generate_204",
    "android-legacy / chromeos": "http://clients3.google.com/generate_204",
    "chrome": "http://www.gstatic.com/generate_204",
    "android fallback": "http://www.google.com/gen_204",
    "ios / macos": "http://captive.apple.com/hotspot-detect.html",
    "macos legacy": "http://www.apple.com/library/test/success.html",
    "windows": "http://www.msftconnecttest.com/connecttest.txt",
    "windows legacy": "http://www.msftncsi.com/ncsi.txt",
    "windows redirect": "http://www.msftconnecttest.com/redirect",
    "firefox": "http://detectportal.firefox.com/canonical.html",
    "firefox legacy": "http://detectportal.firefox.com/success.txt",
    "gnome networkmanager": "http://nmcheck.gnome.org/check_network_status.txt",
    "any page": "http://example.com/news?id=1",
}
# curl prints: first status, redirect target, final URL, final status; the body goes to stdout first.
WRITE_OUT = "\n%{http_code} %{url_effective}"


@pytest.fixture
def rig(netns_pair, tmp_path):
    with portal_in_namespace(netns_pair, log_dir=tmp_path) as service:
        yield netns_pair, service


def fetch(pair, url: str, follow: bool) -> tuple[str, int, str]:
    """(body, status, final URL) of ``url`` fetched from the phone, names resolved by the device's DNS."""
    argv = ["curl", "-s", "-m", "5", "-w", WRITE_OUT, *(["-L"] if follow else []), url]
    result = pair.run(pair.phone, argv, timeout=10)
    assert result.returncode == 0, f"{url}: curl exit {result.returncode} {result.stderr}"
    body, _, tail = result.stdout.rpartition("\n")
    status, final_url = tail.split(" ", 1)
    return body, int(status), final_url


def test_every_os_probe_ends_at_the_portal_page(rig):
    pair, service = rig
    lease = pair.dhcp_lease()
    assert lease["router"] == pair.gateway and pair.gateway in lease["dns"]
    assert bytes.fromhex(lease["opt114"]).decode() == f"http://{pair.gateway}/"  # RFC 8910 portal URL
    answer = pair.run(pair.phone, ["busybox", "nslookup", "any-name.example", pair.gateway], timeout=10)
    assert pair.gateway in answer.stdout.split("any-name.example", 1)[-1]  # every name is the gateway
    for name, url in OS_PROBE_URLS.items():
        _body, status, _ = fetch(pair, url, follow=False)
        assert status == 302, f"{name}: {url} answered {status}, the captive sheet would not open"
        body, status, final_url = fetch(pair, url, follow=True)
        assert (status, final_url) == (200, f"http://{pair.gateway}/"), name
        assert "Choose a network" in body and "HomeNet" in body, name
    assert service.touches == 0  # probes and page views are no person's progress: retries stay due


def test_once_online_probes_give_the_real_answers(rig):
    pair, service = rig
    pair.dhcp_lease()
    service.settle_seconds = 0
    service.connect({"ssid": "HomeNet", "passphrase": "correct horse"})
    body, status, _ = fetch(pair, OS_PROBE_URLS["android"], follow=False)
    assert (status, body) == (204, "")
    body, status, _ = fetch(pair, OS_PROBE_URLS["ios / macos"], follow=False)
    assert status == 200 and "<BODY>Success</BODY>" in body
