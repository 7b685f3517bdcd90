"""Routing's inputs, gathered: the state a decision reads, kept by the running service.

Routing itself is pure (`router.routing`: values in, a route out). What it needs from a running
router lives here: the classifier (trained at start), the active profile, the live speeds
(fed back by every measured stream), the policy's settings, each task's shortlist (ranked once
per catalogue or profile change) and, per request, the catalogue's models and their load.
`explain` gathers them for one request and asks routing; `answer_check` is the escalation
rule: which check a routed whole answer must pass before it goes out.
"""

from __future__ import annotations

import time

from router.backends.protocol import Parsed
from router.config import RoutingConfig
from router.errors import InvalidRequest
from router.metrics import Metrics, export_profile
from router.profiles import ActiveProfile
from router.routing.classifier import Classification, Classifier
from router.routing.decide import (
    Explanation,
    Hints,
    Live,
    Route,
    candidates,
    choose,
    needs_of,
    resolve,
    shortlist,
)
from router.routing.guards import answer_problem
from router.routing.live import LiveSpeed
from router.routing.policy import Settings
from router.serving.catalog import Catalog
from router.serving.dispatch import Check
from router.tasks import TASKS, Policy
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard


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

    def use_profile(self, active: ActiveProfile) -> None:
        self.active = active
        self._shortlists.clear()
        self.live.use_profile(active.profile)
        export_profile(self.metrics, active.profile)

    def catalog_changed(self) -> None:
        """The models served changed: rank the shortlists again when next asked."""
        self._shortlists.clear()

    def route(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Route:
        """Where a request goes: the named model, or the policy's choice for its task."""
        return self.explain(name, hints, parsed).route

    def explain(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Explanation:
        """The route with what led to it: the classification and the policy's decision."""
        routing, catalog = self.routing, self.catalog
        found = resolve(name, hints, known=catalog.ids(), aliases=routing.aliases, tasks=self.tasks)
        if isinstance(found, Route):
            return Explanation(found)
        if isinstance(parsed, EmbeddingRequest):
            raise InvalidRequest("Embeddings need a concrete model id.", param="model")
        task, how, classification = found.task, found.how, None
        if task is None:
            classification = self._classify(parsed)
            task = classification.task
            how = f"classified {task} {classification.confidence:.2f}"
        if self.active.profile is None and routing.default_model in catalog.ids():
            reason = f"{how}; default" if how else "default"
            route = Route(task, [routing.default_model], reason, "default")
            return Explanation(route, classification)
        policy: Policy = hints.policy or routing.policy  # type: ignore[assignment]
        needs = needs_of(parsed, task)
        special = needs.vision or needs.tools or needs.json  # filters may empty a shortlist
        cards = catalog.cards() if special else self._shortlist(task, policy)
        live = {c.id: Live(catalog.outstanding(c.id), self.live.drift(c.id) or 1.0) for c in cards}
        found = candidates(cards, task, self.active.profile, live, needs.answer_tokens)
        route, decision = choose(
            task, how, found, needs, policy, self.settings, routing.max_candidates
        )
        return Explanation(route, classification, decision)

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
