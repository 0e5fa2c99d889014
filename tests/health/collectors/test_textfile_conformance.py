"""node_exporter's own textfile test cases (fixtures/node_exporter/textfile, see SOURCE.md): the reporter's
textfile collector must expose the same series, values, help texts and types (histograms and summaries:
the same series, untyped) as node_exporter's expected output."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from health_collector_testing import FIXTURES
from health_reporter.collectors.textfile import TextfileCollector, TextfileOptions
from health_reporter.models import Kind
from health_reporter.paths import Paths
from prometheus_client.parser import text_string_to_metric_families

CASES = FIXTURES / "node_exporter" / "textfile"
UPSTREAM_PREFIX = "fixtures/textfile"  # how node_exporter's test names the directory (mtime forced to 1)

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def without_empty(labels: dict[str, str]) -> frozenset[tuple[str, str]]:
    """node_exporter fills a label a sample lacks with "": the same series for Prometheus."""
    return frozenset((key, value) for key, value in labels.items() if value != "")


def expected(case: str) -> tuple[Series, dict[str, tuple[str, str]]]:
    """({(sample name, labels): value}, {family: (type, help)}) from node_exporter's expected output."""
    series: Series = {}
    families = {}
    for family in text_string_to_metric_families((CASES / f"{case}.out").read_text()):
        families[family.name] = (family.type, family.documentation)
        for sample in family.samples:
            series[(sample.name, without_empty(sample.labels))] = sample.value
    return series, families


def collected(directory: str, base: Path) -> tuple[Series, dict[str, tuple[Kind, str]]]:
    samples = TextfileCollector(Paths(), TextfileOptions(directory=directory)).collect()
    series: Series = {}
    kinds = {}
    for sample in samples:
        labels = {key: value.replace(str(base), UPSTREAM_PREFIX) for key, value in sample.labels}
        value = 1.0 if sample.name == "node_textfile_mtime_seconds" else sample.value
        series[(sample.name, without_empty(labels))] = value
        kinds[sample.name] = (sample.kind, sample.help.replace(str(base), UPSTREAM_PREFIX))
    return series, kinds


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy, so every file's path and mtime are this run's (the collector caches on them).
    copy = tmp_path_factory.mktemp("textfile")
    shutil.copytree(CASES, copy, dirs_exist_ok=True)
    return copy


UPSTREAM_CASES = [
    ("no_metric_files", "no_metric_files"),
    ("two_metric_files", "two_metric_files"),
    ("nonexistent_path", "nonexistent_path"),
    ("client_side_timestamp", "client_side_timestamp"),
    ("different_metric_types", "different_metric_types"),
    ("inconsistent_metrics", "inconsistent_metrics"),
    ("histogram", "histogram"),
    ("histogram_extra_dimension", "histogram_extra_dimension"),
    ("summary", "summary"),
    ("summary_extra_dimension", "summary_extra_dimension"),
    ("*_extra_dimension", "glob_extra_dimension"),
    ("metrics_merge_empty_help", "metrics_merge_empty_help"),
    ("metrics_merge_no_help", "metrics_merge_no_help"),
    ("metrics_merge_same_help", "metrics_merge_same_help"),
    ("metrics_merge_different_help", "metrics_merge_different_help"),
]


# A summary quantile with a label its _sum and _count lack makes node_exporter's client library build a
# second summary and invent its _sum and _count as 0; the reporter passes the file's own series through.
INVENTED_BY_GO_CLIENT = {
    (f"prometheus_rule_evaluation_duration_seconds_{suffix}",
     frozenset({("handler", "foo"), ("rule_type", "alerting")}))
    for suffix in ("sum", "count")
}  # fmt: skip


@pytest.mark.parametrize(("directory", "case"), UPSTREAM_CASES)
def test_same_series_as_node_exporter(cases: Path, directory: str, case: str) -> None:
    want, want_families = expected(case)
    want = {key: value for key, value in want.items() if key not in INVENTED_BY_GO_CLIENT}
    got, got_kinds = collected(f"{cases}/{directory}", cases)
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == value or (math.isnan(value) and math.isnan(got[key])), key
    for family, (kind, help_text) in want_families.items():
        names = [name for name in got_kinds if name == family or name.startswith(family + "_")]
        if kind in ("histogram", "summary"):
            assert {got_kinds[name][0] for name in names} == {Kind.UNTYPED}
            continue
        sample_name = family + "_total" if kind == "counter" and family + "_total" in got_kinds else family
        got_kind, got_help = got_kinds[sample_name]
        assert (str(got_kind).replace("untyped", "unknown"), got_help) == (kind, help_text), family
