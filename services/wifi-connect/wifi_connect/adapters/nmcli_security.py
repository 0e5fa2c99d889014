"""How each security type reaches nmcli: the profile's options (no secret among them) and the lines of
the ``passwd-file`` that hands the secrets to nmcli's agent during ``connection up``.

Secrets never reach argv: the passwd-file is 0600 in a private 0700 temp directory and deleted as soon
as nmcli returns. NetworkManager then saves the secret (psk-flags 0 = system-owned) so the profile
autoconnects after a reboot (see devrig/nm_template.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AdapterError
from ..models import Credentials, Security


def security_options(credentials: Credentials, wpa3_only: bool) -> dict[str, str]:
    """The profile options for ``credentials.security``; ``wpa3_only``: the scan saw only WPA3 for it."""
    match credentials.security:
        case Security.NONE:
            return {}
        case Security.WEP:
            # 5/13 characters or 10/26 hex digits are keys (type 1); anything else is a passphrase (2)
            key_type = "1" if _is_wep_key(credentials.passphrase) else "2"
            return {
                "wifi-sec.key-mgmt": "none",
                "wifi-sec.wep-key-type": key_type,
                "wifi-sec.wep-key-flags": "0",
            }
        case Security.WPA:
            # NM 1.42's wpa-psk covers WPA2 and WPA3-transition; a WPA3-only network needs sae
            return {"wifi-sec.key-mgmt": "sae" if wpa3_only else "wpa-psk", "wifi-sec.psk-flags": "0"}
        case Security.ENTERPRISE:
            return _enterprise_options(credentials)
    raise AdapterError(f"unknown security {credentials.security!r}")


def _is_wep_key(key: str) -> bool:
    hex_digits = all(c in "0123456789abcdefABCDEF" for c in key)
    return len(key) in (5, 13) or (len(key) in (10, 26) and hex_digits)


def _enterprise_options(credentials: Credentials) -> dict[str, str]:
    options = {
        "wifi-sec.key-mgmt": "wpa-eap",
        "802-1x.eap": credentials.eap or "peap",
        "802-1x.phase2-auth": "mschapv2",
        "802-1x.identity": credentials.identity,
        "802-1x.password-flags": "0",
    }
    if credentials.anonymous_identity:
        options["802-1x.anonymous-identity"] = credentials.anonymous_identity
    if credentials.ca_cert:
        options["802-1x.ca-cert"] = credentials.ca_cert
    if credentials.domain_suffix_match:
        options["802-1x.domain-suffix-match"] = credentials.domain_suffix_match
    return options


def passwd_file_value(secret: str) -> str:
    """Escape a secret for nmcli's passwd-file, which strips blanks and reads '\\' as an escape."""
    if any(char in secret for char in "\n\r\0"):
        raise AdapterError("a secret cannot contain a line break or NUL (nmcli's passwd-file is line-based)")
    return secret.replace("\\", "\\\\").replace(" ", "\\ ").replace("\t", "\\t")


def secret_lines(credentials: Credentials) -> list[str]:
    """passwd-file lines for the secret this security type needs (none for open networks)."""
    secret = passwd_file_value(credentials.passphrase)
    match credentials.security:
        case Security.WPA:
            return [f"802-11-wireless-security.psk:{secret}"]
        case Security.WEP:
            return [f"802-11-wireless-security.wep-key0:{secret}"]
        case Security.ENTERPRISE:
            # nmcli's agent asks for identity and password together; the identity is not secret
            return [f"802-1x.identity:{passwd_file_value(credentials.identity)}", f"802-1x.password:{secret}"]
    return []


@contextmanager
def passwd_file(lines: list[str]) -> Iterator[Path | None]:
    """A 0600 file in a private 0700 directory, removed on exit; None when there is nothing to hand over."""
    if not lines:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="wifi-connect-") as directory:
        path = Path(directory) / "secrets"
        try:
            content = ("\n".join(lines) + "\n").encode("utf-8")
        except UnicodeError as err:
            raise AdapterError("a secret is not valid Unicode text (it cannot be written for nmcli)") from err
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        yield path
