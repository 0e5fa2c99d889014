"""Input rules for what a person types into the portal, and the Credentials built from a request.

Every check raises errors.InputError(field, message); messages never quote a secret.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path

from .errors import InputError
from .models import Credentials, Security

MAX_SSID_BYTES = 32
MAX_IDENTITY = 256
MAX_FIELD = 4096  # no field a person types is longer; caps what we keep in memory
PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))
HEX_DIGITS = frozenset(string.hexdigits)
EAP_METHODS = ("peap", "ttls")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})
# ca_cert names a file in the operator's CA_CERT_DIRECTORY: a stranger on the open AP must not point
# NetworkManager at an arbitrary file on the device.
CA_CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _is_hex(text: str) -> bool:
    return bool(text) and set(text) <= HEX_DIGITS


def _is_printable_ascii(text: str) -> bool:
    return set(text) <= PRINTABLE_ASCII


def check_text(field: str, text: str) -> None:
    """No NUL, and encodable as UTF-8: a lone surrogate (JSON "\\ud800") would break nmcli's argv later."""
    if "\0" in text:
        raise InputError(field, f"{field} must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(field, f"{field} must be valid Unicode text (it contains a lone surrogate)") from err


def check_ssid(ssid: str, field: str = "ssid") -> None:
    """1-32 bytes once encoded as UTF-8; ':' '\\' and spaces are fine (nmcli gets them unescaped in argv)."""
    check_text(field, ssid)
    size = len(ssid.encode("utf-8"))
    if not 1 <= size <= MAX_SSID_BYTES:
        raise InputError(field, f"the network name must be 1-{MAX_SSID_BYTES} bytes long, it is {size}")


def check_wpa_passphrase(passphrase: str, field: str = "passphrase") -> None:
    """WPA-PSK: 8-63 printable ASCII characters, or the raw key as exactly 64 hex digits."""
    if len(passphrase) == 64 and _is_hex(passphrase):
        return
    if not 8 <= len(passphrase) <= 63 or not _is_printable_ascii(passphrase):
        raise InputError(field, "a WPA password must be 8-63 printable ASCII characters (or 64 hex digits)")


def check_wep_key(key: str, field: str = "passphrase") -> None:
    """WEP-40/104: 5 or 13 ASCII characters, or 10 or 26 hex digits."""
    if len(key) in (5, 13) and _is_printable_ascii(key):
        return
    if len(key) in (10, 26) and _is_hex(key):
        return
    raise InputError(field, "a WEP key must be 5 or 13 ASCII characters, or 10 or 26 hex digits")


def check_identity(identity: str, field: str = "identity") -> None:
    """Non-empty, at most 256 characters, one line (nmcli's passwd-file is line-based)."""
    check_line(identity, field)
    if not identity:
        raise InputError(field, f"{field} is required for an enterprise network")


def check_line(text: str, field: str, limit: int = MAX_IDENTITY) -> None:
    """At most ``limit`` characters, no NUL, no line break."""
    check_text(field, text)
    if len(text) > limit:
        raise InputError(field, f"{field} must be at most {limit} characters")
    if "\n" in text or "\r" in text:
        raise InputError(field, f"{field} must be a single line")


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(name, f"{name} must be text")
    if len(value) > MAX_FIELD:
        raise InputError(name, f"{name} is too long")
    check_text(name, value)
    return value


def _flag(fields: Mapping[str, object], name: str) -> bool:
    value = fields.get(name, False)
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InputError(name, f"{name} must be true or false")


def _security(fields: Mapping[str, object], scanned: Security | None, hidden: bool) -> Security:
    """The scanned network's security wins; a hidden (or unscanned) network takes what the user chose,
    else a guess from the fields they filled in (balena clients send only ssid/passphrase/identity)."""
    chosen = _text(fields, "security").strip().lower()
    if chosen:
        try:
            chosen_security = Security(chosen)
        except ValueError as err:
            names = ", ".join(str(member) for member in Security)
            raise InputError("security", f"security must be one of {names}") from err
    if scanned is not None and not hidden:
        return scanned
    if chosen:
        return chosen_security
    if _text(fields, "identity"):
        return Security.ENTERPRISE
    return Security.WPA if _text(fields, "passphrase") else Security.NONE


def _check_secret(security: Security, passphrase: str) -> None:
    if security is Security.WPA:
        check_wpa_passphrase(passphrase)
    elif security is Security.WEP:
        check_wep_key(passphrase)
    elif security is Security.ENTERPRISE:
        check_line(passphrase, "passphrase")
        if not passphrase:
            raise InputError("passphrase", "passphrase is required for an enterprise network")


def ca_cert_path(name: str, directory: Path | None) -> str:
    """The certificate ``name`` in ``directory`` as an absolute path ("" for none); InputError otherwise."""
    if not name:
        return ""
    if directory is None:
        raise InputError("ca_cert", "this device offers no CA certificates to choose from")
    if not CA_CERT_NAME.fullmatch(name):
        raise InputError("ca_cert", "ca_cert must be the name of one of the device's CA certificates")
    root = directory.resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise InputError("ca_cert", "the device has no CA certificate of that name")
    return str(path)


def _enterprise_options(fields: Mapping[str, object], ca_directory: Path | None) -> dict[str, str]:
    eap = _text(fields, "eap").strip().lower() or "peap"
    if eap not in EAP_METHODS:
        raise InputError("eap", f"eap must be one of {', '.join(EAP_METHODS)}")
    identity = _text(fields, "identity")
    check_identity(identity)
    options = {"eap": eap, "identity": identity}
    for name in ("anonymous_identity", "ca_cert", "domain_suffix_match"):
        value = _text(fields, name).strip()
        check_line(value, name)
        options[name] = value
    options["ca_cert"] = ca_cert_path(options["ca_cert"], ca_directory)
    if any(char.isspace() for char in options["domain_suffix_match"]):
        raise InputError("domain_suffix_match", "domain_suffix_match must be a domain name without spaces")
    return options


def credentials_from_request(fields: Mapping[str, object], scanned: Security | None,
                             ca_directory: Path | None = None) -> Credentials:
    """Build Credentials from a connect request (JSON or form fields).

    ``scanned`` is the security of the network with that SSID in the last scan, None if it was not seen.
    Fields a network does not need (a passphrase for an open network, an identity for WPA) are ignored,
    as balena's UI always sends all three. ``ca_directory``: where ``ca_cert`` names are looked up.
    """
    ssid = _text(fields, "ssid")
    check_ssid(ssid)
    hidden = _flag(fields, "hidden")
    security = _security(fields, scanned, hidden)
    passphrase = _text(fields, "passphrase") if security is not Security.NONE else ""
    _check_secret(security, passphrase)
    enterprise = _enterprise_options(fields, ca_directory) if security is Security.ENTERPRISE else {}
    return Credentials(ssid=ssid, security=security, passphrase=passphrase, hidden=hidden, **enterprise)
