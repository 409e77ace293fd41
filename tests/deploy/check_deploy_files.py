#!/usr/bin/env python3
"""The observability deploy files agree with each other and with the code.

- deploy/grafana/itk-router-dashboard.json loads as JSON and is a well-formed dashboard: unique
  panel ids, every panel on the 24-column grid with a Prometheus target whose expression is set;
- every itk_ metric the dashboard and the alert rules use is documented in docs/OPERATIONS.md;
- every metric the code registers is documented, and every documented metric is registered.

Usage: check_deploy_files.py SOURCE_DIR (exit 0 when all holds, 1 with the problems otherwise).
"""
import json
import pathlib
import re
import sys

METRIC = re.compile(r"\bitk_[a-z0-9_]+\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def base_name(name, known):
    """A histogram's sample name (NAME_bucket, _sum, _count) as its family name."""
    if name in known:
        return name
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return name


def documented_metrics(root):
    text = (root / "docs/OPERATIONS.md").read_text()
    return set(re.findall(r"^\| `(itk_[a-z0-9_]+)` \|", text, re.M))


def registered_metrics(root):
    """Names the code gives a metric family: Name("itk_...") or family("itk_...", ...)."""
    names = set()
    for folder in ("router/src", "transports"):
        for path in (root / folder).rglob("*.cc"):
            names.update(re.findall(r'(?:\.Name|family)\(\s*"(itk_[a-z0-9_]+)"', path.read_text()))
    return names


def check_dashboard(dashboard, problems):
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            problems.append(f"dashboard: no {key}")
    ids = set()
    for panel in dashboard.get("panels", []):
        pid = panel.get("id")
        where = f"dashboard panel {pid} ({panel.get('title')!r})"
        if pid in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(pid)
        grid = panel.get("gridPos", {})
        if not all(k in grid for k in ("x", "y", "w", "h")) or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos {grid} is not on the 24-column grid")
        if panel.get("type") == "row":
            continue
        if panel.get("datasource", {}).get("type") != "prometheus":
            problems.append(f"{where}: datasource is not Prometheus")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{where}: no targets")
        ref_ids = [t.get("refId") for t in targets]
        if len(set(ref_ids)) != len(ref_ids):
            problems.append(f"{where}: duplicate refId")
        for t in targets:
            if not t.get("expr", "").strip():
                problems.append(f"{where}: target {t.get('refId')} has no expression")


def main(argv):
    root = pathlib.Path(argv[1]) if len(argv) > 1 else pathlib.Path(__file__).resolve().parents[2]
    problems = []
    dashboard_path = root / "deploy/grafana/itk-router-dashboard.json"
    try:
        dashboard = json.loads(dashboard_path.read_text())
    except ValueError as e:
        print(f"{dashboard_path}: not JSON: {e}")
        return 1
    check_dashboard(dashboard, problems)

    documented = documented_metrics(root)
    registered = registered_metrics(root)
    if not documented:
        problems.append("docs/OPERATIONS.md documents no metric")
    for name in sorted(registered - documented):
        problems.append(f"{name} is registered in the code but not documented in docs/OPERATIONS.md")
    for name in sorted(documented - registered):
        problems.append(f"{name} is documented in docs/OPERATIONS.md but the code registers no such metric")

    for rel in ("deploy/prometheus/alerts.yml", "deploy/grafana/itk-router-dashboard.json"):
        for name in sorted(set(METRIC.findall((root / rel).read_text()))):
            if base_name(name, documented) not in documented:
                problems.append(f"{rel} uses {name}, which is not a documented metric")

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
