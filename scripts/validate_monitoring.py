"""Check deploy/monitoring: the Grafana dashboard's structure, the PromQL of its panels and of the
alert rules, and that the PrometheusRule carries exactly the plain rules file's groups.

    python scripts/validate_monitoring.py [--promtool PATH]   check (exit 1 on any problem)
    python scripts/validate_monitoring.py --sync              rewrite prometheusrule.yaml

With --promtool, the dashboard's queries (Grafana variables replaced by sample values) become
recording rules in a temporary file that `promtool check rules` parses, so a typo in a panel's
PromQL fails here rather than in Grafana. scripts/validate-deploy.sh passes Debian's promtool.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "alerts.rules.yml"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"

PANEL_TYPES = {"row", "stat", "timeseries", "gauge", "bargauge", "table", "text", "heatmap"}
GRID_COLUMNS = 24
# Grafana's built-in variables, replaced by something PromQL accepts.
BUILTIN_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
_VARIABLE = re.compile(r"\$\{?(\w+)(?::\w+)?\}?")

PROMETHEUS_RULE_HEADER = """\
# Generated from alerts.rules.yml by `python scripts/validate_monitoring.py --sync`; do not edit.
# The Prometheus Operator loads it when its ruleSelector matches these labels (kube-prometheus-stack
# selects `release: <its release name>` by default: add that label in your overlay).
"""


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL) as literal blocks, as a person would."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def prometheus_rule(groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "avatar-agent",
            "labels": {
                "app.kubernetes.io/name": "avatar-agent",
                "app.kubernetes.io/component": "monitoring",
            },
        },
        "spec": {"groups": groups},
    }


def dashboard_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query target of every panel, rows' nested panels included."""
    out: list[tuple[str, str]] = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            out.append((panel.get("title", "?"), target.get("expr", "")))
    return out


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def check_dashboard(dashboard: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dashboard:
            errors.append(f"dashboard: no {key!r}")
    if not isinstance(dashboard.get("schemaVersion"), int) or dashboard["schemaVersion"] < 36:
        errors.append("dashboard: schemaVersion must be an integer >= 36 (Grafana 9+)")
    variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
    if "datasource" not in variables:
        errors.append("dashboard: no 'datasource' variable; panels would be bound to one instance")
    ids: set[int] = set()
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(dashboard):
        title = panel.get("title", "?")
        pid = panel.get("id")
        if not isinstance(pid, int) or pid in ids:
            errors.append(f"panel {title!r}: id {pid!r} missing or not unique")
        else:
            ids.add(pid)
        if panel.get("type") not in PANEL_TYPES:
            errors.append(f"panel {title!r}: unknown type {panel.get('type')!r}")
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)):
            errors.append(f"panel {title!r}: gridPos needs integer x, y, w, h")
            continue
        assert isinstance(x, int) and isinstance(y, int) and isinstance(w, int)
        assert isinstance(h, int)
        if x < 0 or w < 1 or x + w > GRID_COLUMNS or h < 1:
            errors.append(f"panel {title!r}: gridPos {grid} outside the 24-column grid")
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    errors.append(f"panel {title!r} overlaps panel {cells[(cx, cy)]!r}")
                    break
                cells[(cx, cy)] = title
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        datasource = panel.get("datasource", {})
        if datasource.get("uid") != "${datasource}":
            errors.append(f"panel {title!r}: datasource must be the ${{datasource}} variable")
        targets = panel.get("targets", [])
        if not targets:
            errors.append(f"panel {title!r}: no query")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids) or None in ref_ids:
            errors.append(f"panel {title!r}: refIds missing or repeated")
        for target in targets:
            expr = target.get("expr", "")
            if not expr.strip():
                errors.append(f"panel {title!r}: empty expr")
            for name in _VARIABLE.findall(expr):
                if name not in variables and name not in BUILTIN_VARIABLES:
                    errors.append(f"panel {title!r}: undefined variable ${name}")
    return errors


def substitute_variables(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        return BUILTIN_VARIABLES.get(match.group(1), "sample")

    return _VARIABLE.sub(value, expr)


def check_promql_with_promtool(promtool: str, queries: list[tuple[str, str]]) -> list[str]:
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": substitute_variables(expr)}
        for i, (_, expr) in enumerate(queries)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard-queries.rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
    if result.returncode != 0:
        return [f"dashboard PromQL (promtool): {result.stdout}{result.stderr}".strip()]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sync", action="store_true", help="rewrite prometheusrule.yaml")
    parser.add_argument("--promtool", help="promtool binary: parse the dashboard's PromQL")
    args = parser.parse_args()

    groups = yaml.safe_load(RULES.read_text())["groups"]
    if args.sync:
        text = PROMETHEUS_RULE_HEADER + yaml.dump(
            prometheus_rule(groups),
            Dumper=_BlockDumper,
            sort_keys=False,
            width=100,
            allow_unicode=True,
        )
        PROMETHEUS_RULE.write_text(text)
        print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
        return 0

    errors: list[str] = []
    if yaml.safe_load(PROMETHEUS_RULE.read_text()) != prometheus_rule(groups):
        errors.append(
            f"{PROMETHEUS_RULE.relative_to(ROOT)} differs from {RULES.relative_to(ROOT)}: "
            "run python scripts/validate_monitoring.py --sync"
        )
    dashboard = json.loads(DASHBOARD.read_text())
    errors += check_dashboard(dashboard)
    if args.promtool:
        errors += check_promql_with_promtool(args.promtool, dashboard_queries(dashboard))
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    if not errors:
        print(f"monitoring: dashboard ({len(dashboard_queries(dashboard))} queries) and rules OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
