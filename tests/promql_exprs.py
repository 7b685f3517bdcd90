"""The PromQL of deploy/: the metric catalog, and every expression the dashboard and alerts use.

`dashboard_expressions()` and `alert_expressions()` give expressions ready to send to a real
Prometheus (`/api/v1/query`): Grafana's variables are replaced by values that select everything
(`$model` -> `.*`, `$__rate_interval` -> `1m`, ...). A live test can evaluate each one against a
Prometheus that scrapes a router which has served a few requests, and expect a non-empty result
for every dashboard expression: expressions over metrics that only appear on rare events
(fallbacks, errors, escalations, model loads, ...) end in `or on() vector(0)`.

`METRICS` is the contract with the router's metrics module: name -> (type, label names).
Prometheus exports a histogram `h` as `h_bucket` (with `le`), `h_sum` and `h_count`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "router.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
_RMT = ("model", "task", "backend", "api")

METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "router_requests_total": (COUNTER, (*_RMT, "status")),
    "router_request_duration_seconds": (HISTOGRAM, _RMT),
    "router_time_to_first_token_seconds": (HISTOGRAM, _RMT),
    "router_time_per_output_token_seconds": (HISTOGRAM, _RMT),
    "router_output_tokens_total": (COUNTER, _RMT),
    "router_prompt_tokens_total": (COUNTER, _RMT),
    "router_requests_in_flight": (GAUGE, ("model", "backend")),
    "router_queue_depth": (GAUGE, ("model", "backend")),
    "router_route_decisions_total": (COUNTER, ("task", "model", "reason")),
    "router_fallbacks_total": (COUNTER, ("from_model", "to_model", "reason")),
    "router_session_switches_total": (COUNTER, ("reason",)),
    "router_sessions": (GAUGE, ()),
    "router_model_loaded": (GAUGE, ("model", "backend")),
    "router_model_load_seconds": (HISTOGRAM, ("model", "backend")),
    "router_prompt_cache_hit_tokens_total": (COUNTER, ("model", "backend")),
    "router_prompt_cache_bytes": (GAUGE, ("model", "backend")),
    "router_batch_size": (GAUGE, ("model", "backend")),
    "router_overhead_seconds": (HISTOGRAM, ()),
    "router_classification_seconds": (HISTOGRAM, ()),
    "router_profile_drift_ratio": (GAUGE, ("model",)),
    "router_calibration_tokens_per_second": (GAUGE, ("model", "backend")),
    "router_calibration_quality": (GAUGE, ("model", "task")),
    "router_calibration_ttft_seconds": (GAUGE, ("model", "backend")),
    "router_calibration_progress": (GAUGE, ()),
    "router_backend_up": (GAUGE, ("backend",)),
    "router_loop_guard_total": (COUNTER, ("model",)),
    "router_escalations_total": (COUNTER, ("task", "from_model", "to_model")),
}

# Added by Prometheus to every scraped series, and `up` itself.
TARGET_LABELS = ("job", "instance")
PROMETHEUS_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {"up": (GAUGE, ())}

# Metrics the dashboard reads without an `or on() vector(0)` guard: the router must export
# them as soon as it has served a few requests and run one health check. The unlabelled
# histograms exist from start-up.
ALWAYS_PRESENT = (
    "router_requests_total",
    "router_request_duration_seconds",
    "router_time_to_first_token_seconds",
    "router_time_per_output_token_seconds",
    "router_output_tokens_total",
    "router_prompt_tokens_total",
    "router_requests_in_flight",
    "router_overhead_seconds",
    "router_classification_seconds",
    "router_backend_up",
    "router_calibration_progress",  # no labels: exported (0) from the start
    "router_sessions",  # no labels: exported (0) from the start
)

# What Grafana's variables become outside Grafana: select everything.
GRAFANA_DEFAULTS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "model": ".*",
    "datasource": "prometheus",
}

_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str, **values: str) -> str:
    """Replace Grafana variables (`$x`, `${x}`, `${x:regex}`) by `values`, else the defaults."""
    table = {**GRAFANA_DEFAULTS, **values}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name not in table:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return table[name]

    return _VARIABLE.sub(repl, expr)


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def iter_panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' collapsed children included, rows themselves excluded."""
    for panel in panels:
        if panel.get("type") == "row":
            yield from iter_panels(panel.get("panels", []))
        else:
            yield panel


def dashboard_targets() -> list[tuple[str, str, str, str]]:
    """(panel title, refId, raw expr with Grafana variables, legendFormat) for every target."""
    out = []
    for panel in iter_panels(load_dashboard()["panels"]):
        for target in panel.get("targets", []):
            out.append(
                (
                    panel.get("title", ""),
                    target.get("refId", ""),
                    target.get("expr", ""),
                    target.get("legendFormat", ""),
                )
            )
    return out


def dashboard_variable_queries() -> list[str]:
    """The PromQL inside the dashboard's query variables (e.g. `label_values(m, model)`)."""
    queries = []
    for var in load_dashboard().get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        queries.append(query or var.get("definition", ""))
    return queries


def dashboard_expressions(**values: str) -> list[str]:
    """Every panel query of the dashboard, Grafana variables substituted, in panel order."""
    seen: dict[str, None] = {}
    for _, _, expr, _ in dashboard_targets():
        seen.setdefault(substitute(expr, **values), None)
    return list(seen)


def load_alert_rules() -> list[dict[str, Any]]:
    import yaml  # PyYAML: installed with litestar, a dependency of the router

    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def alert_expressions() -> list[str]:
    """The `expr` of every alerting rule in deploy/prometheus/alerts.yml, in file order."""
    return [rule["expr"].strip() for rule in load_alert_rules()]


def strip_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (series names as stored, e.g. `x_bucket`)."""
    text = strip_strings(expr)
    text = _GROUPING.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    names = set()
    for m in _IDENT.finditer(text):
        name = m.group(1)
        if name.lower() in _KEYWORDS:
            continue
        if re.match(r"\s*\(", text[m.end() :]):  # a function call
            continue
        names.add(name)
    return names


def label_names(expr: str) -> set[str]:
    """Label names an expression mentions: in matchers and in by/without/on/group_* lists."""
    text = strip_strings(expr)
    labels = set()
    for m in _GROUPING.finditer(text):
        labels.update(x.strip() for x in m.group(2).split(",") if x.strip())
    for m in _MATCHERS.finditer(text):
        labels.update(_MATCHER_LABEL.findall(m.group(1)))
    return labels


def resolve(series_name: str) -> tuple[str, str, tuple[str, ...]] | None:
    """Catalog entry (base name, type, labels) behind a stored series name, or None."""
    catalog = {**METRICS, **PROMETHEUS_METRICS}
    if series_name in catalog:
        kind, labels = catalog[series_name]
        if kind == HISTOGRAM:
            return None  # a histogram is only stored as _bucket, _sum and _count
        return series_name, kind, labels
    for suffix in ("_bucket", "_sum", "_count"):
        base = series_name.removesuffix(suffix)
        if base != series_name and catalog.get(base, ("", ()))[0] == HISTOGRAM:
            labels = catalog[base][1] + (("le",) if suffix == "_bucket" else ())
            return base, HISTOGRAM, labels
    return None


def problems(expr: str, legend: str = "") -> list[str]:
    """What is wrong with an expression against the catalog (empty list: nothing)."""
    found = []
    names = metric_names(expr)
    if not names:
        found.append(f"reads no metric: {expr!r}")
    allowed = set(TARGET_LABELS)
    for name in sorted(names):
        entry = resolve(name)
        if entry is None:
            found.append(f"unknown metric {name!r} in {expr!r}")
        else:
            allowed.update(entry[2])
    if found:
        return found
    for label in sorted(label_names(expr) - allowed):
        found.append(f"label {label!r} belongs to none of {sorted(names)} in {expr!r}")
    for label in sorted(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend)) - allowed):
        found.append(f"legend label {label!r} belongs to none of {sorted(names)}")
    return found
