"""One exception hierarchy for the health reporter. ``ConfigError(key, message)`` is sidecar_common's own
class, re-exported, so ``except ConfigError`` also catches what sidecar_common raises (HEALTH_LISTEN)."""

from sidecar_common.errors import ConfigError

__all__ = ["CollectorError", "ConfigError", "HealthError"]


class HealthError(Exception):
    """Base of every error the reporter raises on purpose, settings aside (ConfigError)."""


class CollectorError(HealthError):
    """A collector could not read its source (missing file, EACCES, bad format, timeout)."""
