"""The running router: its backends, catalogue, metrics and dispatcher, started and stopped
together. The HTTP layer (`router.api`) and the CLI hold one `Service` and only translate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from pathlib import Path

from router.backends import build_backend
from router.backends.protocol import Backend, Parsed
from router.config import BackendConfig, Config, LoadedConfig
from router.errors import AuthenticationError, InvalidRequest
from router.metrics import Metrics, export_profile
from router.profiles import (
    ActiveProfile,
    remove_stale_temp_files,
    select_profile,
    this_machine,
)
from router.routing.classifier import Classification, Classifier
from router.routing.classifier_cache import load_default_classifier
from router.routing.decide import (
    Explanation,
    Hints,
    Live,
    Route,
    candidates,
    choose,
    is_router_name,
    messages_of,
    needs_of,
    resolve,
    shortlist,
)
from router.routing.guards import answer_problem
from router.routing.live import LiveSpeed
from router.routing.policy import Settings
from router.serving.catalog import Catalog
from router.serving.discover import zero_config_backends
from router.serving.dispatch import Check, Dispatcher
from router.tasks import TASKS, Policy
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard

log = logging.getLogger("router")
BackendFactory = Callable[[BackendConfig, Metrics], Backend]


def _token_bytes(token: str) -> bytes:
    """A bearer token's bytes as the client sent them (servers decode headers as latin-1);
    the keys are compared as UTF-8 bytes, so a non-ASCII key matches what a client sends."""
    token = token.strip()
    try:
        return token.encode("latin-1")
    except UnicodeEncodeError:  # not decoded from bytes: the text itself
        return token.encode()


class Service:
    """Everything a request needs, with one lifecycle: `start`, then requests, then `stop`."""

    def __init__(
        self,
        loaded: LoadedConfig,
        metrics: Metrics | None = None,
        *,
        routes: bool = True,
        build: BackendFactory = build_backend,
    ) -> None:
        self.loaded = loaded
        self.routes = routes  # False for commands that only list models: no classifier
        self.build = build  # a `[[backends]]` entry -> its backend (tests hand in fakes)
        self.config: Config = loaded.config
        self.metrics = metrics or Metrics()
        routing = self.config.routing
        self.tasks: tuple[str, ...] = (*TASKS, *(t for t in routing.tasks if t not in TASKS))
        self.catalog = Catalog(lambda name: is_router_name(name, self.tasks, routing.aliases))
        for backend_config in self.config.backends:
            self.catalog.add(build(backend_config, self.metrics), backend_config)
        self.backends: list[Backend] = self.catalog.backends
        self.dispatcher = Dispatcher(self.catalog, self.metrics)
        self._keys = [k.encode() for k in self.config.server.accepted_keys()]
        self._refresher: asyncio.Task[None] | None = None
        self.settings = Settings(
            quality_floor=routing.quality_floor,
            max_failure_rate=routing.max_failure_rate,
            quality_weight=routing.quality_weight,
            latency_targets=dict(routing.latency_targets),
        )
        self.live = LiveSpeed()
        self.active = ActiveProfile(None, None, "not chosen yet")
        self.classifier: Classifier | None = None
        self._shortlists: dict[tuple[str, str], list[ModelCard]] = {}  # see routing.shortlist

    async def start(self) -> None:
        if self.loaded.source is None:
            for found in await zero_config_backends():
                self.catalog.add(self.build(found, self.metrics), found)
        for backend in self.backends:
            await backend.start()
        await self.refresh()
        if self.routes:
            self.classifier = await asyncio.to_thread(self._train_classifier)
        self.choose_profile()
        self._refresher = asyncio.create_task(self._refresh_forever())
        log.info("%s", self.describe())
        log.info("%s", self.active.describe())

    def _train_classifier(self) -> Classifier:
        base = load_default_classifier()
        extra = self.config.routing.tasks
        return base.train(extra_tasks=extra) if extra else base

    def choose_profile(self) -> None:
        """Pick the profile that fits the models now served (at start, and after calibrating)."""
        routing = self.config.routing
        for path in remove_stale_temp_files(Path(routing.profiles_dir)):
            log.info("removed %s, left by a profile write that was cut off", path)
        active = select_profile(
            routing.profile, Path(routing.profiles_dir), set(self.catalog.ids()), this_machine()
        )
        for problem in active.problems:
            log.warning("skipping profile: %s", problem)
        self.use_profile(active)

    def use_profile(self, active: ActiveProfile) -> None:
        self.active = active
        self._shortlists.clear()
        self.live.use_profile(active.profile)
        export_profile(self.metrics, active.profile)

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for backend in self.backends:
            await backend.close()

    async def refresh(self) -> None:
        await self.catalog.refresh(self.config.server.discovery_timeout)
        self._shortlists.clear()
        for name in self.catalog.states:  # answered its check, and its breaker not open
            self.metrics.backend_up.labels(name).set(int(self.catalog.backend_up(name)))

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.server.discovery_interval)
            try:
                await self.refresh()
            except Exception:  # a refresh must never end the loop
                log.exception("refreshing the model catalogue failed")

    def describe(self) -> str:
        """One line saying what the router serves."""
        source = self.loaded.source or "no config file (zero-config)"
        if not self.backends:
            return f"{source}: no backend found; serving no model until one is configured"
        parts = [
            f"{s.name} ({s.kind}, {s.models} models{'' if s.up else ', down: ' + (s.error or '')})"
            for s in self.catalog.states.values()
        ]
        return f"{source}: {'; '.join(parts)}"

    def authorize(self, header: str | None) -> None:
        """Check a request's `Authorization` header against the configured keys, if any."""
        if not self._keys:
            return
        token = _token_bytes(header[7:]) if header and header[:7].lower() == "bearer " else b""
        # compare with every key so the time taken does not tell which one nearly matched
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(token, key)
        if not matched:
            raise AuthenticationError("Missing or invalid API key (Authorization: Bearer ...).")

    def route(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Route:
        """Where a request goes: the named model, or the policy's choice for its task."""
        return self.explain(name, hints, parsed).route

    def explain(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Explanation:
        """The route with what led to it: the classification and the policy's decision."""
        routing = self.config.routing
        found = resolve(
            name, hints, known=self.catalog.ids(), aliases=routing.aliases, tasks=self.tasks
        )
        if isinstance(found, Route):
            return Explanation(found)
        if isinstance(parsed, EmbeddingRequest):
            raise InvalidRequest("Embeddings need a concrete model id.", param="model")
        task, how, classification = found.task, found.how, None
        if task is None:
            classification = self._classify(parsed)
            task = classification.task
            how = f"classified {task} {classification.confidence:.2f}"
        if self.active.profile is None and routing.default_model in self.catalog.ids():
            reason = f"{how}; default" if how else "default"
            route = Route(task, [routing.default_model], reason, "default")
            return Explanation(route, classification)
        policy: Policy = hints.policy or routing.policy  # type: ignore[assignment]
        needs = needs_of(parsed, task)
        special = needs.vision or needs.tools or needs.json  # filters may empty a shortlist
        cards = self.catalog.cards() if special else self._shortlist(task, policy)
        live = {
            c.id: Live(self.catalog.outstanding(c.id), self.live.drift(c.id) or 1.0) for c in cards
        }
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

    def answer_check(self, route: Route, parsed: Parsed) -> Check | None:
        """The check a routed, non-streamed answer must pass before it goes out, if any."""
        routing = self.config.routing
        if (
            len(route.candidates) < 2
            or not routing.escalation
            or route.task in routing.no_escalation
            or isinstance(parsed, EmbeddingRequest)
        ):
            return None
        task = route.task
        return lambda reply: answer_problem(task, reply.body, parsed)

    def _classify(self, parsed: ChatRequest | CompletionRequest) -> Classification:
        assert self.classifier is not None  # trained in start()
        start = time.perf_counter()
        result = self.classifier.classify(messages_of(parsed))
        self.metrics.classification.observe(time.perf_counter() - start)
        return result

    def observe_speed(self, model: str, seconds_per_token: float) -> None:
        """Feed a served request's speed back into routing (and the drift gauge)."""
        drift = self.live.observe(model, seconds_per_token)
        if drift is not None:
            self.metrics.drift.labels(model).set(drift)

    def ready(self) -> tuple[bool, str]:
        if self.classifier is None:
            return False, "starting"
        if self.catalog.usable():
            return True, f"ready; {self.active.describe()}"
        return False, "no backend with a usable model"
