"""Best-effort adapter calls (clean-up, look-ups with a fallback): a failure is logged, not raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ..errors import AdapterError

T = TypeVar("T")
log = logging.getLogger(__name__)


def quietly(action: Callable[..., T], *args: object) -> T | None:
    """Run a best-effort adapter call: log an AdapterError and return None instead."""
    try:
        return action(*args)
    except AdapterError as err:
        log.warning("%s failed: %s", getattr(action, "__name__", action), err)
        return None
