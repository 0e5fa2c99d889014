"""Input rules for what a person types, and the Credentials built from a connect request."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wifi_connect.errors import InputError
from wifi_connect.models import Security
from wifi_connect.validation import (
    check_ssid,
    check_wep_key,
    check_wpa_passphrase,
    credentials_from_request,
)

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
WPA_MESSAGE = "a WPA password must be 8-63 printable ASCII characters (or 64 hex digits)"


def field_of(call) -> str:
    with pytest.raises(InputError) as caught:
        call()
    return caught.value.field


# -- SSID -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ssid", ["a", "x" * 32, "é" * 16, "my:net", "back\\slash", "ends\\", " spaced ", "🛜" * 8]
)
def test_valid_ssids(ssid):
    check_ssid(ssid)


@pytest.mark.parametrize("ssid", ["", "x" * 33, "é" * 17, "🛜" * 9, "nul\0byte"])
def test_invalid_ssids(ssid):
    assert field_of(lambda: check_ssid(ssid)) == "ssid"


@given(st.text(min_size=1))
def test_ssid_rule_is_exactly_1_to_32_utf8_bytes_without_nul(ssid):
    expected = 1 <= len(ssid.encode("utf-8", "surrogateescape")) <= 32 and "\0" not in ssid
    try:
        check_ssid(ssid)
    except InputError:
        assert not expected
    else:
        assert expected


# -- WPA and WEP ------------------------------------------------------------------------------------------


@given(st.text(PRINTABLE, min_size=8, max_size=63))
def test_any_8_to_63_printable_ascii_is_a_wpa_passphrase(passphrase):
    check_wpa_passphrase(passphrase)


@given(st.text(string.hexdigits, min_size=64, max_size=64))
def test_64_hex_digits_are_a_raw_psk(key):
    check_wpa_passphrase(key)


@given(st.text(min_size=0, max_size=80))
def test_wpa_rule_property(passphrase):
    printable = all(0x20 <= ord(c) <= 0x7E for c in passphrase)
    raw_key = len(passphrase) == 64 and all(c in string.hexdigits for c in passphrase)
    expected = raw_key or (8 <= len(passphrase) <= 63 and printable)
    try:
        check_wpa_passphrase(passphrase)
    except InputError as err:
        assert not expected
        assert err.message == WPA_MESSAGE  # the same words whatever was typed: the secret is never echoed
    else:
        assert expected


@pytest.mark.parametrize(
    "passphrase", ["short", "x" * 64, "g" * 64, "pässwörd", "tab\there-ok?", "new\nline!"]
)
def test_invalid_wpa_passphrases(passphrase):
    assert field_of(lambda: check_wpa_passphrase(passphrase)) == "passphrase"


@pytest.mark.parametrize("key", ["abcde", "abcdefghijklm", "0123456789", "0123456789abcdef0123456789"])
def test_valid_wep_keys(key):
    check_wep_key(key)


@pytest.mark.parametrize("key", ["abcd", "abcdef", "012345678g", "0123456789abcdef012345678", "ab\x01de"])
def test_invalid_wep_keys(key):
    assert field_of(lambda: check_wep_key(key)) == "passphrase"


# -- credentials from a request ---------------------------------------------------------------------------


def test_scanned_security_decides_and_unneeded_fields_are_ignored():
    creds = credentials_from_request(
        {"ssid": "Cafe", "passphrase": "leftover", "identity": "x"}, Security.NONE
    )
    assert (creds.security, creds.passphrase, creds.identity) == (Security.NONE, "", "")


def test_wpa_network_needs_a_valid_passphrase():
    assert field_of(lambda: credentials_from_request({"ssid": "Home", "passphrase": ""}, Security.WPA)) == (
        "passphrase"
    )
    creds = credentials_from_request({"ssid": "Home", "passphrase": "correct horse"}, Security.WPA)
    assert creds.passphrase == "correct horse" and "correct horse" not in repr(creds)


def test_enterprise_needs_identity_and_takes_the_optional_fields(tmp_path):
    (tmp_path / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    fields = {
        "ssid": "Corp",
        "passphrase": "s3cret",
        "identity": "alice",
        "eap": "TTLS",
        "anonymous_identity": "anon",
        "ca_cert": "corp.pem",
        "domain_suffix_match": "corp.example",
    }
    creds = credentials_from_request(fields, Security.ENTERPRISE, tmp_path)
    assert (creds.eap, creds.identity, creds.anonymous_identity) == ("ttls", "alice", "anon")
    assert (creds.ca_cert, creds.domain_suffix_match) == (str(tmp_path / "corp.pem"), "corp.example")
    assert (
        field_of(lambda: credentials_from_request({**fields, "identity": ""}, Security.ENTERPRISE))
        == "identity"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("identity", "a\nb"),
        ("identity", "x" * 257),
        ("passphrase", "two\nlines"),
        ("eap", "tls"),
        ("ca_cert", "relative.pem"),  # no CA directory configured: nothing to choose
        ("domain_suffix_match", "corp example"),
        ("anonymous_identity", "a\rb"),
    ],
)
def test_enterprise_field_errors_name_the_field(field, value):
    fields = {"ssid": "Corp", "passphrase": "s3cret", "identity": "alice", field: value}
    assert field_of(lambda: credentials_from_request(fields, Security.ENTERPRISE)) == field


def test_hidden_network_takes_the_chosen_security():
    creds = credentials_from_request(
        {"ssid": "Secret", "passphrase": "abcde", "hidden": "on", "security": "wep"}, Security.WPA
    )
    assert creds.hidden and creds.security is Security.WEP


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"ssid": "H", "passphrase": "password1"}, Security.WPA),
        ({"ssid": "H", "passphrase": ""}, Security.NONE),
        ({"ssid": "H", "passphrase": "pw", "identity": "bob"}, Security.ENTERPRISE),
    ],
)
def test_unscanned_network_security_is_guessed_from_the_fields(fields, expected):
    assert credentials_from_request({**fields, "hidden": True}, None).security is expected


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ssid": ""}, "ssid"),
        ({"ssid": "x" * 33}, "ssid"),
        ({"ssid": "ok", "hidden": "maybe"}, "hidden"),
        ({"ssid": "ok", "security": "wpa4", "hidden": "1"}, "security"),
        ({"ssid": "ok", "passphrase": 12345678}, "passphrase"),
        ({"ssid": "ok", "passphrase": "nul\0inside"}, "passphrase"),
        ({"ssid": "ok", "passphrase": "x" * 5000}, "passphrase"),
    ],
)
def test_bad_requests_name_the_field(fields, field):
    assert field_of(lambda: credentials_from_request(fields, Security.WPA)) == field


@given(
    st.dictionaries(
        st.sampled_from(["ssid", "passphrase", "identity", "hidden", "security", "eap"]),
        st.one_of(st.text(max_size=70), st.booleans(), st.none()),
    )
)
def test_any_request_gives_credentials_or_an_input_error(fields):
    for scanned in (None, *Security):
        try:
            creds = credentials_from_request(fields, scanned)
        except InputError as err:
            assert err.field in {"ssid", "passphrase", "identity", "hidden", "security", "eap"}
        else:
            assert creds.ssid == fields["ssid"]


@pytest.mark.parametrize("name", ["/etc/shadow", "../secret.pem", "sub/ca.pem", ".hidden.pem", "missing.pem",
                                  "outside.pem", "directory"])
def test_an_anonymous_portal_user_cannot_point_ca_cert_at_an_arbitrary_file(tmp_path, name):
    certs = tmp_path / "ca"
    certs.mkdir()
    (certs / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (certs / "directory").mkdir()
    (tmp_path / "secret.pem").write_text("not a CA")
    (certs / "outside.pem").symlink_to(tmp_path / "secret.pem")
    fields = {"ssid": "Corp", "passphrase": "s3cret", "identity": "alice", "ca_cert": name}
    assert field_of(lambda: credentials_from_request(fields, Security.ENTERPRISE, certs)) == "ca_cert"
    assert credentials_from_request({**fields, "ca_cert": "corp.pem"}, Security.ENTERPRISE, certs).ca_cert \
        == str(certs / "corp.pem")
