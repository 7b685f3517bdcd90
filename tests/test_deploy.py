"""The files under deploy/: Prometheus config and alerts, the Grafana dashboard, compose,
Kubernetes, launchd and systemd.

promtool (Debian's `prometheus` package, Homebrew's `prometheus`) checks the Prometheus files
and evaluates PromQL offline; these tests fail, never skip, without it. The expressions
themselves come from tests/promql_exprs.py, which a live test can use too.
"""

from __future__ import annotations

import json
import plistlib
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML, installed with litestar
from prometheus_client.metrics import MetricWrapperBase

from router.config import parse_config
from router.metrics import Metrics
from tests.promql_exprs import (
    ALERTS,
    ALWAYS_PRESENT,
    COUNTER,
    DASHBOARD,
    DEPLOY,
    GAUGE,
    HISTOGRAM,
    METRICS,
    alert_expressions,
    dashboard_expressions,
    dashboard_targets,
    dashboard_variable_queries,
    iter_panels,
    load_alert_rules,
    load_dashboard,
    metric_names,
    problems,
    resolve,
)

PROMETHEUS = DEPLOY / "prometheus"
PROMETHEUS_CONFIGS = {
    "prometheus.yml": "127.0.0.1:8800",
    "prometheus.compose.yml": "router:8800",
    "prometheus.docker-host.yml": "host.docker.internal:8800",
}
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes"

PROMTOOL_MISSING = (
    "promtool is not installed: it checks deploy/prometheus. Install it with "
    "`apt-get install -y prometheus` (Debian/Ubuntu) or `brew install prometheus` (macOS)."
)


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    """Run promtool; fail the test (not skip) if it is missing or reports a problem."""
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail(PROMTOOL_MISSING)
    proc = subprocess.run(
        [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


# ---------------------------------------------------------------- Prometheus


def test_promtool_is_installed() -> None:
    if shutil.which("promtool") is None:
        pytest.fail(PROMTOOL_MISSING)


@pytest.mark.parametrize("name", sorted(PROMETHEUS_CONFIGS))
def test_prometheus_config_is_valid(name: str) -> None:
    out = promtool("check", "config", name)
    assert "1 rule files found" in out, out


@pytest.mark.parametrize("name", sorted(PROMETHEUS_CONFIGS))
def test_prometheus_config_scrapes_the_router(name: str) -> None:
    config = load_yaml(PROMETHEUS / name)
    assert config["global"]["scrape_interval"] in ("5s", "10s")
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    router = jobs["router"]
    assert router.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in router["static_configs"] for t in sc["targets"]]
    assert targets == [PROMETHEUS_CONFIGS[name]]


def test_prometheus_configs_differ_only_in_targets() -> None:
    def skeleton(name: str) -> Any:
        config = load_yaml(PROMETHEUS / name)
        for job in config["scrape_configs"]:
            job.pop("static_configs")
        return config

    first, *rest = sorted(PROMETHEUS_CONFIGS)
    for name in rest:
        assert skeleton(name) == skeleton(first), f"{name} drifted from {first}"


def test_alert_rules_are_valid() -> None:
    out = promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in out


def test_alert_rules_pass_their_unit_tests() -> None:
    promtool("test", "rules", ALERTS_TEST.name)


REQUIRED_ALERTS = {
    # name: (a metric its expr reads, its `for`)
    "RouterDown": ("up", "1m"),
    "RouterBackendDown": ("router_backend_up", "1m"),
    "RouterFallbackRateHigh": ("router_fallbacks_total", "5m"),
    "RouterTimeToFirstTokenHigh": ("router_time_to_first_token_seconds_bucket", "10m"),
    "RouterQueueBuildingUp": ("router_queue_depth", "2m"),
}


def test_alerts_cover_the_required_conditions() -> None:
    rules = {rule["alert"]: rule for rule in load_alert_rules()}
    for name, (metric, duration) in REQUIRED_ALERTS.items():
        assert name in rules, f"missing alert {name}"
        assert metric in metric_names(rules[name]["expr"]), name
        assert rules[name].get("for") == duration, name
    assert 'up{job="router"} == 0' in rules["RouterDown"]["expr"]
    assert "> 0.10" in rules["RouterFallbackRateHigh"]["expr"]
    assert "by (instance, model, le)" in rules["RouterTimeToFirstTokenHigh"]["expr"]
    for name, rule in rules.items():
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name
        assert rule.get("labels", {}).get("severity") in ("critical", "warning", "info"), name


def test_every_alert_fires_in_a_unit_test() -> None:
    tested = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            if check.get("exp_alerts"):
                tested.add(check["alertname"])
    names = {rule["alert"] for rule in load_alert_rules()}
    assert names - tested == set(), "alerts never seen firing in alerts_test.yml"


def test_alert_expressions_use_known_metrics() -> None:
    exprs = alert_expressions()
    assert len(exprs) == len(load_alert_rules()) >= len(REQUIRED_ALERTS)
    for expr in exprs:
        assert problems(expr) == []


def test_catalog_matches_the_router_metrics() -> None:
    """Every router_* series the router registers is in the catalog, with the same type and
    labels, so the dashboard and the alerts read what the router exports."""
    kinds = {"counter": COUNTER, "gauge": GAUGE, "histogram": HISTOGRAM}
    exported = {}
    for value in vars(Metrics()).values():
        if isinstance(value, MetricWrapperBase):
            kind = kinds[value._type]
            name = value._name + ("_total" if kind == COUNTER else "")
            exported[name] = (kind, tuple(value._labelnames))
    assert exported, "router.metrics.Metrics registers no metric"
    for name, (kind, labels) in exported.items():
        assert name in METRICS, f"{name} is exported but not in tests/promql_exprs.METRICS"
        assert METRICS[name][0] == kind, name
        assert sorted(METRICS[name][1]) == sorted(labels), name


# ---------------------------------------------------------------- Grafana dashboard


def test_dashboard_json_parses() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "router"
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["panels"]


def test_every_panel_has_a_query() -> None:
    panels = list(iter_panels(load_dashboard()["panels"]))
    assert len(panels) >= 15
    for panel in panels:
        targets = panel.get("targets", [])
        assert targets, f"panel {panel.get('title')!r} has no target"
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty expr"
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    every = load_dashboard()["panels"]
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in every:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_dashboard_uses_only_known_metrics_and_labels() -> None:
    for title, ref, expr, legend in dashboard_targets():
        assert problems(expr, legend) == [], f"panel {title!r}, query {ref}"


def test_dashboard_variables_use_known_metrics() -> None:
    queries = dashboard_variable_queries()
    assert queries
    for query in queries:
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
        assert m, query
        entry = resolve(m.group(1).strip())
        assert entry is not None and m.group(2) in entry[2], query


def test_dashboard_shows_what_the_brief_asks() -> None:
    used = {
        resolve(name)[0]  # type: ignore[index]
        for _, _, expr, _ in dashboard_targets()
        for name in metric_names(expr)
    }
    wanted = {
        "router_requests_total",
        "router_time_to_first_token_seconds",
        "router_time_per_output_token_seconds",
        "router_output_tokens_total",
        "router_route_decisions_total",
        "router_fallbacks_total",
        "router_requests_in_flight",
        "router_queue_depth",
        "router_model_loaded",
        "router_model_load_seconds",
        "router_calibration_quality",
        "router_overhead_seconds",
        "router_profile_drift_ratio",
    }
    assert wanted - used == set()


def write_yaml(path: Path, doc: Any) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")
    return path


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:expr_{i}", "expr": expr}
        for i, expr in enumerate(dashboard_expressions())
    ]
    write_yaml(tmp_path / "dashboard.yml", {"groups": [{"name": "dashboard", "rules": rules}]})
    promtool("check", "rules", "dashboard.yml", cwd=tmp_path)


def synthetic_series() -> list[dict[str, str]]:
    """A router that served a request every 15 s to one model, with no fallback, no error,
    no route decision, no model load and no profile: only the ALWAYS_PRESENT metrics."""
    values = {
        "model": "google/gemma-3-12b",
        "task": "summarize",
        "backend": "lmstudio",
        "api": "chat",
        "status": "200",
    }
    series = [{"series": 'up{job="router", instance="r:8800"}', "values": "1x60"}]
    for name in ALWAYS_PRESENT:
        kind, labels = METRICS[name]
        base = {"job": "router", "instance": "r:8800", **{k: values[k] for k in labels}}

        def sel(metric: str, extra: dict[str, str], base: dict[str, str] = base) -> str:
            pairs = ", ".join(f'{k}="{v}"' for k, v in {**base, **extra}.items())
            return f"{metric}{{{pairs}}}"

        if kind == HISTOGRAM:
            for le, step in (("0.1", 0), ("1", 1), ("+Inf", 1)):
                series.append(
                    {"series": sel(f"{name}_bucket", {"le": le}), "values": f"0+{step}x60"}
                )
            series.append({"series": sel(f"{name}_sum", {}), "values": "0+0.5x60"})
            series.append({"series": sel(f"{name}_count", {}), "values": "0+1x60"})
        elif name.endswith("_total"):
            series.append({"series": sel(name, {}), "values": "0+1x60"})
        else:
            series.append({"series": sel(name, {}), "values": "1x60"})
    return series


def test_every_dashboard_query_returns_data_once_requests_were_served(tmp_path: Path) -> None:
    """Evaluates each query (as `absent(...)`) with promtool over the series a router exports
    after a few requests: none may be empty, rare events included."""
    exprs = dashboard_expressions()
    rules = [{"alert": f"Empty{i}", "expr": f"absent({expr})"} for i, expr in enumerate(exprs)]
    write_yaml(tmp_path / "absent.yml", {"groups": [{"name": "absent", "rules": rules}]})
    checks = [
        {"eval_time": "10m", "alertname": f"Empty{i}", "exp_alerts": []} for i in range(len(exprs))
    ]
    test = {
        "rule_files": ["absent.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "15s", "input_series": synthetic_series(), "alert_rule_test": checks}
        ],
    }
    write_yaml(tmp_path / "absent_test.yml", test)
    try:
        promtool("test", "rules", "absent_test.yml", cwd=tmp_path)
    except AssertionError as err:
        empty = sorted({int(n) for n in re.findall(r"alertname: Empty(\d+)", str(err))})
        pytest.fail("empty with traffic: " + "\n".join(exprs[i] for i in empty) + f"\n{err}")


def test_promtool_test_catches_an_empty_query(tmp_path: Path) -> None:
    """The check above would notice a query over a metric that has no series."""
    rules = [{"alert": "Empty0", "expr": "absent(sum by (model) (router_fallbacks_total))"}]
    write_yaml(tmp_path / "absent.yml", {"groups": [{"name": "absent", "rules": rules}]})
    test = {
        "rule_files": ["absent.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "15s",
                "input_series": synthetic_series(),
                "alert_rule_test": [{"eval_time": "10m", "alertname": "Empty0", "exp_alerts": []}],
            }
        ],
    }
    write_yaml(tmp_path / "absent_test.yml", test)
    with pytest.raises(AssertionError, match="Empty0"):
        promtool("test", "rules", "absent_test.yml", cwd=tmp_path)


def test_expression_helpers_substitute_grafana_variables() -> None:
    exprs = dashboard_expressions()
    assert exprs and len(exprs) == len(set(exprs))
    assert all("$" not in e for e in exprs)
    assert any("[1m]" in e for e in exprs)
    assert any('model=~".*"' in e for e in exprs)
    assert all("[5m]" in e for e in dashboard_expressions(__rate_interval="5m") if "rate(" in e)


def test_grafana_provisioning() -> None:
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    (ds,) = datasources["datasources"]
    assert ds["uid"] == "prometheus" and ds["type"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090"
    providers = load_yaml(DEPLOY / "grafana/provisioning/dashboards/router.yml")
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------- compose and Docker


def compose_source(volume: str) -> str:
    """The host side of a compose volume, `${VAR:-default}` resolved to its default."""
    source = volume.split(":", 1)[0] if not volume.startswith("$") else volume
    m = re.match(r"\$\{\w+:-([^}]*)\}", source)
    return m.group(1) if m else source


def test_compose_file() -> None:
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    assert {"router", "prometheus", "grafana"} <= set(services)

    router = services["router"]
    assert (COMPOSE.parent / router["build"]["context"] / router["build"]["dockerfile"]).is_file()
    assert router["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert "ROUTER_API_KEYS" in router["environment"]
    assert "host.docker.internal:host-gateway" in router["extra_hosts"]
    assert any(v.endswith(":/etc/router/router.toml:ro") for v in router["volumes"])

    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    config_arg = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    assert re.search(r"\$\{PROMETHEUS_CONFIG:-prometheus\.compose\.yml\}", config_arg)

    grafana = services["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    mounts = {
        v.split(":")[1]: COMPOSE.parent / compose_source(v)
        for v in grafana["volumes"]
        if v.startswith(".")
    }
    assert mounts["/etc/grafana/provisioning"] == DEPLOY / "grafana/provisioning"
    dashboards_dir, _, file = home.rpartition("/")
    assert (mounts[dashboards_dir] / file).resolve() == DASHBOARD.resolve()

    # every bind mount exists; named volumes are declared
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = compose_source(volume)
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {volume}"
            else:
                assert source in compose["volumes"], f"{name}: {volume}"


def test_example_config_reaches_lm_studio_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    path = DEPLOY / "router.example.toml"
    tomllib.loads(path.read_text(encoding="utf-8"))
    config = parse_config(path.read_bytes(), str(path))
    (backend,) = config.backends
    assert backend.kind == "openai"
    assert backend.base_url == "http://host.docker.internal:1234/v1"
    monkeypatch.setenv("ROUTER_API_KEYS", "k1,k2")
    assert config.server.accepted_keys() == ["k1", "k2"]


def test_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^RUN pip install /app", text, re.M)
    assert 'ENTRYPOINT ["router"]' in text
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M)
    assert cmd and json.loads(cmd.group(1))[:3] == ["serve", "--host", "0.0.0.0"]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignore and ".git" in ignore


# ---------------------------------------------------------------- Kubernetes


def kubernetes_objects() -> dict[str, dict[str, Any]]:
    objects = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_yaml_all(path):
            if doc.get("kind") != "Kustomization":
                objects[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return objects


def test_kubernetes_manifests() -> None:
    objects = kubernetes_objects()
    assert {"Deployment/router", "Service/router", "ConfigMap/router-config"} <= set(objects)
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"
    )

    deployment = objects["Deployment/router"]
    template = deployment["spec"]["template"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= template["metadata"]["labels"].items()
    )
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8800"
    assert annotations["prometheus.io/path"] == "/metrics"

    (container,) = template["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    args = container["args"]
    assert args[:3] == ["serve", "--host", "0.0.0.0"]
    assert all(isinstance(a, str) for a in args), "quote YAML booleans and numbers in args"
    config_path = args[args.index("--config") + 1]
    env = {e["name"]: e for e in container["env"]}
    assert env["ROUTER_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "router-api-keys"

    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_volume = volumes[mounts[config_path.rpartition("/")[0]]]
    assert config_volume["configMap"]["name"] == "router-config"
    assert volumes["profiles-configmap"]["configMap"]["name"] == "router-profiles"
    assert mounts["/app/profiles"] == "profiles"

    service = objects["Service/router"]
    assert service["spec"]["selector"] == template["metadata"]["labels"]
    (port,) = service["spec"]["ports"]
    assert port["port"] == 8800 and port["targetPort"] == container["ports"][0]["name"]


def test_kubernetes_config_points_at_several_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    text = kubernetes_objects()["ConfigMap/router-config"]["data"]["router.toml"]
    config = parse_config(text.encode(), "ConfigMap/router-config")
    assert len(config.backends) >= 2
    assert all(b.kind == "openai" and b.base_url.endswith(":1234/v1") for b in config.backends)
    monkeypatch.setenv("ROUTER_API_KEYS", "k1")
    assert config.server.accepted_keys() == ["k1"]


# ---------------------------------------------------------------- launchd and systemd


def test_launchd_agent() -> None:
    with (DEPLOY / "launchd/com.router.serve.plist").open("rb") as f:
        agent = plistlib.load(f)
    assert agent["Label"] == "com.router.serve"
    assert agent["RunAtLoad"] is True and agent["KeepAlive"] is True
    program = agent["ProgramArguments"]
    assert program[0].endswith("/.venv/bin/router") and program[1] == "serve"
    assert program[0] == agent["WorkingDirectory"] + "/.venv/bin/router"
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert agent[key].endswith("/Library/Logs/router.log")
        assert not agent[key].startswith("~"), "launchd does not expand ~"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        else:
            key, sep, value = line.partition("=")
            assert sep, f"not key=value: {raw!r}"
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_systemd_unit() -> None:
    unit = parse_unit((DEPLOY / "systemd/router.service").read_text(encoding="utf-8"))
    assert set(unit) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["Type"] == ["simple"]
    assert service["Restart"] == ["on-failure"]
    exec_start = service["ExecStart"][0].split()
    assert exec_start[0] == service["WorkingDirectory"][0] + "/.venv/bin/router"
    assert exec_start[1] == "serve"
    assert service["EnvironmentFile"][0].lstrip("-").startswith("/etc/router/")
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["WorkingDirectory"][0] + "/profiles" in service["ReadWritePaths"][0].split()
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "StartLimitBurst" in unit["Unit"], "StartLimit* belong in [Unit]"


def test_yaml_files_parse() -> None:
    paths = sorted(DEPLOY.rglob("*.yml")) + sorted(DEPLOY.rglob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        assert load_yaml_all(path), path
    assert ALERTS in paths
