"""The running router: its backends, catalogue, routing state, dispatcher and metrics, started
and stopped together. The HTTP layer (`router.api`) makes one call per generation request,
`generate`; the composition root (`router.app`) builds and starts the service.

Each concern has its own type: `Catalog` (models, replicas, backend health, readiness),
`Decisions` (what routing reads, and the route), `Dispatcher` (candidates, fallback,
escalation), `Relay` (the answer on its way out, its metering and speed feedback). The service
owns their lifecycle: the backends' start and close, the catalogue's refreshes, the classifier's
training and the profile's choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from router.backends import build_backend
from router.backends.protocol import Backend, Endpoint, Parsed
from router.config import BackendConfig, Config, LoadedConfig
from router.errors import RouterError
from router.metrics import Metrics
from router.profiles import ActiveProfile, remove_stale_temp_files, select_profile, this_machine
from router.routing.classifier import Classifier
from router.routing.classifier_cache import load_default_classifier
from router.routing.decide import Explanation, Hints, is_router_name, virtual_ids
from router.serving.activity import Activity
from router.serving.catalog import BackendState, Catalog
from router.serving.decisions import Decisions
from router.serving.discover import zero_config_backends
from router.serving.dispatch import Dispatcher
from router.serving.meter import RequestMeter
from router.serving.relay import Relay, Stream, Whole
from router.serving.sessions import Sessions
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard

log = logging.getLogger("router")
BackendFactory = Callable[[BackendConfig, Metrics], Backend]


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
        self.catalog = Catalog(lambda name: is_router_name(name, self.tasks, routing.aliases))
        self.decisions = Decisions(routing, self.catalog, self.metrics)
        self.sessions = Sessions(self.config.sessions, self.decisions, self.metrics)
        self.tasks = self.decisions.tasks
        for backend_config in self.config.backends:
            self.catalog.add(build(backend_config, self.metrics), backend_config)
        self.backends: list[Backend] = self.catalog.backends
        self.dispatcher = Dispatcher(self.catalog, self.metrics)
        decisions = self.decisions
        self.relay = Relay(
            self.dispatcher,
            self.metrics,
            routing.loop_guard,
            decisions.answer_check,
            decisions.observe_speed,
        )
        self.activity = Activity()  # clients' requests, as the HTTP layer reports them
        self._refresher: asyncio.Task[None] | None = None  # discovery, then the refreshes
        self._discovered = asyncio.Event()
        self._waiting = True  # `start` waits for the first discovery (and raises its failure)
        self._failure: Exception | None = None

    async def start(self, *, wait: bool = True) -> None:
        """Start the backends and their first discovery, and train the classifier. With `wait`
        (the commands), return once every backend has answered or timed out; without (`serve`)
        at once: a backend's models are served as soon as it answers, a hung one holds up
        nothing (`ready` names what is still asked)."""
        if self.config.routing.profile:  # a configured profile fits whatever is served
            self.choose_profile()  # (and one that cannot be read stops the start)
        for backend in self.backends:
            await backend.start()
        self._waiting = wait
        self._refresher = asyncio.create_task(self._discover())
        if self.routes:
            self.decisions.classifier = await asyncio.to_thread(self._train_classifier)
        if wait:
            await self.discovered()
            if self._failure is not None:
                raise self._failure

    async def discovered(self) -> None:
        """Wait until the first discovery is over (every backend answered, failed or timed
        out, and the profile chosen)."""
        await self._discovered.wait()

    @property
    def discovering(self) -> bool:
        return not self._discovered.is_set()

    async def _discover(self) -> None:
        """The first discovery (zero-config's probe of the usual ports included), each answer
        used as it comes; then a refresh every `discovery_interval`."""
        try:
            if self.loaded.source is None:
                for found in await zero_config_backends():
                    self.catalog.add(self.build(found, self.metrics), found)
                    await self.backends[-1].start()
            await self.refresh()
            self.choose_profile()
            log.info("%s", self.describe())
            log.info("%s", self.active.describe())
        except Exception as err:  # raised by `start` when it waits; else logged
            self._failure = err
            if not self._waiting:
                log.exception("the first discovery failed")
        finally:
            self._discovered.set()
        await self._refresh_forever()

    def _train_classifier(self) -> Classifier:
        base = load_default_classifier()
        extra = self.config.routing.tasks
        return base.train(extra_tasks=extra) if extra else base

    def choose_profile(self, *, quiet: bool = False) -> None:
        """Pick the profile that fits the models now served (at start, and after calibrating;
        `quiet`: while the first discovery goes on, as each backend answers)."""
        routing = self.config.routing
        profiles_dir = Path(routing.profiles_dir)
        if not quiet:
            for path in remove_stale_temp_files(profiles_dir):
                log.info("removed %s, left by a profile write that was cut off", path)
        ids = set(self.catalog.ids())
        active = select_profile(routing.profile, profiles_dir, ids, this_machine())
        if not quiet:
            for problem in active.problems:
                log.warning("skipping profile: %s", problem)
        self.use_profile(active)

    def use_profile(self, active: ActiveProfile) -> None:
        self.decisions.use_profile(active)

    @property
    def active(self) -> ActiveProfile:
        """The profile routing reads now."""
        return self.decisions.active

    @property
    def classifier(self) -> Classifier | None:
        return self.decisions.classifier

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        for backend in self.backends:
            await backend.close()

    async def refresh(self) -> None:
        """Ask every backend for its models again (each answer used as it comes)."""
        await self.catalog.refresh(self.config.server.discovery_timeout, self._answered)
        for name in self.catalog.states:  # answered its check, and its breaker not open
            self.metrics.backend_up.labels(name).set(int(self.catalog.backend_up(name)))

    def _answered(self, name: str) -> None:
        """A backend answered (or failed, or timed out): rank again; while the first discovery
        goes on, choose the profile again, so routing follows the models served so far."""
        self.decisions.catalog_changed()
        self.metrics.backend_up.labels(name).set(int(self.catalog.backend_up(name)))
        if self.discovering:
            self.choose_profile(quiet=True)

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

    async def generate(
        self,
        endpoint: Endpoint,
        parsed: Parsed,
        body: bytes,
        hints: Hints,
        meter: RequestMeter,
    ) -> Whole | Stream:
        """A generation request's answer: routed, dispatched, whole or a stream begun. Any
        failure is recorded in `meter` before it is raised."""
        try:
            route, session = self.sessions.route(parsed.model, hints, parsed)  # type: ignore[arg-type]
        except RouterError as err:
            meter.finish(err.status, timed=False)
            raise
        answer = await self.relay.answer(route, endpoint, parsed, body, meter)
        if session is not None:
            answer.session = session.id
            answer.note = self.sessions.served(session, route, answer.model)
        return answer

    def models(self) -> list[ModelCard]:
        """Every model once, then the router's own names (the catalogue holds none of them:
        see `Catalog.reserved`)."""
        routed = [ModelCard(v, owned_by="router") for v in virtual_ids(self.tasks)]
        return [*self.catalog.cards(), *routed]

    def explain(
        self, name: str, hints: Hints, parsed: ChatRequest | CompletionRequest | EmbeddingRequest
    ) -> Explanation:
        """The route a request would take, with what led to it (`router route`)."""
        return self.decisions.explain(name, hints, parsed)

    def ready(self) -> tuple[bool, str]:
        """Whether requests can be served (`/readyz`), and what it waits for if not."""
        if self.decisions.classifier is None:
            return False, "starting"
        ready, detail = self.catalog.readiness()
        return ready, f"{detail}; {self.active.describe()}" if ready else detail

    def backend_states(self) -> list[BackendState]:
        """Each backend's last check: up or not, its models, why not."""
        return list(self.catalog.states.values())
