"""Kernel entropy pool from <proc>/sys/kernel/random (node_exporter's entropy collector)."""

from __future__ import annotations

from ..models import Sample, gauge
from .common import BaseCollector, parse_number, read_optional

FILES = {
    "entropy_avail": ("node_entropy_available_bits", "Bits of available entropy."),
    "poolsize": ("node_entropy_pool_size_bits", "Bits of entropy pool."),
}


class EntropyCollector(BaseCollector):
    name = "entropy"

    def collect(self) -> list[Sample]:
        samples = []
        for file, (metric, help_text) in FILES.items():
            path = self.paths.in_proc("sys", "kernel", "random", file)
            text = read_optional(path)
            if text:
                samples.append(gauge(metric, parse_number(text, path), help_text))
        return samples
