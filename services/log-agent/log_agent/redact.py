"""Error text made safe for /health, logs and dead-letter reasons: secrets never leave the agent."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)[^/\s@]+@")
_SECRET_VALUE = re.compile(
    r"(?i)(?P<key>password|passwd|token|secret|shared_key|authorization|api[_-]?key)"
    r"(?P<sep>[\"']?\s*[:=]\s*)(?:(?:Bearer|Basic)\s+)?\S+"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Error text safe for /health, logs and dead-letter reasons: no configured secret value (as is
    or URL-encoded, wherever a library or a server echoed it), no URL credentials, no key=value secrets."""
    for secret in sorted(secrets, key=len, reverse=True):  # longest first: one may contain another
        text = text.replace(secret, "***").replace(urllib.parse.quote(secret, safe=""), "***")
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _SECRET_VALUE.sub(r"\g<key>\g<sep>***", text)
