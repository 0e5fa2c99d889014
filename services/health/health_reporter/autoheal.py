"""Optional autoheal (off by default): restart containers whose HEALTHCHECK says unhealthy, like
docker-autoheal, through the engine API on its Unix socket.

Opt-in per container, docker-autoheal's way: only a container labelled ``autoheal=true`` (the label key
is HEALTH_AUTOHEAL_LABEL) is restarted. With HEALTH_AUTOHEAL_LABEL=all any unhealthy container is, except
the balena supervisor and the bundle's own sidecars, which only their own ``autoheal=true`` label opts in.
The labels are read (GET /containers/<name>/json) when a restart is due, never cached beyond
``backoff_seconds`` for a container that is not opted in.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .collectors.engine_api import EngineClient
from .config import AutohealConfig
from .errors import HealthError
from .models import Sample, counter
from .snapshot import Snapshot, unhealthy_containers

events = logging.getLogger("health_reporter.events")  # bare JSON lines, see web.configure_logging
RESTARTS_HELP = "Containers restarted by autoheal because their healthcheck said unhealthy."


SUPERVISOR_NAMES = frozenset({"balena_supervisor", "resin_supervisor"})
SIDECAR_SERVICES = frozenset({"wifi-connect", "log-agent", "health"})  # docker-compose.yml's services
SERVICE_LABELS = ("io.balena.service-name", "com.docker.compose.service")
OPT_IN_LABEL = "autoheal"


def opted_in(name: str, labels: Mapping[str, str], label_key: str) -> bool:
    """Whether autoheal may restart this container (see the module's docstring)."""
    if label_key != "all":
        return labels.get(label_key, "").lower() == "true"
    explicit = labels.get(OPT_IN_LABEL, "").lower()
    if explicit in ("true", "false"):
        return explicit == "true"
    ours = any(labels.get(key) in SIDECAR_SERVICES for key in SERVICE_LABELS)
    return name not in SUPERVISOR_NAMES and not ours


class Engine(Protocol):
    def labels(self, container: str) -> Mapping[str, str]:
        """The container's labels; raise HealthError when the engine refuses or cannot be reached."""

    def restart(self, container: str, stop_timeout: int) -> None:
        """Raise HealthError when the engine refuses or cannot be reached."""


class EngineRestarter:
    """GET /containers/<name>/json and POST /containers/<name>/restart?t=N through the engine client."""

    def __init__(self, socket_path: str) -> None:
        self._socket_path = socket_path

    def labels(self, container: str) -> Mapping[str, str]:
        name = urllib.parse.quote(container, safe="")
        answer = EngineClient(self._socket_path).request("GET", f"/containers/{name}/json")
        labels = (answer or {}).get("Config", {}).get("Labels") if isinstance(answer, dict) else None
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

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
        self._not_opted_in: dict[str, float] = {}  # name -> until when that answer holds
        self._restarting: set[str] = set()
        self._lock = threading.Lock()
        self.restarts: dict[str, int] = {}

    def on_sample(self, snap: Snapshot) -> None:
        for healthy in (s.label("name") for s in snap.find("device_container_healthy") if s.value >= 1):
            self._attempts.pop(healthy, None)  # recovered: its budget starts afresh
        for name in unhealthy_containers(snap):
            self._consider(name)

    def _may_restart(self, name: str, attempts: _Attempts) -> bool:
        """Opted in? Asks the engine (sampler thread, its 3 s timeout) only when a restart is due."""
        if self._clock() < self._not_opted_in.get(name, 0.0):
            return False
        try:
            labels = self._engine.labels(name)
        except HealthError as err:
            attempts.next_allowed = self._clock() + self._config.backoff_seconds
            self._emit(
                "autoheal_restart", name, attempt=attempts.restarts + 1, result="failed", error=str(err)
            )
            return False
        if opted_in(name, labels, self._config.label):
            self._not_opted_in.pop(name, None)
            return True
        if name not in self._not_opted_in:  # said once per container, not every slow tick
            self._emit("autoheal_skipped", name, reason=f"not labelled {self._label_text()}")
        self._not_opted_in[name] = self._clock() + self._config.backoff_seconds
        return False

    def _label_text(self) -> str:
        key = OPT_IN_LABEL if self._config.label == "all" else self._config.label
        return f"{key}=true"

    def _consider(self, name: str) -> None:
        attempts = self._attempts.setdefault(name, _Attempts())
        with self._lock:
            if name in self._restarting or attempts.gave_up or self._clock() < attempts.next_allowed:
                return
        if not self._may_restart(name, attempts):
            return
        with self._lock:
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
