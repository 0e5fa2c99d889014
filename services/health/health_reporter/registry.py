"""Runs the enabled collectors of one cadence, each isolated and timed (node_exporter's execute()).

Every run adds ``device_collector_success{collector}`` and ``device_collector_duration_seconds{collector}``
(and node_exporter's ``node_scrape_collector_success`` / ``_duration_seconds`` with the same values) so
a broken sensor shows up as a 0 beside the collectors that still work, never as a missing scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence

from .collectors import reject_unknown
from .collectors.base import Cadence, Collector
from .errors import CollectorError
from .models import Kind, Sample

log = logging.getLogger(__name__)

SUCCESS_HELP = "1 when the collector's last run succeeded, 0 when it failed."
DURATION_HELP = "Seconds the collector's last run took."
# node_exporter's names for the same two facts, which its dashboards and alerts select.
NODE_SUCCESS_HELP = "node_exporter: Whether a collector succeeded."
NODE_DURATION_HELP = "node_exporter: Duration of a collector scrape."


class CollectorRegistry:
    def __init__(
        self,
        collectors: Sequence[Collector],
        enabled: Iterable[str] | None = None,
        disabled: Iterable[str] = (),
    ) -> None:
        """``enabled`` None means all; a name in either list that no collector has is a ConfigError."""
        known = {collector.name for collector in collectors}
        wanted = known if enabled is None else set(enabled)
        unwanted = set(disabled)
        reject_unknown("HEALTH_COLLECTORS", wanted, sorted(known))
        reject_unknown("HEALTH_COLLECTORS_DISABLED", unwanted, sorted(known))
        self.collectors = [c for c in collectors if c.name in wanted - unwanted]
        self.last_errors: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        return [collector.name for collector in self.collectors]

    def collect(self, cadence: Cadence | None = None) -> list[Sample]:
        """Samples of every enabled collector of ``cadence`` (None: all of them)."""
        samples: list[Sample] = []
        for collector in self.collectors:
            if cadence is None or collector.cadence == cadence:
                samples.extend(self._run(collector))
        return samples

    def _run(self, collector: Collector) -> list[Sample]:
        started = time.perf_counter()
        try:
            samples = list(collector.collect())
            error = None
        # A collector bug must not cost the other collectors their samples, hence Exception, not only
        # CollectorError/OSError; the traceback is logged for those unexpected ones.
        except Exception as err:
            samples = []
            error = f"{type(err).__name__}: {err}"
            self._log_failure(collector.name, error, expected=isinstance(err, CollectorError | OSError))
        duration = time.perf_counter() - started
        if error is None and collector.name in self.last_errors:
            log.info("collector %s recovered", collector.name)
            del self.last_errors[collector.name]
        elif error is not None:
            self.last_errors[collector.name] = error
        labels = (("collector", collector.name),)
        success = 1.0 if error is None else 0.0
        gauge = Kind.GAUGE
        samples += (
            Sample("device_collector_success", success, gauge, SUCCESS_HELP, labels),
            Sample("device_collector_duration_seconds", duration, gauge, DURATION_HELP, labels),
            Sample("node_scrape_collector_success", success, gauge, NODE_SUCCESS_HELP, labels),
            Sample("node_scrape_collector_duration_seconds", duration, gauge, NODE_DURATION_HELP, labels),
        )
        return samples

    def _log_failure(self, name: str, error: str, expected: bool) -> None:
        # Log the first failure and changes of message at warning, repeats at debug: a missing socket
        # must not write a line every 10 s to the SD card's journal.
        repeated = self.last_errors.get(name) == error
        level = logging.DEBUG if repeated else logging.WARNING
        log.log(level, "collector %s failed: %s", name, error, exc_info=not expected and not repeated)
