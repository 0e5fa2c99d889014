"""The other sidecars as seen from outside: wifi-connect's control API (GET /status) and the log agent's
Prometheus /metrics. A sidecar that does not answer is reported (device_sidecar_up 0), not a failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ..errors import CollectorError
from ..models import Kind, Sample, note
from ..paths import Paths
from .base import Cadence
from .common import BaseCollector, check_text, check_timeout, check_url, gauge, info
from .local_http import EndpointDown, fetch, fetch_json
from .metrics_text import family_values

log = logging.getLogger(__name__)

UP_HELP = "1 when the sidecar's endpoint answered the last probe."
ERROR_HELP = (
    "Why the sidecar's last probe failed (timeout, refused, reset, unreachable, name_unresolved, "
    "http_4xx, http_5xx, bad_response); present only while the sidecar is down."
)
MAX_ERROR_CHARS = 500  # the text shown in /status: keep an HTML error page or a long traceback out
STATE_HELP = "wifi-connect's current state."
BACKLOG_HELP = "Records the log agent has spooled but not yet delivered (all outputs)."
BACKLOG_BYTES_HELP = "Spooled bytes the log agent has not yet delivered (all outputs)."
DROPPED_HELP = "Records the log agent dropped (all outputs)."
OLDEST_HELP = "Age of the oldest record the log agent has not delivered yet (worst output)."

# wifi-connect's CONTROL_ADDRESS and the log agent's LOG_AGENT_HTTP_LISTEN defaults.
DEFAULT_WIFI_CONNECT_URL = "http://127.0.0.1:8081/status"
DEFAULT_LOG_AGENT_URL = "http://127.0.0.1:24220/metrics"


@dataclass(frozen=True)
class SidecarsOptions:
    wifi_connect_url: str = DEFAULT_WIFI_CONNECT_URL  # "" disables the probe
    log_agent_url: str = DEFAULT_LOG_AGENT_URL
    timeout: float = 1.0
    # The log agent's metric families to read (log_agent/metrics.py; counters with or without _total).
    log_backlog_metric: str = "log_agent_backlog_records"  # older agents export only the bytes below
    log_backlog_bytes_metric: str = "log_agent_backlog_bytes"
    log_dropped_metric: str = "log_agent_records_dropped"
    log_oldest_metric: str = "log_agent_oldest_unsent_age_seconds"

    def __post_init__(self) -> None:
        check_url("wifi_connect_url", self.wifi_connect_url)
        check_url("log_agent_url", self.log_agent_url)
        check_timeout(self.timeout)
        for family in (f.name for f in fields(self) if f.name.endswith("_metric")):
            check_text(family, getattr(self, family), allow_empty=False)


def log_agent_samples(text: str, options: SidecarsOptions) -> list[Sample]:
    """Backlog and drops summed over outputs, the oldest age the worst output's; a family the agent does
    not export yields no sample."""
    values = _family_values(text)
    wanted = (
        (options.log_backlog_metric, "device_log_backlog_records", Kind.GAUGE, BACKLOG_HELP, sum),
        (options.log_backlog_bytes_metric, "device_log_backlog_bytes", Kind.GAUGE, BACKLOG_BYTES_HELP, sum),
        (options.log_dropped_metric, "device_log_dropped_records_total", Kind.COUNTER, DROPPED_HELP, sum),
        (options.log_oldest_metric, "device_log_oldest_unsent_age_seconds", Kind.GAUGE, OLDEST_HELP, max),
    )
    samples = []
    for family, metric, kind, help, combine in wanted:
        found = values.get(family.removesuffix("_total"))
        if found:
            samples.append(Sample(metric, float(combine(found)), kind, help))
    return samples


def _family_values(text: str) -> dict[str, list[float]]:
    try:
        return family_values(text)
    except ValueError as err:
        raise EndpointDown(f"log agent metrics do not parse: {err}") from err


def wifi_connect_samples(status: Any) -> list[Sample]:
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        raise EndpointDown("wifi-connect status has no 'state' string")
    return [info("device_wifi_connect_state_info", STATE_HELP, state=status["state"])]


class SidecarsCollector(BaseCollector):
    name = "sidecars"
    cadence = Cadence.SLOW
    Options = SidecarsOptions

    def collect(self) -> list[Sample]:
        samples: list[Sample] = []
        if self.options.wifi_connect_url:
            samples += self._probe(
                "wifi-connect",
                lambda: wifi_connect_samples(fetch_json(self.options.wifi_connect_url, self.options.timeout)),
            )
        if self.options.log_agent_url:
            samples += self._probe(
                "log-agent",
                lambda: log_agent_samples(
                    fetch(self.options.log_agent_url, self.options.timeout).decode("utf-8", "replace"),
                    self.options,
                ),
            )
        return samples

    def __init__(self, paths: Paths, options: SidecarsOptions | None = None) -> None:
        super().__init__(paths, options)
        self.last_errors: dict[str, str] = {}  # per sidecar, while it is down

    def _probe(self, sidecar: str, read: Callable[[], list[Sample]]) -> list[Sample]:
        try:
            samples = read()
        except CollectorError as err:  # EndpointDown and malformed answers alike: the sidecar is not healthy
            error = str(err)[:MAX_ERROR_CHARS]
            reason = err.reason if isinstance(err, EndpointDown) else "bad_response"
            self._note_down(sidecar, error)
            return [
                gauge("device_sidecar_up", 0, UP_HELP, sidecar=sidecar),
                info("device_sidecar_error_info", ERROR_HELP, sidecar=sidecar, reason=reason),
                note("device_sidecar_error", sidecar=sidecar, error=error),
            ]
        if self.last_errors.pop(sidecar, None) is not None:
            log.info("sidecar %s answers again", sidecar)
        return [gauge("device_sidecar_up", 1, UP_HELP, sidecar=sidecar), *samples]

    def _note_down(self, sidecar: str, error: str) -> None:
        # Warn on the first failure and when the reason changes, not every slow tick it stays down.
        if self.last_errors.get(sidecar) != error:
            log.warning("sidecar %s is down: %s", sidecar, error)
        self.last_errors[sidecar] = error
