"""Routing's inputs, gathered: the state a decision reads, kept by the running service.

Routing itself is pure (`router.routing`: values in, a route out). What it needs from a running
router lives here: the classifier (trained at start), the active profile, the live speeds
(fed back by every measured stream), the policy's settings, each task's shortlist (ranked once
per catalogue or profile change) and, per request, the catalogue's models and their load.
`explain` hands them to routing as a `Snapshot` (values, and reads as functions: the shortlist,
a model's load, the classifier timed into its metric, what prompt caches hold of the request)
with the request's `RequestView`, and asks `decide`; `answer_check` is the escalation rule:
which check a routed whole answer must pass before it goes out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from router.backends.protocol import Parsed
from router.config import RoutingConfig
from router.metrics import Metrics, export_profile
from router.profiles import ActiveProfile
from router.routing.classifier import Classification, Classifier
from router.routing.decide import (
    Explanation,
    Hints,
    Live,
    RequestView,
    Route,
    Snapshot,
    decide,
    shortlist,
)
from router.routing.guards import answer_problem
from router.routing.live import LiveSpeed
from router.routing.policy import Settings
from router.routing.sessions import turn_of
from router.serving.catalog import Catalog
from router.serving.dispatch import Check
from router.tasks import TASKS, Policy
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard

Where = Callable[[Hints, ChatRequest], str | None]  # the model a conversation is on, if known


class Decisions:
    """What routing reads, and the one place that asks it for a route."""

    def __init__(self, routing: RoutingConfig, catalog: Catalog, metrics: Metrics) -> None:
        self.routing = routing
        self.catalog = catalog
        self.metrics = metrics
        self.tasks: tuple[str, ...] = (*TASKS, *(t for t in routing.tasks if t not in TASKS))
        self.settings = Settings(
            quality_floor=routing.quality_floor,
            max_failure_rate=routing.max_failure_rate,
            quality_weight=routing.quality_weight,
            latency_targets=dict(routing.latency_targets),
        )
        self.live = LiveSpeed()
        self.active = ActiveProfile(None, None, "not chosen yet")
        self.classifier: Classifier | None = None  # trained by the service's start
        self._shortlists: dict[tuple[str, str], list[ModelCard]] = {}  # see routing.shortlist
        self._snapshot: Snapshot | None = None  # built when next asked, like the shortlists
        self.where: Where | None = None  # set by serving.sessions: the conversations it knows

    def use_profile(self, active: ActiveProfile) -> None:
        self.active = active
        self._shortlists.clear()
        self._snapshot = None
        self.live.use_profile(active.profile)
        export_profile(self.metrics, active.profile)

    def catalog_changed(self) -> None:
        """The models served changed: rank the shortlists again when next asked."""
        self._shortlists.clear()
        self._snapshot = None

    def route(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Route:
        """Where a request goes: the named model, or the policy's choice for its task."""
        return self.explain(name, hints, parsed).route

    def explain(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Explanation:
        """The route with what led to it: the classification and the policy's decision."""
        return decide(RequestView(name, hints, parsed), self.snapshot())

    def snapshot(self) -> Snapshot:
        """What routing reads now. Kept until the profile or the catalogue changes (the
        catalogue's `_answered` calls `catalog_changed` on every rebuild); the reads it hands
        in (shortlist, load and drift, classifier) look at the state when called."""
        if self._snapshot is None:
            routing = self.routing
            self._snapshot = Snapshot(
                known=self.catalog.ids(),
                aliases=routing.aliases,
                tasks=self.tasks,
                profile=self.active.profile,
                settings=self.settings,
                policy=routing.policy,
                max_candidates=routing.max_candidates,
                default_model=routing.default_model,
                cards=self._cards,
                live=self._live,
                classify=self._classify,
                cached=self._cached,
            )
        return self._snapshot

    def _cards(self, task: str, policy: Policy, special: bool) -> list[ModelCard]:
        """The models to weigh: all of them when the request needs images, tools or JSON
        (those filters may empty a shortlist), else the task's shortlist."""
        return self.catalog.cards() if special else self._shortlist(task, policy)

    def _live(self, model: str) -> Live:
        return Live(self.catalog.outstanding(model), self.live.drift(model) or 1.0)

    def _cached(self, view: RequestView) -> Mapping[str, int]:
        """An estimate of what prompt caches hold of this request, with no tokenizing: a
        conversation remembered on an in-process model that is loaded and holds some prompt
        holds everything but what came since the last answer (the turn's characters / 3)."""
        parsed = view.parsed
        if self.where is None or not isinstance(parsed, ChatRequest):
            return {}
        model = self.where(view.hints, parsed)
        replicas = self.catalog.replicas(model) if model is not None else []
        info = replicas[0].card.prompt_cache if replicas else None
        if info is None or not info.entries or replicas[0].card.state != "loaded":
            return {}
        turn = turn_of(parsed)
        return {model: turn.prompt_tokens - turn.new_tokens}  # type: ignore[dict-item]

    def _shortlist(self, task: str, policy: Policy) -> list[ModelCard]:
        key = (task, policy)
        found = self._shortlists.get(key)
        if found is None:
            found = shortlist(
                self.catalog.cards(), task, self.active.profile, policy, self.settings
            )
            self._shortlists[key] = found
        return found

    def _classify(self, parsed: ChatRequest | CompletionRequest) -> Classification:
        assert self.classifier is not None  # trained in the service's start
        start = time.perf_counter()
        result = self.classifier.classify(parsed)
        self.metrics.classification.observe(time.perf_counter() - start)
        return result

    def answer_check(self, route: Route, parsed: Parsed) -> Check | None:
        """The check a routed, non-streamed answer must pass before it goes out, if any."""
        routing = self.routing
        if (
            len(route.candidates) < 2
            or not routing.escalation
            or route.task in routing.no_escalation
            or isinstance(parsed, EmbeddingRequest)
        ):
            return None
        task = route.task
        return lambda reply: answer_problem(task, reply.body, parsed)

    def observe_speed(self, model: str, seconds_per_token: float) -> None:
        """Feed a served request's speed back into routing (and the drift gauge)."""
        drift = self.live.observe(model, seconds_per_token)
        if drift is not None:
            self.metrics.drift.labels(model).set(drift)
