"""Ports the controller needs beyond ``wifi_connect.ports``: the portal web server, the HTTP probe, the
state-change hook and the clock. The daemon implements them for real; the unit tests with fakes."""

from __future__ import annotations

from typing import Protocol


class WebServer(Protocol):
    """The portal's web app process (gunicorn on gateway:port). Raises AdapterError when it cannot start."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


class ConnectivityProbe(Protocol):
    """An optional HTTP check that backs NetworkManager's connectivity verdict."""

    def online(self) -> bool: ...


class StateHook(Protocol):
    """Told about every state change (the JSON line's fields); must not block the controller."""

    def state_changed(self, change: dict[str, str]) -> None: ...


class Clock(Protocol):
    """Time, injected so the unit tests run the whole lifecycle instantly."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...
