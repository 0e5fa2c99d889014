"""Container states and healthcheck results from the engine API (Docker or balenaEngine socket).
Without a socket the collector reports nothing: containers are optional."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import Sample
from .base import Cadence
from .common import BaseCollector, check_text, check_timeout, flag, gauge, info
from .engine_api import EngineClient

STATE_HELP = "The container's state (running, exited, restarting, ...)."
HEALTHY_HELP = "1 when the container's healthcheck passes, 0 when unhealthy; absent without a healthcheck."

_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def container_name(container: dict[str, Any]) -> str:
    names = container.get("Names") or []
    return names[0].lstrip("/") if names else str(container.get("Id", "?"))[:12]


def health_status(container: dict[str, Any]) -> str | None:
    """'healthy' | 'unhealthy' | 'starting' | None. API >= 1.52 lists Health; older ones only say it in
    the Status text ('Up 2 hours (healthy)')."""
    health = container.get("Health")
    if isinstance(health, dict) and health.get("Status") not in (None, "", "none"):
        return str(health["Status"])
    match = _HEALTH_IN_STATUS.search(str(container.get("Status", "")))
    return match[1].removeprefix("health: ") if match else None


def container_samples(containers: list[dict[str, Any]]) -> list[Sample]:
    samples = []
    for container in containers:
        name = container_name(container)
        samples.append(
            info("device_container_state_info", STATE_HELP, name=name, state=str(container.get("State", "")))
        )
        health = health_status(container)
        if health in ("healthy", "unhealthy"):
            samples.append(
                gauge("device_container_healthy", flag(health == "healthy"), HEALTHY_HELP, name=name)
            )
    return samples


@dataclass(frozen=True)
class ContainersOptions:
    # Resolved once by config.py (DOCKER_HOST, else /var/run/balena.sock, else /var/run/docker.sock) and
    # only while container health is on; "" = no engine: no samples.
    socket: str = ""
    timeout: float = 3.0

    def __post_init__(self) -> None:
        check_text("socket", self.socket)
        check_timeout(self.timeout)


class ContainersCollector(BaseCollector):
    name = "containers"
    cadence = Cadence.SLOW
    Options = ContainersOptions

    def collect(self) -> list[Sample]:
        socket_path = self.options.socket
        if not socket_path or not Path(socket_path).exists():
            return []
        return container_samples(EngineClient(socket_path, self.options.timeout).containers())
