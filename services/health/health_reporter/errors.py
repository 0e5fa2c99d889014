"""One exception hierarchy for the health reporter."""


class HealthError(Exception):
    """Base of every error the reporter raises on purpose."""


class ConfigError(HealthError):
    """Invalid setting; the message names the environment variable or key."""


class CollectorError(HealthError):
    """A collector could not read its source (missing file, EACCES, bad format, timeout)."""
