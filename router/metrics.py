"""Prometheus metrics: every series the router exports, on a registry passed in.

Bucket boundaries live here and only here, each chosen for what it measures on local models:
a first token in 10 ms (a warm 1B model) or 30 s (a 12B model loading), an answer in a
second or several minutes, a token every millisecond or every second. Label values are bounded:
model labels are configured or discovered model ids (or `auto`/`unknown`), never a raw client
string.

With `router serve --workers N`, each worker writes its series to files in
`$PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode) and `/metrics` merges
them: counters and histograms add up, gauges of requests sum over live workers, and gauges of
state (backend up, profile figures) take the highest value any live worker reports.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from router.profiles import Profile

# Time to first token: 10 ms (warm small model) to 30 s (cold large model).
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)
# End to end: from a quick summary to a long story on a slow model.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
# Per output token: 1 ms (1,000 tok/s) to 1 s (1 tok/s).
PER_TOKEN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
# The router's own cost per request: it should sit in the lowest buckets.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)
# Classification: well under a millisecond.
CLASSIFY_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005)
# Loading a model into memory: a small model in a fraction of a second, a large one in a minute.
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

# `api`: the protocol asked (chat, completions, embeddings, responses, messages): a fixed set.
_SERVED = ("model", "task", "backend", "api")
ServedLabels = tuple[str, str, str, str]


class Metrics:
    """The router's series. One instance per server, on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # `*_created` series double the output and no dashboard or alert reads them.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._request_series(r)
        self._routing_series(r)
        self._model_series(r)
        self._guard_series(r)
        self._calibration_series(r)
        # Label children met on the hot path, by their label values: `labels()` costs a lock
        # and a few allocations per call. The values are bounded (see the module docstring),
        # so these are too; a dict lookup does not grow with them.
        self._served: dict[ServedLabels, ServedSeries] = {}
        self._decisions: dict[tuple[str, str, str], Any] = {}
        self._in_flight: dict[tuple[str, str], Any] = {}

    def _request_series(self, r: CollectorRegistry) -> None:
        """Per answered request, by model, task and backend."""
        self.requests = Counter(
            "router_requests", "Requests answered.", [*_SERVED, "status"], registry=r
        )
        self.duration = Histogram(
            "router_request_duration_seconds",
            "End-to-end request time.",
            _SERVED,
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "router_time_to_first_token_seconds",
            "Time to the first token.",
            _SERVED,
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tpot = Histogram(
            "router_time_per_output_token_seconds",
            "Time per output token after the first.",
            _SERVED,
            buckets=PER_TOKEN_BUCKETS,
            registry=r,
        )
        self.output_tokens = Counter(
            "router_output_tokens", "Tokens generated.", _SERVED, registry=r
        )
        self.prompt_tokens = Counter(
            "router_prompt_tokens", "Prompt tokens read.", _SERVED, registry=r
        )

    def _routing_series(self, r: CollectorRegistry) -> None:
        """How requests were placed: in flight, queued, decided, moved on."""
        self.in_flight = Gauge(
            "router_requests_in_flight",
            "Requests being answered.",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.queue_depth = Gauge(
            "router_queue_depth",
            "Requests waiting for a model.",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.route_decisions = Counter(
            "router_route_decisions",
            "Routing decisions.",
            ["task", "model", "reason"],
            registry=r,
        )
        self.fallbacks = Counter(
            "router_fallbacks",
            "Moves to another model after a failure.",
            ["from_model", "to_model", "reason"],
            registry=r,
        )
        self.session_switches = Counter(
            "router_session_switches",
            "Conversations moved to another model (reason: task, failure, unfit).",
            ["reason"],
            registry=r,
        )
        self.sessions = Gauge(
            "router_sessions",
            "Conversations the router remembers (live: not expired).",
            registry=r,
            multiprocess_mode="livesum",
        )

    def _model_series(self, r: CollectorRegistry) -> None:
        """Models: residency and loads; the router's own costs (overhead, classification)."""
        self.model_loaded = Gauge(
            "router_model_loaded",
            "1 while the model is resident.",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.model_load = Histogram(
            "router_model_load_seconds",
            "Time to load a model.",
            ["model", "backend"],
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.prompt_cache_hits = Counter(
            "router_prompt_cache_hit_tokens",
            "Prompt tokens an in-process model found in its prompt cache (not read again).",
            ["model", "backend"],
            registry=r,
        )
        self.prompt_cache_bytes = Gauge(
            "router_prompt_cache_bytes",
            "Bytes held by an in-process model's prompt cache (0 once it unloads).",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.batch_size = Gauge(
            "router_batch_size",
            "Requests an in-process model is generating together now (one batch).",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.overhead = Histogram(
            "router_overhead_seconds",
            "Time spent in the router itself, upstream excluded.",
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.classification = Histogram(
            "router_classification_seconds",
            "Time to classify a request's task.",
            buckets=CLASSIFY_BUCKETS,
            registry=r,
        )

    def _guard_series(self, r: CollectorRegistry) -> None:
        """What watches the models: drift from the profile, escalations, the loop guard, and
        the backends' health."""
        self.drift = Gauge(
            "router_profile_drift_ratio",
            "Live latency over profiled latency.",
            ["model"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.escalations = Counter(
            "router_escalations",
            "Answers that failed their check and were asked again.",
            ["task", "from_model", "to_model"],
            registry=r,
        )
        self.loop_guard = Counter(
            "router_loop_guard",
            "Streams cut because the model was repeating itself.",
            ["model"],
            registry=r,
        )
        self.backend_up = Gauge(
            "router_backend_up",
            "1 when the backend answered its last check.",
            ["backend"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def _calibration_series(self, r: CollectorRegistry) -> None:
        """The active profile's figures, and how far serve's calibration has come."""
        self.calibration_tokens_per_second = Gauge(
            "router_calibration_tokens_per_second",
            "Decode speed in the active profile.",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.calibration_ttft = Gauge(
            "router_calibration_ttft_seconds",
            "Time to first token in the active profile.",
            ["model", "backend"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.calibration_quality = Gauge(
            "router_calibration_quality",
            "Quality per task in the active profile (0..1).",
            ["model", "task"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.calibration_progress = Gauge(
            "router_calibration_progress",
            "Share of (model, task) pairs measured with the full suites (0..1), as serve's "
            "idle calibration goes on.",
            registry=r,
            multiprocess_mode="livemax",
        )

    def exposition(self) -> bytes:
        """The text `GET /metrics` serves: this process's series, or, with several workers
        (`$PROMETHEUS_MULTIPROC_DIR` set), every worker's, merged by prometheus-client."""
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)

    def served(self, labels: ServedLabels) -> ServedSeries:
        """The series of one (model, task, backend, api)."""
        found = self._served.get(labels)
        if found is None:
            found = self._served[labels] = ServedSeries(self, labels)
        return found

    def decision(self, task: str, model: str, reason: str) -> Any:
        """`route_decisions` for these labels."""
        key = (task, model, reason)
        found = self._decisions.get(key)
        if found is None:
            found = self._decisions[key] = self.route_decisions.labels(task, model, reason)
        return found

    def in_flight_of(self, model: str, backend: str) -> Any:
        """`in_flight` for these labels."""
        key = (model, backend)
        found = self._in_flight.get(key)
        if found is None:
            found = self._in_flight[key] = self.in_flight.labels(model, backend)
        return found


class ServedSeries:
    """The series labelled by one (model, task, backend, api), children looked up once."""

    __slots__ = (
        "_requests",
        "duration",
        "labels",
        "metrics",
        "output_tokens",
        "prompt_tokens",
        "tpot",
        "ttft",
    )

    def __init__(self, metrics: Metrics, labels: ServedLabels) -> None:
        self.metrics = metrics
        self.labels = labels
        self.duration = metrics.duration.labels(*labels)
        self.ttft = metrics.ttft.labels(*labels)
        self.tpot = metrics.tpot.labels(*labels)
        self.output_tokens = metrics.output_tokens.labels(*labels)
        self.prompt_tokens = metrics.prompt_tokens.labels(*labels)
        self._requests: dict[int, Any] = {}

    def requests(self, status: int) -> Any:
        """`requests` for these labels and this status."""
        found = self._requests.get(status)
        if found is None:
            found = self._requests[status] = self.metrics.requests.labels(*self.labels, str(status))
        return found


def export_profile(metrics: Metrics, profile: Profile | None) -> None:
    """Show the active profile's figures as the `router_calibration_*` gauges."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # workers never switch profiles
        for gauge in (
            metrics.calibration_tokens_per_second,
            metrics.calibration_ttft,
            metrics.calibration_quality,
        ):
            gauge.clear()
    if profile is None:
        return
    for m in profile.models:
        if m.decode_tokens_per_s is not None:
            metrics.calibration_tokens_per_second.labels(m.id, m.backend).set(m.decode_tokens_per_s)
        if m.ttft_seconds is not None:
            metrics.calibration_ttft.labels(m.id, m.backend).set(m.ttft_seconds)
    for task, scores in profile.tasks.items():
        for score in scores:
            metrics.calibration_quality.labels(score.model, task).set(score.quality)
