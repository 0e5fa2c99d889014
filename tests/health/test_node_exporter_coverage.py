"""The stock "Node Exporter Full" dashboard and the node-mixin rules, tried the way users will: a real
Prometheus scrapes the health reporter and the real prometheus-node-exporter side by side on this machine,
then every series those panels and alerts select (data/node_exporter_series.yaml) is queried per job.

Every series that returns data from node_exporter must return data from the reporter, with the labels
the panels group by or show in legends, unless its collector is listed as out of scope (with the reason)
in data/node_exporter_out_of_scope.yaml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.health.conftest import start_reporter
from tests.health.helpers import free_port, http_ok, stop_process, wait_until

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
SCRAPES = 3
APP_METRICS = """\
# HELP app_uploads_total Files uploaded.
# TYPE app_uploads_total counter
app_uploads_total{queue="a"} 7
"""
# OpenMetrics names a family without its sample suffix; node_exporter answers in the text format.
FAMILY_SUFFIX = {"counter": "_total", "info": "_info"}


@dataclass(frozen=True)
class Series:
    selector: str
    labels: tuple[str, ...]
    used_by: tuple[str, ...]


@dataclass(frozen=True)
class OutOfScope:
    collector: str
    pattern: re.Pattern[str]
    reason: str


def load_series() -> list[Series]:
    entries = yaml.safe_load((DATA / "node_exporter_series.yaml").read_text())["series"]
    return [Series(e["selector"], tuple(e["labels"]), tuple(e["used_by"])) for e in entries]


def load_out_of_scope() -> list[OutOfScope]:
    entries = yaml.safe_load((DATA / "node_exporter_out_of_scope.yaml").read_text())["out_of_scope"]
    return [OutOfScope(e["collector"], re.compile(e["series"]), e["reason"].strip()) for e in entries]


def with_job(selector: str, job: str) -> str:
    name, brace, matchers = selector.partition("{")
    return f'{name}{{job="{job}"' + (f",{matchers}" if brace else "}")


class Prometheus:
    def __init__(self, targets: dict[str, int], workdir: Path) -> None:
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            for job, port in targets.items()
        )
        config = workdir / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{jobs}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
        ]  # fmt: skip
        with (workdir / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def query(self, expression: str) -> list[dict]:
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=10).json()
        assert answer["status"] == "success", (expression, answer)
        return answer["data"]["result"]

    def metadata(self, job: str) -> dict[str, str]:
        """{metric name: type} as Prometheus recorded it from the job's scrapes (sample names: an
        OpenMetrics counter family "x" is recorded as "x", node_exporter's text format as "x_total")."""
        answer = requests.get(
            f"{self.url}/api/v1/targets/metadata", params={"match_target": f'{{job="{job}"}}'}, timeout=10
        ).json()
        types = {}
        for entry in answer["data"]:
            suffix = FAMILY_SUFFIX.get(entry["type"], "")
            types[entry["metric"] if entry["metric"].endswith(suffix) else entry["metric"] + suffix] = entry[
                "type"
            ]
        return types

    def label_names(self, job: str) -> dict[str, set[str]]:
        """{metric name: label names} of every node_* series the job serves."""
        names: dict[str, set[str]] = {}
        for series in self.query(f'{{job="{job}",__name__=~"node_.+"}}'):
            labels = dict(series["metric"])
            names.setdefault(labels.pop("__name__"), set()).update(labels)
        return names

    def instance(self, job: str) -> str:
        return self.query(f'up{{job="{job}"}}')[0]["metric"]["instance"]

    def scraped(self, job: str, times: int) -> bool:
        result = self.query(f'count_over_time(up{{job="{job}"}}[1m]) >= {times} and up{{job="{job}"}} == 1')
        return bool(result)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("coverage")
    if not Path(NODE_EXPORTER).exists() or shutil.which("prometheus") is None:
        pytest.fail("prometheus and prometheus-node-exporter must be installed (scripts/setup.sh)")
    node_port = free_port()
    command = [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{node_port}"]
    with (tmp_path / "node_exporter.log").open("wb") as log:
        node_exporter = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    textfiles = tmp_path / "textfiles"  # an app's own metrics, published the way node_exporter reads them
    textfiles.mkdir()
    (textfiles / "app.prom").write_text(APP_METRICS)
    (textfiles / "broken.prom").write_text("half a line {\n")
    reporter = start_reporter({"HEALTH_TEXTFILE_DIRECTORY": str(textfiles)}, tmp_path / "reporter.log")
    server = Prometheus({"node": node_port, "health": reporter.port}, tmp_path)
    try:
        wait_until(lambda: http_ok(f"{server.url}/-/ready"), 30, "prometheus ready")
        for job in ("node", "health"):
            wait_until(lambda job=job: server.scraped(job, SCRAPES), 30, f"{SCRAPES} scrapes of {job}")
        yield server
    finally:
        for process in (server.process, reporter.process, node_exporter):
            stop_process(process)


def label_sets(prometheus: Prometheus, series: Series, job: str) -> list[set[str]]:
    return [set(result["metric"]) for result in prometheus.query(with_job(series.selector, job))]


def test_every_series_node_exporter_has_the_reporter_has(prometheus: Prometheus) -> None:
    series = load_series()
    out_of_scope = load_out_of_scope()
    with ThreadPoolExecutor(4) as pool:
        node = list(pool.map(lambda s: label_sets(prometheus, s, "node"), series))
        health = list(pool.map(lambda s: label_sets(prometheus, s, "health"), series))

    one_sided: list[tuple[str, str, str]] = []  # (selector, which side lacks what, out-of-scope reason)
    failures = []
    for entry, node_sets, health_sets in zip(series, node, health, strict=True):
        node_labels = set().union(*node_sets) if node_sets else set()
        health_labels = set().union(*health_sets) if health_sets else set()
        if node_sets and not health_sets:
            problem = "reporter: no data"
        elif health_sets and not node_sets:
            problem = "node_exporter: no data"
        elif missing := sorted(set(entry.labels) & node_labels - health_labels):
            problem = f"reporter: no label {', '.join(missing)}"
        else:
            continue
        scope = next((s for s in out_of_scope if s.pattern.search(entry.selector)), None)
        reason = f"out of scope ({scope.collector})" if scope else ""
        one_sided.append((entry.selector, problem, reason))
        if problem.startswith("reporter") and scope is None:
            failures.append(f"{entry.selector}: {problem} (used by {'; '.join(entry.used_by[:3])})")

    answered = sum(1 for node_sets in node if node_sets)
    both = sum(1 for node_sets, health_sets in zip(node, health, strict=True) if node_sets and health_sets)
    print(f"\nnode_exporter answers {answered} of {len(series)} series here, the reporter {both} of those")
    print_table(one_sided, len(series))
    assert not failures, "series node_exporter serves and the reporter does not:\n" + "\n".join(failures)


def print_table(rows: list[tuple[str, str, str]], total: int) -> None:
    width = max((len(selector) for selector, _, _ in rows), default=10)
    print(f"\n{len(rows)} of {total} dashboard/alert series answer for one job only:")
    for selector, problem, reason in sorted(rows, key=lambda row: (row[2], row[1], row[0])):
        print(f"  {selector:<{width}}  {problem:<26}  {reason}")


# Label values that must be the same for the same machine: the host's identity, as dashboards select it.
SAME_LABEL_VALUES = ("node_uname_info", "node_os_info", "node_os_version", "node_time_zone_offset_seconds")


def test_shared_metrics_have_node_exporters_types_and_labels(prometheus: Prometheus) -> None:
    node_types, health_types = prometheus.metadata("node"), prometheus.metadata("health")
    assert len(node_types.keys() & health_types.keys()) > 150
    assert health_types["node_vmstat_pgfault"] == "unknown" and health_types["node_uname_info"] == "gauge"
    wrong_types = {
        name: (node_types[name], health_types[name])
        for name in node_types.keys() & health_types.keys()
        if node_types[name] != health_types[name]
    }
    assert wrong_types == {}, "metric type (node_exporter, reporter) differs"

    node_labels, health_labels = prometheus.label_names("node"), prometheus.label_names("health")
    assert len(node_labels.keys() & health_labels.keys()) > 150
    wrong_labels = {
        name: (sorted(node_labels[name]), sorted(health_labels[name]))
        for name in node_labels.keys() & health_labels.keys()
        if node_labels[name] != health_labels[name]
    }
    assert wrong_labels == {}, "label names (node_exporter, reporter) differ"

    for name in SAME_LABEL_VALUES:
        node = [{k: v for k, v in s["metric"].items() if k not in ("instance", "job")}
                for s in prometheus.query(f'{name}{{job="node"}}')]  # fmt: skip
        health = [{k: v for k, v in s["metric"].items() if k not in ("instance", "job")}
                  for s in prometheus.query(f'{name}{{job="health"}}')]  # fmt: skip
        assert health == node, name


def test_an_apps_textfile_metrics_reach_prometheus(prometheus: Prometheus) -> None:
    [uploads] = prometheus.query('app_uploads_total{job="health"}')
    assert uploads["metric"]["queue"] == "a" and uploads["value"][1] == "7"
    assert prometheus.metadata("health")["app_uploads_total"] == "counter"
    [mtime] = prometheus.query('node_textfile_mtime_seconds{job="health"}')
    assert mtime["metric"]["file"].endswith("/app.prom")  # the broken file is skipped...
    [error] = prometheus.query('node_textfile_scrape_error{job="health"}')
    assert (
        error["value"][1] == "1"
    )  # ...and counted, which node-mixin's NodeTextFileCollectorScrapeError sees


def panel_query(expr: str, job: str, instance: str) -> str:
    """The query Grafana sends for that host ($__rate_interval: 4 x the 1 s scrape interval, at least 1m)."""
    return expr.replace("$node", instance).replace("$job", job).replace("$__rate_interval", "1m")


def test_every_panel_query_with_data_from_node_exporter_has_data_from_the_reporter(
    prometheus: Prometheus,
) -> None:
    """The dashboard's queries run whole, as Grafana runs them for one host. A query whose selectors are all
    out of scope may stay empty; so may one that compares values that differ between two scrapes."""
    panels = yaml.safe_load((DATA / "node_exporter_series.yaml").read_text())["panel_expressions"]
    out_of_scope = load_out_of_scope()
    instances = {job: prometheus.instance(job) for job in ("node", "health")}

    def answers(panel: dict) -> tuple[bool, bool]:
        return tuple(
            bool(prometheus.query(panel_query(panel["expr"], job, instances[job]))) for job in instances
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(answers, panels))
    missing = [
        panel for panel, (node, health) in zip(panels, results, strict=True)
        if node and not health and not any(scope.pattern.search(panel["expr"]) for scope in out_of_scope)
    ]  # fmt: skip
    answered = sum(1 for node, _ in results if node)
    print(f"\n{answered} of {len(panels)} panel queries answer for node_exporter here, the reporter misses")
    print(f"{len(missing)} of those" + "".join(f"\n  {p['used_by'][0]}: {p['expr']}" for p in missing))
    assert not missing, "\n".join(f"{p['used_by'][0]}: {p['expr']}" for p in missing)
