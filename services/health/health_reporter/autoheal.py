"""Optional autoheal (off by default): restart containers whose HEALTHCHECK says unhealthy, like
docker-autoheal, through the engine API on its Unix socket.

Plain Docker never restarts an unhealthy container by itself. Policy: the first restart happens as soon as
a container is seen unhealthy, each further one waits ``backoff_seconds`` doubled per restart, and after
``max_restarts`` the reporter gives up on it (one event) until it is seen healthy again. Restarts run in
their own thread: the engine waits up to ``?t=`` seconds for the container to stop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .collectors.engine_api import EngineClient
from .config import AutohealConfig
from .errors import HealthError
from .models import Sample, counter
from .snapshot import Snapshot, unhealthy_containers

events = logging.getLogger("health_reporter.events")  # bare JSON lines, see web.configure_logging
RESTARTS_HELP = "Containers restarted by autoheal because their healthcheck said unhealthy."


class Engine(Protocol):
    def restart(self, container: str, stop_timeout: int) -> None:
        """Raise HealthError when the engine refuses or cannot be reached."""


class EngineRestarter:
    """POST /containers/<name>/restart?t=N through the collectors' engine client."""

    def __init__(self, socket_path: str) -> None:
        self._socket_path = socket_path

    def restart(self, container: str, stop_timeout: int) -> None:
        # The engine answers only once the container has stopped (up to t seconds) and started again.
        client = EngineClient(self._socket_path, timeout=stop_timeout + 30)
        name = urllib.parse.quote(container, safe="")
        client.request("POST", f"/containers/{name}/restart?t={stop_timeout}")


@dataclass
class _Attempts:
    restarts: int = 0
    next_allowed: float = 0.0
    gave_up: bool = False


class Autoheal:
    def __init__(
        self,
        config: AutohealConfig,
        engine: Engine,
        on_event: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._engine = engine
        self._on_event = on_event
        self._clock = clock
        self._attempts: dict[str, _Attempts] = {}
        self._restarting: set[str] = set()
        self._lock = threading.Lock()
        self.restarts: dict[str, int] = {}

    def on_sample(self, snap: Snapshot) -> None:
        for healthy in (s.label("name") for s in snap.find("device_container_healthy") if s.value >= 1):
            self._attempts.pop(healthy, None)  # recovered: its budget starts afresh
        for name in unhealthy_containers(snap):
            self._consider(name)

    def _consider(self, name: str) -> None:
        attempts = self._attempts.setdefault(name, _Attempts())
        with self._lock:
            if name in self._restarting or attempts.gave_up or self._clock() < attempts.next_allowed:
                return
            if attempts.restarts >= self._config.max_restarts:
                attempts.gave_up = True
                self._emit("autoheal_gave_up", name, restarts=attempts.restarts)
                return
            attempts.restarts += 1
            backoff = self._config.backoff_seconds * 2 ** (attempts.restarts - 1)
            attempts.next_allowed = self._clock() + backoff
            self._restarting.add(name)
        threading.Thread(target=self._restart, args=(name, attempts.restarts), daemon=True).start()

    def _restart(self, name: str, attempt: int) -> None:
        try:
            self._engine.restart(name, self._config.stop_timeout_seconds)
        except HealthError as err:
            self._emit("autoheal_restart", name, attempt=attempt, result="failed", error=str(err))
        else:
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self._emit("autoheal_restart", name, attempt=attempt, result="restarted")
        finally:
            with self._lock:
                self._restarting.discard(name)

    def _emit(self, event: str, container: str, **fields: Any) -> None:
        record = {"event": event, "container": container, "time": time.time(), **fields}
        events.warning(json.dumps(record))
        self._on_event(record)

    def samples(self) -> list[Sample]:
        return [
            counter("device_autoheal_restarts_total", count, RESTARTS_HELP, name=name)
            for name, count in sorted(self.restarts.items())
        ]
