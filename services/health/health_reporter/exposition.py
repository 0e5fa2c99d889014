"""The published snapshot as Prometheus metric families, rendered by prometheus-client.

``render(accept)`` negotiates like a Prometheus server expects: OpenMetrics 1.0 when the scraper asks for
``application/openmetrics-text``, else the text format 0.0.4 (prometheus_client's choose_encoder).
The reporter's own process metrics (process_cpu_seconds_total, process_resident_memory_bytes...) come
from prometheus-client's ProcessCollector, reading the container's /proc, not HOST_PROC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import ProcessCollector
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from .models import Kind, Sample
from .snapshot import Snapshot

# OpenMetrics names counter and info families without their sample suffix.
_FAMILY_SUFFIX = {Kind.COUNTER: "_total", Kind.INFO: "_info"}


class SnapshotCollector:
    """A prometheus-client custom collector over whatever snapshot the sampler published last."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for sample in self._snapshot().samples:
            key = (sample.name, tuple(sorted(sample.labels)))
            if key in seen:  # a duplicate series would make the whole scrape invalid; first one wins
                continue
            seen.add(key)
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = _family(sample)
            family.add_sample(sample.name, dict(sample.labels), sample.value)
        yield from families.values()


def _family(sample: Sample) -> Metric:
    suffix = _FAMILY_SUFFIX.get(sample.kind, "")
    name = sample.name.removesuffix(suffix) if suffix else sample.name
    return Metric(name, sample.help or f"Device metric {sample.name}.", str(sample.kind))


def build_registry(snapshot: Callable[[], Snapshot], process_metrics: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    if process_metrics:
        ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """(body, Content-Type) for the scraper's Accept header."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
