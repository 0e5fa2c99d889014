"""The textfile collector: *.prom files as node_exporter reads them, bad files skipped and counted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from health_collector_testing import by_name, value
from health_reporter.collectors import build_collectors
from health_reporter.collectors.textfile import TextfileCollector, TextfileOptions, parse_text_format
from health_reporter.errors import ConfigError
from health_reporter.exposition import build_registry, render
from health_reporter.models import Kind
from health_reporter.paths import Paths
from health_reporter.snapshot import Snapshot
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

APP = """\
# HELP app_jobs_done_total Jobs the app finished.
# TYPE app_jobs_done_total counter
app_jobs_done_total{queue="uploads"} 41
app_jobs_done_total{queue="say \\"hi\\"\\n"} 1
# TYPE app_temperature_celsius gauge
app_temperature_celsius 21.5
app_last_seen 1.7e9
# TYPE app_latency_seconds histogram
app_latency_seconds_bucket{le="0.1"} 3
app_latency_seconds_bucket{le="+Inf"} 5
app_latency_seconds_sum 0.9
app_latency_seconds_count 5
"""


def collector(directory: Path | str, **options: object) -> TextfileCollector:
    return TextfileCollector(Paths(), TextfileOptions(directory=str(directory), **options))  # type: ignore[arg-type]


def test_off_by_default_with_no_error():
    samples = TextfileCollector(Paths()).collect()
    assert [(s.name, s.value) for s in samples] == [("node_textfile_scrape_error", 0)]


def test_files_become_series_with_their_types_and_mtimes(tmp_path):
    app = tmp_path / "app.prom"
    app.write_text(APP)
    os.utime(app, (1_700_000_000.7, 1_700_000_000.7))
    (tmp_path / "notes.txt").write_text("not a metrics file")
    samples = collector(tmp_path).collect()
    assert value(samples, "app_jobs_done_total", queue="uploads") == 41
    assert value(samples, "app_jobs_done_total", queue='say "hi"\n') == 1
    assert value(samples, "app_latency_seconds_bucket", le="+Inf") == 5
    kinds = {s.name: s.kind for s in samples}
    assert kinds["app_jobs_done_total"] == Kind.COUNTER and kinds["app_temperature_celsius"] == Kind.GAUGE
    assert kinds["app_last_seen"] == kinds["app_latency_seconds_sum"] == Kind.UNTYPED
    helps = {s.name: s.help for s in samples}
    assert helps["app_jobs_done_total"] == "Jobs the app finished."
    assert helps["app_temperature_celsius"] == f"Metric read from {app}"  # node_exporter's default help
    assert value(samples, "node_textfile_mtime_seconds", file=str(app)) == 1_700_000_000  # whole seconds
    assert value(samples, "node_textfile_scrape_error") == 0


def test_bad_files_are_skipped_whole_and_counted(tmp_path):
    (tmp_path / "good.prom").write_text("good_metric 1\n")
    (tmp_path / "syntax.prom").write_text("ok_before_the_error 1\nnot a metric line {\n")
    (tmp_path / "stamped.prom").write_text("stamped_metric 1 1700000000000\n")
    (tmp_path / "twice.prom").write_text("# TYPE twice gauge\n# TYPE twice counter\ntwice 1\n")
    (tmp_path / "binary.prom").write_bytes(b"\xff\xfe metric 1\n")
    samples = collector(tmp_path).collect()
    assert value(samples, "good_metric") == 1
    names = {s.name for s in samples}
    assert not names & {"ok_before_the_error", "stamped_metric", "twice"}
    assert by_name(samples, "node_textfile_mtime_seconds").keys() == {
        (("file", str(tmp_path / "good.prom")),)
    }
    assert value(samples, "node_textfile_scrape_error") == 1


def test_the_reporters_own_names_cannot_be_fed_by_a_file(tmp_path):
    (tmp_path / "spoof.prom").write_text(
        "device_cpu_temperature_celsius 20\nnode_textfile_scrape_error 0\napp_ok 1\n"
    )
    samples = collector(tmp_path).collect()
    assert not by_name(samples, "device_cpu_temperature_celsius")
    assert value(samples, "app_ok") == 1 and value(samples, "node_textfile_scrape_error") == 1


def test_same_metric_in_two_files_needs_the_same_help(tmp_path):
    (tmp_path / "a.prom").write_text('# HELP shared_metric One.\nshared_metric{from="a"} 1\n')
    (tmp_path / "b.prom").write_text('# HELP shared_metric One.\nshared_metric{from="b"} 2\n')
    (tmp_path / "c.prom").write_text('# HELP shared_metric Another.\nshared_metric{from="c"} 3\n')
    samples = collector(tmp_path).collect()
    assert by_name(samples, "shared_metric") == {(("from", "a"),): 1, (("from", "b"),): 2}
    assert value(samples, "node_textfile_scrape_error") == 1


def test_missing_directory_is_an_error_not_a_failure(tmp_path):
    samples = collector(tmp_path / "absent").collect()
    assert value(samples, "node_textfile_scrape_error") == 1


def test_inputs_are_bounded(tmp_path):
    (tmp_path / "big.prom").write_text("big_metric 1\n" + "# padding\n" * 200)
    for index in range(3):
        (tmp_path / f"small{index}.prom").write_text(f'small_metric{{n="{index}"}} {index}\n')
    samples = collector(tmp_path, max_file_bytes=100, max_files=3).collect()
    assert "big_metric" not in {s.name for s in samples}  # too large
    assert len(by_name(samples, "small_metric")) == 2  # the first three files: big, small0, small1
    assert value(samples, "node_textfile_scrape_error") == 1
    few = collector(tmp_path, max_series=2).collect()  # big_metric and small0's series, then no more
    assert value(few, "big_metric") == 1 and len(by_name(few, "small_metric")) == 1
    assert value(few, "node_textfile_scrape_error") == 1


def test_a_file_is_parsed_again_only_when_it_changes(tmp_path):
    path = tmp_path / "app.prom"
    path.write_text("app_value 1\n")
    textfile = collector(tmp_path)
    assert value(textfile.collect(), "app_value") == 1
    stat = path.stat()
    path.write_text("app_value 2\n")  # same size and (restored) mtime and inode: not read again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert value(textfile.collect(), "app_value") == 1
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert value(textfile.collect(), "app_value") == 2
    tmp = tmp_path / "app.prom.tmp"  # an atomic replace, as node_exporter's README asks writers to do
    tmp.write_text("app_value 3\n")
    tmp.rename(path)
    assert value(textfile.collect(), "app_value") == 3


def test_rendered_output_parses_in_both_formats(tmp_path):
    (tmp_path / "app.prom").write_text(APP)
    samples = collector(tmp_path).collect()
    registry = build_registry(lambda: Snapshot(time.time(), tuple(samples)), process_metrics=False)
    text, _ = render(registry, None)
    assert {f.name for f in parse_text(text.decode())} >= {"app_jobs_done", "app_temperature_celsius"}
    openmetrics, _ = render(registry, "application/openmetrics-text")
    families = {f.name: f.type for f in parse_openmetrics(openmetrics.decode())}
    assert families["app_jobs_done"] == "counter" and families["app_last_seen"] == "unknown"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"directory": "relative/dir"}, "textfile.directory: must be an absolute path"),
        ({"max_files": 0}, "textfile.max_files: must be a whole number above 0"),
        ({"max_file_bytes": True}, "textfile.max_file_bytes: must be a whole number above 0"),
    ],
)
def test_bad_options_name_the_key(options, message):
    with pytest.raises(ConfigError, match=message):
        build_collectors(Paths(), {"textfile": options})


def test_parser_details():
    families = parse_text_format('# HELP x A \\\\ and \\n.\n# TYPE x gauge\nx{a="1",b="2",} NaN\nx +Inf\n')
    assert families["x"].help == "A \\ and \n." and families["x"].type == "gauge"
    assert families["x"].samples[0][1] == (("a", "1"), ("b", "2"))
    assert families["x"].samples[1][2] == float("inf")
