"""Regenerates node_exporter_series.yaml: the series the stock "Node Exporter Full" Grafana dashboard and
the node-mixin alert and recording rules select, with the labels they group or label legends by, and
the dashboard's panel queries verbatim.

    python tests/health/data/extract_node_series.py DASHBOARD_JSON MIXIN_DIR DASHBOARD_COMMIT MIXIN_COMMIT

DASHBOARD_JSON is rfmoz/grafana-dashboards prometheus/node-exporter-full.json (grafana.com 1860);
MIXIN_DIR is prometheus/node_exporter docs/node-mixin. PromQL is read with regular expressions, which is
enough for these sources: every scraped series they use starts with ``node_`` or ``process_`` and
recording-rule outputs (``instance:node_...:rate5m``) contain colons.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import yaml

METRIC = re.compile(r"(?<![\w:])((?:node|process)_[A-Za-z0-9_]*)(?![\w:(])\s*(\{[^}]*\})?")
MATCHER = re.compile(r"""(\w+)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
VARIABLE_LABEL = re.compile(r"label_values\([^,]*,\s*(\w+)\s*\)")  # Grafana's variable query
LEGEND_LABEL = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# The dashboard's own variables select the host; the test adds its job instead.
HOST_SELECTORS = {"instance", "job"}
ALWAYS_PRESENT = {"instance", "job", "__name__"}


def selector(name: str, matchers_text: str | None) -> str:
    matchers = []
    for label, op, quoted in MATCHER.findall(matchers_text or ""):
        if label in HOST_SELECTORS or "$" in quoted:  # a dashboard variable: the host's own values
            continue
        value = quoted[1:-1].replace('\\"', '"').replace("\\'", "'")
        matchers.append(f"{label}{op}{json.dumps(value)}")
    return name + ("{" + ",".join(sorted(matchers)) + "}" if matchers else "")


def used_labels(expr: str, legend: str = "") -> set[str]:
    labels = {label.strip() for group in GROUPING.findall(expr) for label in group.split(",")}
    labels |= set(LEGEND_LABEL.findall(legend)) | set(VARIABLE_LABEL.findall(expr))
    return {label for label in labels if label} - ALWAYS_PRESENT


def dashboard_expressions(path: Path) -> list[tuple[str, str, str]]:
    """(user, expr, legendFormat) of every panel target, the user named 'dashboard: Row / Panel'."""
    board = json.loads(path.read_text())
    found: list[tuple[str, str, str]] = []
    row = ""
    for panel in board["panels"]:
        if panel.get("type") == "row":
            row = panel.get("title", "")
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                if "expr" in target:
                    user = f"dashboard: {row} / {inner.get('title', '')}"
                    found.append((user, target["expr"], target.get("legendFormat", "")))
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        if "node_" in text:
            found.append((f"dashboard: variable ${variable['name']}", text, ""))
    return found


def panel_expressions(dashboard: Path) -> list[dict]:
    """Each distinct panel query as Grafana sends it (with $node, $job, $__rate_interval), for the test
    that runs them whole."""
    users: dict[str, set[str]] = defaultdict(set)
    for user, expr, _legend in dashboard_expressions(dashboard):
        if not user.startswith("dashboard: variable"):
            users[expr.strip()].add(user)
    return [{"expr": expr, "used_by": sorted(users[expr])} for expr in sorted(users)]


def mixin_config(mixin: Path) -> dict[str, str]:
    text = (mixin / "config.libsonnet").read_text()
    values = dict(re.findall(r"^\s*(\w+):\s*'([^']*)',", text, re.MULTILINE))
    values.update(re.findall(r"^\s*(\w+):\s*(\d+),", text, re.MULTILINE))
    values["nodeExporterSelector"] = ""  # the host selector, as the dashboard's $job
    return values


def mixin_expressions(mixin: Path) -> list[tuple[str, str, str]]:
    config = mixin_config(mixin)
    found = []
    for kind, source in (("alert", "alerts/alerts.libsonnet"), ("record", "rules/rules.libsonnet")):
        text = (mixin / source).read_text()
        for match in re.finditer(rf"{kind}: '([^']+)'.*?expr: \|\|\|(.*?)\|\|\|", text, re.DOTALL):
            name = match[1].replace("%(rateInterval)s", config["rateInterval"])
            expr = re.sub(r"%\((\w+)\)[sd]", lambda m: config[m[1]], match[2]).replace("%%", "%")
            expr = re.sub(r"\{\s*,", "{", re.sub(r",\s*,", ",", expr))  # the emptied host selector
            found.append((f"{kind}: {name}", expr, ""))
    return found


def extract(dashboard: Path, mixin: Path) -> list[dict]:
    users: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, set[str]] = defaultdict(set)
    for user, expr, legend in dashboard_expressions(dashboard) + mixin_expressions(mixin):
        expr_labels = used_labels(expr, legend)
        for name, matchers in METRIC.findall(expr):
            key = selector(name, matchers)
            users[key].add(user)
            labels[key] |= expr_labels
    return [
        {"selector": key, "labels": sorted(labels[key]), "used_by": sorted(users[key])}
        for key in sorted(users)
    ]


HEADER = """\
# The series (metric name + label matchers) that the stock Grafana dashboard "Node Exporter Full"
# (grafana.com 1860) and the node-mixin alert and recording rules select, and the labels they group by
# or show in legends. Generated by extract_node_series.py from:
#   rfmoz/grafana-dashboards prometheus/node-exporter-full.json @ {dashboard_commit}
#   prometheus/node_exporter docs/node-mixin/{{alerts/alerts,rules/rules,config}}.libsonnet @ {mixin_commit}
# The dashboard's instance="$node",job="$job" and the mixin's job="node" matchers are dropped: the
# coverage test selects each scrape job itself. panel_expressions are the dashboard's queries verbatim.
# Do not edit by hand; rerun the script.
"""


def main(argv: list[str]) -> int:
    dashboard, mixin, dashboard_commit, mixin_commit = argv
    series = extract(Path(dashboard), Path(mixin))
    out = Path(__file__).with_name("node_exporter_series.yaml")
    header = HEADER.format(dashboard_commit=dashboard_commit, mixin_commit=mixin_commit)
    panels = panel_expressions(Path(dashboard))
    data = {"series": series, "panel_expressions": panels}
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=110))
    print(f"{len(series)} series and {len(panels)} panel expressions written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
