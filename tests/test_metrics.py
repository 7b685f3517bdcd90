"""The router's /metrics: counts that match the traffic, a clean promtool lint, and a real
Prometheus that scrapes a router and evaluates every dashboard and alert expression.

The fake upstream's tokens are whitespace-separated words, so token counters are known exactly.
promtool and prometheus come from Debian's `prometheus` package (Homebrew's on macOS); the tests
that need them fail, never skip, when they are missing.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # PyYAML, installed with litestar
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FAKE_MODELS, RunningRouter, backend_toml, free_port
from tests.fakes.upstream import FakeModel, FakeUpstream
from tests.promql_exprs import ALERTS, alert_expressions, dashboard_expressions

PROMPT = "one two three four"  # the fake counts 4 prompt tokens
FAST_TOKENS = len(str(FAKE_MODELS[0].answer).split())  # fast-model's answer, in fake tokens
MISSING = (
    "{tool} is not installed: the metrics tests need it. Install it with "
    "`apt-get install prometheus` (Debian/Ubuntu, promtool included) or "
    "`brew install prometheus` (macOS)."
)


# ---------------------------------------------------------------- helpers


def chat(client: httpx.Client, model: str, *, stream: bool = False) -> httpx.Response:
    """One chat completion, read to its end (SSE included)."""
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}
    return client.post("/v1/chat/completions", json=body)


def settle(router: RunningRouter, requests: int, timeout: float = 5.0) -> None:
    """Wait until `requests` are counted and none is in flight.

    The router records a request just after its last byte leaves, so a client can read
    /metrics a moment before its own request shows there.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = router.metric("router_requests_total") >= requests
        if done and router.metric("router_requests_in_flight") == 0:
            return
        time.sleep(0.01)
    counted = router.metric("router_requests_total")
    raise AssertionError(f"{counted} of {requests} requests counted after {timeout}s")


def scrape(router: RunningRouter) -> str:
    response = httpx.get(f"{router.root}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` in exposition `text` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def tool(name: str) -> str:
    """The path of a Prometheus tool; fails the test (never skips) when it is missing."""
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(MISSING.format(tool=name))
    return exe


@pytest.fixture
def client(router: RunningRouter) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.root, timeout=10) as http:
        yield http


@pytest.fixture
def two_macs() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    """Two upstreams serving the same model id; the first one fails with a 500."""
    with (
        FakeUpstream([FakeModel("gemma", answer="from mac one", failure="500")]) as one,
        FakeUpstream([FakeModel("gemma", answer="from mac two")]) as two,
    ):
        yield one, two


# ---------------------------------------------------------------- counts


def test_counts_match_the_traffic(router: RunningRouter, client: httpx.Client) -> None:
    plain, streamed, auto = 3, 2, 2
    for _ in range(plain):
        assert chat(client, "fast-model").status_code == 200
    for _ in range(streamed):
        response = chat(client, "fast-model", stream=True)
        assert response.status_code == 200 and "[DONE]" in response.text
    routed = [chat(client, "auto").headers for _ in range(auto)]
    assert {h["x-router-model"] for h in routed} == {"fast-model"}  # the default model
    (task,) = {h["x-router-task"] for h in routed}  # the classifier's, the same every time
    total = plain + streamed + auto
    settle(router, total)
    text, fast = scrape(router), {"model": "fast-model"}

    assert value(text, "router_requests_total", **fast, status="200") == total
    assert value(text, "router_requests_total", **fast, task="none") == plain + streamed
    assert value(text, "router_requests_total", **fast, task=task) == auto
    assert value(text, "router_request_duration_seconds_count", **fast) == total
    assert value(text, "router_time_to_first_token_seconds_count", **fast) == streamed
    assert value(text, "router_time_per_output_token_seconds_count", **fast) == streamed
    assert value(text, "router_output_tokens_total", **fast) == total * FAST_TOKENS
    assert value(text, "router_prompt_tokens_total", **fast) == total * len(PROMPT.split())
    assert value(text, "router_requests_in_flight", **fast) == 0
    decisions = "router_route_decisions_total"
    assert value(text, decisions, task=task, model="fast-model") == auto
    assert value(text, decisions, task="none", model="fast-model", reason="direct") == total - auto
    assert value(text, "router_overhead_seconds_count") == plain + auto  # whole answers only
    assert value(text, "router_fallbacks_total") == 0
    assert "_created" not in text


def test_each_api_is_its_own_label_value(router: RunningRouter, client: httpx.Client) -> None:
    assert chat(client, "fast-model").status_code == 200
    completion = {"model": "fast-model", "prompt": PROMPT, "max_tokens": 5}
    assert client.post("/v1/completions", json=completion).status_code == 200
    message = {
        "model": "fast-model",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    for stream in (False, True):
        assert client.post("/v1/messages", json={**message, "stream": stream}).status_code == 200
    settle(router, 4)
    text = scrape(router)
    counts = {
        api: value(text, "router_requests_total", api=api)
        for api in ("chat", "completions", "messages", "embeddings")
    }
    assert counts == {"chat": 1, "completions": 1, "messages": 2, "embeddings": 0}
    assert value(text, "router_output_tokens_total", api="messages") == 2 * 5  # cut at max_tokens


def test_unknown_models_never_become_label_values(
    router: RunningRouter, client: httpx.Client
) -> None:
    evil = f"evil-{secrets.token_hex(8)}"
    for model in (evil, f"router/{evil}"):
        for stream in (False, True):
            assert chat(client, model, stream=stream).status_code == 404
    settle(router, 4)
    text = scrape(router)
    assert evil not in text
    assert value(text, "router_requests_total", model="unknown", status="404") == 4
    assert value(text, "router_request_duration_seconds_count") == 0


def test_route_reasons_stay_bounded(router: RunningRouter, client: httpx.Client) -> None:
    """A label value names a task, a model or a kind of reason, never a score or a prompt:
    questions that `auto` routes to the same task and model add no series."""
    questions = [
        "What is the capital of France?",
        "What is the boiling point of water?",
        "Who wrote Hamlet?",
        "How tall is Mount Everest?",
        "When did the Second World War end?",
        "What is the speed of light?",
    ]
    routes = set()
    for question in questions:
        body = {"model": "auto", "messages": [{"role": "user", "content": question}]}
        headers = client.post("/v1/chat/completions", json=body).headers
        routes.add((headers["x-router-task"], headers["x-router-model"]))
    settle(router, len(questions))
    families = text_string_to_metric_families(scrape(router))
    family = next(f for f in families if f.name == "router_route_decisions")
    reasons = sorted({sample.labels["reason"] for sample in family.samples})
    assert len(family.samples) == len(routes), f"routes {sorted(routes)}, reasons {reasons}"


def test_a_failing_replica_counts_a_fallback(
    two_macs: tuple[FakeUpstream, FakeUpstream], start_router: Callable[[str], RunningRouter]
) -> None:
    one, two = two_macs
    router = start_router(backend_toml("mac1", one.base_url) + backend_toml("mac2", two.base_url))
    with httpx.Client(base_url=router.root, timeout=10) as http:
        for stream in (False, True):
            response = chat(http, "gemma", stream=stream)
            assert response.headers["x-router-backend"] == "mac2"
            assert "fell back from gemma (upstream_error)" in response.headers["x-router-reason"]
    settle(router, 2)
    text = scrape(router)
    moved = {"from_model": "gemma", "to_model": "gemma", "reason": "upstream_error"}
    assert value(text, "router_fallbacks_total", **moved) == 2
    assert value(text, "router_requests_total", model="gemma", backend="mac2", status="200") == 2
    assert value(text, "router_requests_total", backend="mac1") == 0


@pytest.fixture
def sleepy() -> Iterator[FakeUpstream]:
    """An upstream whose model takes 0.6 s to its first token, and one that always fails."""
    models = [FakeModel("sleepy", ttft=0.6), FakeModel("broken-model", failure="500")]
    with FakeUpstream(models) as upstream:
        yield upstream


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_is_in_flight_while_the_upstream_works(
    sleepy: FakeUpstream, start_router: Callable[[str], RunningRouter], stream: bool
) -> None:
    router = start_router(backend_toml("sleepy", sleepy.base_url))
    with httpx.Client(base_url=router.root, timeout=10) as http, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(chat, http, "sleepy", stream=stream)
        seen, waiting = 0.0, time.monotonic() + 0.4  # before the first token, at 0.6 s
        while time.monotonic() < waiting:
            seen = max(seen, value(scrape(router), "router_requests_in_flight", model="sleepy"))
            time.sleep(0.02)
        assert pending.result().status_code == 200
    assert seen == 1


def test_an_upstream_failure_is_counted_under_its_model(
    sleepy: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(backend_toml("sleepy", sleepy.base_url))
    with httpx.Client(base_url=router.root, timeout=10) as http:
        for stream in (False, True):
            assert chat(http, "broken-model", stream=stream).status_code == 502
    settle(router, 2)
    text = scrape(router)
    assert value(text, "router_requests_total", model="broken-model", status="502") == 2


# ---------------------------------------------------------------- promtool


def test_promtool_finds_no_problem_in_the_metrics(
    router: RunningRouter, client: httpx.Client
) -> None:
    for model, stream in (("fast-model", False), ("slow-model", True), ("auto", True)):
        assert chat(client, model, stream=stream).status_code == 200
    assert chat(client, "no-such-model").status_code == 404
    settle(router, 4)
    proc = subprocess.run(
        [tool("promtool"), "check", "metrics"],
        input=scrape(router),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not output, f"promtool check metrics:\n{output}"


# ---------------------------------------------------------------- a real Prometheus


class Prometheus:
    """A Prometheus server scraping one router every second, with the repo's alert rules."""

    def __init__(self, directory: Path, target_port: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "prometheus.log"
        config = {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {
                    "job_name": "router",
                    "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}],
                }
            ],
        }
        path = directory / "prometheus.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.args = [
            tool("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Prometheus:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: httpx.get(f"{self.url}/-/ready").status_code == 200, timeout)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                if condition():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"Prometheus: timed out after {timeout}s\n{self.tail()}")

    def query(self, expr: str) -> dict[str, Any]:
        """The JSON answer of /api/v1/query for `expr` at the current time."""
        return httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[int], Prometheus]]:
    """A factory: `start_prometheus(router_port)`; stopped at the end of the test."""
    started: list[Prometheus] = []

    def start(port: int) -> Prometheus:
        prometheus = Prometheus(tmp_path, port)
        started.append(prometheus)
        return prometheus.start()

    yield start
    for prometheus in started:
        prometheus.stop()


@pytest.fixture
def flaky() -> Iterator[FakeUpstream]:
    """A second upstream: its replica of slow-model fails once, broken-model always fails."""
    models = [
        FakeModel("slow-model", answer="A slow but careful answer.", failure="500", fail_times=1),
        FakeModel("broken-model", failure="500"),
    ]
    with FakeUpstream(models) as upstream:
        yield upstream


def send_mixed_traffic(router: RunningRouter) -> int:
    """Every kind of request the dashboard shows; returns how many were sent."""
    with httpx.Client(base_url=router.root, timeout=10) as http:
        for model in ("fast-model", "slow-model", "auto", "router/summarize"):
            for stream in (False, True):
                assert chat(http, model, stream=stream).status_code == 200, model
        assert chat(http, f"unknown-{secrets.token_hex(4)}").status_code == 404
        assert chat(http, "broken-model").status_code == 502
    return 4 * 2 + 2


def scraped_after(prometheus: Prometheus, when: float) -> Callable[[], bool]:
    """Whether Prometheus has scraped the router successfully after `when` (Unix time)."""

    def check() -> bool:
        # on the selector itself: Prometheus 2.42 gives the evaluation time for `timestamp(x == 1)`
        result = prometheus.query('timestamp(up{job="router"})')["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) > when

    return check


def evaluation_problems(prometheus: Prometheus) -> list[str]:
    """What goes wrong evaluating the dashboard's and the alerts' expressions, if anything.

    A dashboard expression must return a series (those over rare events end in
    `or on() vector(0)`); an alert expression is a comparison that returns nothing while the
    alert is quiet, so it only has to evaluate.
    """
    problems = []
    for kind, exprs in (("dashboard", dashboard_expressions()), ("alert", alert_expressions())):
        for expr in exprs:
            answer = prometheus.query(expr)
            if answer["status"] != "success":
                problems.append(f"{kind}: {expr}\n  error: {answer.get('error')}")
            elif kind == "dashboard" and not answer["data"]["result"]:
                problems.append(f"{kind}: {expr}\n  no series")
    rules = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    for rule in (rule for group in rules for rule in group["rules"]):
        if rule["health"] == "err":
            problems.append(f"alert rule {rule['name']}: {rule.get('lastError')}")
    return problems


def test_prometheus_evaluates_every_dashboard_and_alert_expression(
    fake: FakeUpstream,
    flaky: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    start_prometheus: Callable[[int], Prometheus],
) -> None:
    config = backend_toml("flaky", flaky.base_url) + backend_toml("lmstudio", fake.base_url)
    router = start_router(config + '[routing]\ndefault_model = "fast-model"\n')
    prometheus = start_prometheus(router.port)  # its first scrape comes about 5 s later
    # Traffic before a scrape, so every series is there from it; then again between two
    # scrapes, so rates and quantiles see the counters move.
    sent = 0
    for _ in range(2):
        sent += send_mixed_traffic(router)
        settle(router, sent)
        prometheus.wait_for(scraped_after(prometheus, time.time()), timeout=15)
    assert router.metric("router_fallbacks_total", from_model="slow-model") == 1
    up = prometheus.query('up{job="router"}')["data"]["result"]
    assert [series["value"][1] for series in up] == ["1"], f"the router was not scraped: {up}"
    moved = prometheus.query("sum(increase(router_requests_total[1m]))")["data"]["result"]
    assert moved and float(moved[0]["value"][1]) > 0, f"no request seen moving: {moved}"
    problems = evaluation_problems(prometheus)
    assert not problems, "\n".join(problems)


def test_the_active_profile_is_exported_as_calibration_gauges() -> None:
    from pathlib import Path

    from router.metrics import Metrics, export_profile
    from router.profiles import load_profile

    metrics = Metrics()
    example = Path(__file__).parent.parent / "profiles" / "examples" / "m4-mac-mini-24gb.toml"
    export_profile(metrics, load_profile(example))
    sample = metrics.registry.get_sample_value
    assert (
        sample(
            "router_calibration_quality", {"model": "google/gemma-3-12b", "task": "business_mail"}
        )
        == 0.9
    )
    assert (
        sample(
            "router_calibration_tokens_per_second",
            {"model": "qwen/qwen3-vl-8b", "backend": "lmstudio"},
        )
        == 19.9
    )
    export_profile(metrics, None)
    assert (
        sample(
            "router_calibration_quality", {"model": "google/gemma-3-12b", "task": "business_mail"}
        )
        is None
    )
