"""The catalogue of models: which model ids exist, and which backends serve each.

A model id served by several backends (two Macs with the same LM Studio model) is one entry
with several replicas. A model an upstream names like one of the router's own names (`auto`,
`router/<task>`, an alias) is listed as `<backend>/<id>` instead, so the router's names always
win and the upstream's model stays reachable. The catalogue is rebuilt from the backends' model
lists at start-up and every `discovery_interval`; a backend that stops answering keeps its last
known models but is marked down, so requests skip it while another replica is up. Each replica
has a circuit breaker of its own and shares its backend's (for connection failures), both
opened by the dispatcher's failures and closed only by a request that succeeds (a passing
health check does not: see `router.serving.admission`); each replica has a gate, its one queue
(`max_concurrency` at once, `max_queue` waiting; an in-process model's run as one batch), and,
after an upstream's 429, a time before which it is not asked again (`busy_until`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, KeysView

import msgspec

from router.backends.protocol import Backend
from router.config import BackendConfig
from router.errors import BackendError, BackendTimeout
from router.serving.admission import Breaker, Gate
from router.wire import ModelCard

log = logging.getLogger("router")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: never in a header value


class Replica:
    """One backend's copy of a model, with the count of requests it is answering now."""

    __slots__ = (
        "backend",
        "backend_breaker",
        "breaker",
        "busy_until",
        "card",
        "gate",
        "name",
        "outstanding",
    )

    def __init__(self, backend: Backend, card: ModelCard, breaker: Breaker, gate: Gate | None):
        self.backend = backend
        self.card = card
        self.name = card.id  # the backend's own name for it (the card's id may be renamed)
        self.backend_breaker = breaker  # the backend's, shared by its replicas
        self.breaker = Breaker(breaker.threshold, breaker.cooldown, f"{card.id} on {backend.name}")
        self.gate = gate
        self.outstanding = 0
        self.busy_until = 0.0  # time.monotonic() before which an upstream's 429 holds

    def allows(self, now: float) -> bool:
        """Neither breaker refuses it and no 429 holds it (the probes are not taken)."""
        return (
            now >= self.busy_until and self.backend_breaker.allows(now) and self.breaker.allows(now)
        )


class BackendState(msgspec.Struct):
    name: str
    kind: str
    up: bool = False
    error: str | None = None
    models: int = 0
    checked_at: float = 0.0


class Catalog:
    """Model id -> replicas; rebuilt by `refresh`, read on every request."""

    def __init__(self, reserved: Callable[[str], bool] = lambda name: False) -> None:
        self.reserved = reserved  # the router's own names, which no backend's model may take
        self._shadowed: set[tuple[str, str]] = set()  # (backend, model) renamed, and logged
        self.backends: list[Backend] = []
        self.states: dict[str, BackendState] = {}
        self.breakers: dict[str, Breaker] = {}
        self._configs: dict[str, BackendConfig] = {}
        self._known: dict[str, list[ModelCard]] = {}
        self._replicas: dict[str, list[Replica]] = {}
        self._refused: set[tuple[str, str]] = set()  # (backend, model id) refused at discovery

    def add(self, backend: Backend, config: BackendConfig) -> None:
        """Take in a backend (from the config, or found by discovery); refresh to use it."""
        self.backends.append(backend)
        self.states[backend.name] = BackendState(backend.name, backend.kind)
        self.breakers[backend.name] = Breaker(
            config.failure_threshold, config.cooldown, f"backend {backend.name}"
        )
        self._configs[backend.name] = config

    async def refresh(
        self, timeout: float | None = None, answered: Callable[[str], None] | None = None
    ) -> None:
        """Ask every backend for its models, all at once and each for at most `timeout`
        seconds (a hung upstream holds up no other); each answer is taken in as it comes
        (then `answered(backend name)`), the table rebuilt keeping the replicas' counters."""
        await asyncio.gather(*(self._check(b, timeout, answered) for b in list(self.backends)))

    async def _check(
        self, backend: Backend, timeout: float | None, answered: Callable[[str], None] | None
    ) -> None:
        found = await _models(backend, timeout)
        state = self.states[backend.name]
        if isinstance(found, BackendError):
            if state.up or not state.checked_at:
                log.warning("backend %s is down: %s", backend.name, found.message)
            state.up, state.error = False, found.message
            listed = self._known.get(backend.name) or backend.listed()
            self._known[backend.name] = self._nameable(backend.name, listed)
        else:
            self._known[backend.name] = self._nameable(backend.name, found)
            if not state.up and state.checked_at:
                log.info("backend %s is up again", backend.name)
            state.up, state.error = True, None
        state.checked_at = time.time()
        state.models = len(self._known.get(backend.name, ()))
        self._rebuild()
        if answered is not None:
            answered(backend.name)

    def _nameable(self, backend: str, cards: list[ModelCard]) -> list[ModelCard]:
        """The cards whose ids can go in a header; an id with a control character is refused
        (logged once per backend and id)."""
        if not any(_CONTROL.search(c.id) for c in cards):
            return cards
        for card in cards:
            if _CONTROL.search(card.id) and (backend, card.id) not in self._refused:
                self._refused.add((backend, card.id))
                log.warning(
                    "backend %s: refusing model id %r: it holds a control character",
                    backend,
                    card.id,
                )
        return [c for c in cards if not _CONTROL.search(c.id)]

    def _rebuild(self) -> None:
        old = {(r.backend.name, r.name): r for reps in self._replicas.values() for r in reps}
        table: dict[str, list[Replica]] = {}
        for backend in self.backends:
            for card in self._known.get(backend.name, ()):
                replica = old.get((backend.name, card.id)) or self._replica(backend, card)
                replica.card = self._unshadowed(backend.name, card)
                table.setdefault(replica.card.id, []).append(replica)
        self._replicas = table

    def _unshadowed(self, backend: str, card: ModelCard) -> ModelCard:
        """The card, or a copy named `<backend>/<id>` when its id is one of the router's own
        names (said once in the log). The copy does not follow an in-process model's state."""
        if not self.reserved(card.id):
            return card
        renamed = f"{backend}/{card.id}"
        if (backend, card.id) not in self._shadowed:
            self._shadowed.add((backend, card.id))
            log.warning(
                "backend %s lists a model named '%s', one of the router's own names; "
                "it is reachable as '%s'",
                backend,
                card.id,
                renamed,
            )
        return msgspec.structs.replace(card, id=renamed)

    def _replica(self, backend: Backend, card: ModelCard) -> Replica:
        config = self._configs[backend.name]
        gate = None  # the replica's one queue (max_concurrency at once, the rest wait)
        if config.max_concurrency is not None:  # None only from code: the file's default is 32
            gate = Gate(config.max_concurrency, config.max_queue, config.queue_timeout)
        return Replica(backend, card, self.breakers[backend.name], gate)

    def replicas(self, model_id: str) -> list[Replica]:
        """The replicas of a model: up and not cooling down first, then the least busy."""
        found = self._replicas.get(model_id)
        if not found:
            return []
        if len(found) == 1:
            return found
        states, now = self.states, time.monotonic()
        return sorted(
            found, key=lambda r: (not (states[r.backend.name].up and r.allows(now)), r.outstanding)
        )

    def outstanding(self, model_id: str) -> int:
        """Requests being answered by any replica of the model now."""
        return sum(r.outstanding for r in self._replicas.get(model_id, ()))

    def ids(self) -> KeysView[str]:
        """The model ids, as a live view (cheap membership tests, catalogue order)."""
        return self._replicas.keys()

    def cards(self) -> list[ModelCard]:
        """One card per model id (the first replica's)."""
        return [reps[0].card for reps in self._replicas.values()]

    def usable(self) -> bool:
        """At least one model on a backend that answered its last check, neither breaker of
        it cooling down (a probe out, or a 429's wait, does not count: busy is not broken)."""
        now = time.monotonic()
        return any(
            self.states[r.backend.name].up
            and not r.backend_breaker.cooling(now)
            and not r.breaker.cooling(now)
            for reps in self._replicas.values()
            for r in reps
        )

    def unchecked(self) -> list[str]:
        """The backends that have not yet answered their first check (nor timed out)."""
        return [s.name for s in self.states.values() if not s.checked_at]

    def readiness(self) -> tuple[bool, str]:
        """Whether a request can be served now, and if not, why: a model on a backend that is
        up (see `usable`), whatever the backends still being asked for their models."""
        waiting = self.unchecked()
        asking = f"asking {', '.join(waiting)} for models" if waiting else ""
        if self.usable():
            return True, f"ready{'; ' + asking if asking else ''}"
        return False, asking or "no backend with a usable model"

    def backend_up(self, name: str) -> bool:
        """It answered its last check and its breaker is not cooling down (`router_backend_up`)."""
        return self.states[name].up and not self.breakers[name].cooling(time.monotonic())


async def _models(backend: Backend, timeout: float | None) -> list[ModelCard] | BackendError:
    """The backend's model list, or why there is none (its own error, or no answer in time).
    An in-process backend only scans folders: a slow disk must not mark its models down."""
    if backend.kind == "mlx":
        timeout = None
    try:
        return await asyncio.wait_for(backend.models(), timeout)
    except BackendError as err:
        return err
    except TimeoutError:
        return BackendTimeout(f"{backend.name}: no model list within {timeout:g}s")
