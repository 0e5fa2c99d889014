"""One exception hierarchy for the service; adapters wrap low-level errors with ``raise X from err``."""

import sidecar_common.errors


class WifiConnectError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(sidecar_common.errors.ConfigError, WifiConnectError):
    """A start-up setting is invalid: ``ConfigError(key, message)``, the key names the flag and the
    environment variable (``--portal-gateway/PORTAL_GATEWAY``); the same class as every sidecar's."""


class InputError(WifiConnectError):
    """A request field is invalid; ``field`` names it for the API's ``{"error", "field"}`` answer."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class AdapterError(WifiConnectError):
    """The outside world (nmcli, dnsmasq, an HTTP probe) failed or did not answer in time."""


class NmcliError(AdapterError):
    """nmcli exited non-zero or timed out. ``exit_code`` follows nmcli(1); None means our timeout fired."""

    def __init__(self, message: str, exit_code: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


class DeviceError(AdapterError):
    """The WiFi device is missing, not WiFi, or not managed by NetworkManager."""


class BusyError(WifiConnectError):
    """A connection attempt is already running (HTTP 409)."""
