"""Helpers for the collector tests: the fixture trees and finding samples in a collector's output.
(A plain module with a distinctive name, imported by this directory's tests and conftest.)"""

from __future__ import annotations

from pathlib import Path

from health_reporter.paths import Paths

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def tree_paths(base: Path) -> Paths:
    return Paths(proc=base / "proc", sys=base / "sys", root=base / "root")


def by_name(samples, name):
    """{labels dict as sorted tuple: value} of the samples called ``name``."""
    return {tuple(sorted(s.labels)): s.value for s in samples if s.name == name}


def value(samples, name, **labels):
    matches = [s.value for s in samples if s.name == name and dict(s.labels) == labels]
    assert len(matches) == 1, f"{name}{labels}: {len(matches)} samples"
    return matches[0]
