"""Conversations, remembered: a bounded LRU of sessions with a TTL, and the step that keeps a
conversation on its model.

`Sessions.route` asks routing for the request's own route (`Decisions.explain`), names the
conversation (`routing.sessions.identify`), finds where it is (the store; else derived: the
route the previous turn's request gets now, which is what that turn got unless the router's
state has changed since, so a second router that never saw the conversation places it alike),
and asks `routing.sessions.follow` whether it stays. `Sessions.served` records who answered:
the model the turn was sent to, or the fallback that answered when it failed ("moved").

Only `auto` and `router/<task>` chat requests have sessions; a model named by the client goes
where it says.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec
import msgspec.structs

from router.config import SessionsConfig
from router.errors import RouterError
from router.metrics import Metrics
from router.routing.decide import (
    Explanation,
    Hints,
    RequestView,
    Route,
    candidates,
    decide,
    needs_of,
)
from router.routing.policy import Candidate, filter_capable
from router.routing.sessions import (
    Prior,
    SessionId,
    Steer,
    Turn,
    follow,
    identify,
    prompt_speed,
    reread_seconds,
    turn_of,
    worth_switching,
)
from router.serving.decisions import Decisions
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest

Parsed = ChatRequest | CompletionRequest | EmbeddingRequest
ROUTED = ("direct", "alias")  # a route's basis when the client named the model: no session
REPLAY = 16  # turns a conversation not remembered is followed back to place its last turn


class Entry(msgspec.Struct):
    model: str  # the model that answered the conversation's last turn
    task: str
    since: int  # the user turn it has answered since
    last: int  # the user turn it answered last
    seen: float  # when last used (the store's clock)


class Store:
    """Sessions by id: at most `size`, the least recently used dropped first; one unused for
    `ttl` seconds is gone. Every use moves a session to the end, so the expired are in front."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        now = self.clock()
        if now - entry.seen > self.ttl:
            del self._entries[key]
            return None
        entry.seen = now
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, model: str, task: str, since: int, last: int = 0) -> None:
        self._entries[key] = Entry(model, task, since, max(last, since), self.clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        """Live sessions (the expired are dropped on the way)."""
        entries, limit = self._entries, self.clock() - self.ttl
        while entries:
            first = next(iter(entries.values()))
            if first.seen >= limit:
                break
            entries.popitem(last=False)
        return len(entries)


class Session:
    """One request's conversation: its id, its turn, and how the turn was placed."""

    __slots__ = ("id", "since", "steer", "turn")

    def __init__(self, id: str, turn: Turn, steer: Steer, since: int) -> None:
        self.id = id
        self.turn = turn
        self.steer = steer
        self.since = since  # the turn its model has answered since, if it answers this one


class Sessions:
    """The store and the session step of routing (one per service)."""

    def __init__(self, config: SessionsConfig, decisions: Decisions, metrics: Metrics) -> None:
        self.config = config
        self.decisions = decisions
        self.metrics = metrics
        self.store = Store(config.max_sessions, config.ttl)
        decisions.where = self.where  # routing's estimate of a warm prompt cache reads it
        # The request being routed and its conversation: named once, read by `where` (inside
        # `explain`) and by `follow`.
        self._named: tuple[Parsed, SessionId | None, bool] | None = None  # (.., id, named yet)

    def where(self, hints: Hints, parsed: ChatRequest) -> str | None:
        """The model that answered the conversation's last turn, as remembered; None when the
        request is not a conversation or it is not remembered."""
        named = self._identify(hints, parsed) if self.config.enabled else None
        entry = self.store.get(named.id) if named is not None else None
        return entry.model if entry is not None else None

    def route(self, name: str, hints: Hints, parsed: Parsed) -> tuple[Route, Session | None]:
        self._named = (parsed, None, False)
        try:
            explained = self.decisions.explain(name, hints, parsed)
            return self.follow(name, hints, parsed, explained)
        finally:
            self._named = None

    def _identify(self, hints: Hints, parsed: Parsed) -> SessionId | None:
        """The request's conversation, named at most once for the request `route` routes
        (when something asks: never for a model named by the client), else named now (an
        earlier turn replayed, `router route`)."""
        current = self._named
        if current is None or current[0] is not parsed:
            return identify(dict(hints.headers), parsed)
        if not current[2]:
            current = self._named = (parsed, identify(dict(hints.headers), parsed), True)
        return current[1]

    def follow(
        self, name: str, hints: Hints, parsed: Parsed, explained: Explanation
    ) -> tuple[Route, Session | None]:
        """The route for this turn of its conversation, and the session (None: not one)."""
        fresh = explained.route
        if not self.config.enabled or fresh.basis in ROUTED or not isinstance(parsed, ChatRequest):
            return fresh, None
        named = self._identify(hints, parsed)
        if named is None:
            return fresh, None
        turn = turn_of(parsed)
        prior = self._prior(named.id, turn, name, hints, parsed)
        steer = self._steer(prior, turn, fresh, parsed, hints)
        if steer.kind in ("switched", "unfit"):
            self.metrics.session_switches.labels(_reason(steer.kind)).inc()
        reason = f"{steer.reason}; {fresh.reason}" if steer.reason else fresh.reason
        route = msgspec.structs.replace(
            fresh, candidates=steer.candidates, task=steer.task, reason=reason
        )
        kept = prior is not None and steer.kind in ("kept", "tool")
        since = prior.since if kept else turn.number  # type: ignore[union-attr]
        return route, Session(named.id, turn, steer, since)

    def served(self, session: Session | None, route: Route, model: str) -> str | None:
        """Record who answered the session's turn; returns "moved: <model> failed" when the
        model it was sent to failed and another answered."""
        if session is None:
            return None
        moved = model != route.candidates[0]
        since = session.turn.number if moved else session.since
        self.store.put(session.id, model, route.task, since, session.turn.number)
        self.metrics.sessions.set(len(self.store))
        if not moved:
            return None
        self.metrics.session_switches.labels("failure").inc()
        return f"moved: {route.candidates[0]} failed"

    def _prior(
        self, key: str, turn: Turn, name: str, hints: Hints, parsed: ChatRequest
    ) -> Prior | None:
        """Where the conversation is: remembered, else derived from the conversation itself
        (also when a turn since the one remembered was answered elsewhere: another router)."""
        entry = self.store.get(key)
        if entry is not None and entry.last in (turn.number, turn.number - 1):
            return Prior(entry.model, entry.task, entry.since)
        return self._derive(name, hints, parsed, REPLAY)

    def _derive(self, name: str, hints: Hints, parsed: ChatRequest, depth: int) -> Prior | None:
        """Where the previous turn was placed: its request routed now and followed from where
        the turn before it was (and so back to the start, at most `depth` turns)."""
        previous = _previous(parsed)
        if previous is None:
            return None
        try:
            fresh = decide(RequestView(name, hints, previous), self.decisions.snapshot()).route
        except RouterError:  # the previous turn could not be placed now: a new start
            return None
        prior = self._derive(name, hints, previous, depth - 1) if depth > 1 else None
        turn = turn_of(previous)
        steer = self._steer(prior, turn, fresh, previous, hints)
        kept = prior is not None and steer.kind in ("kept", "tool")
        return Prior(steer.candidates[0], steer.task, prior.since if kept else turn.number)  # type: ignore[union-attr]

    def _steer(
        self, prior: Prior | None, turn: Turn, fresh: Route, parsed: ChatRequest, hints: Hints
    ) -> Steer:
        limit = self.decisions.routing.max_candidates
        if prior is None:
            return follow(None, turn, fresh.task, fresh.candidates, True, False, limit)
        task = prior.task if turn.tool_loop else fresh.task
        needs = needs_of(parsed, task)
        stay = self._candidate(prior.model, task, needs.answer_tokens)
        fits = stay is not None and bool(filter_capable([stay], needs, self.decisions.settings)[0])
        switch = False
        best = fresh.candidates[0] if fresh.candidates else None
        if fits and task != prior.task and best is not None and best != prior.model:
            switch = self._worth(task, stay, best, turn, needs, hints)  # type: ignore[arg-type]
        return follow(prior, turn, task, fresh.candidates, fits, switch, limit)

    def _worth(
        self, task: str, stay: Candidate, best: str, turn: Turn, needs: object, hints: Hints
    ) -> bool:
        other = self._candidate(best, task, getattr(needs, "answer_tokens", None))
        if other is None:
            return False
        costs = reread_seconds(turn, self._prompt_speed(stay.model), self._prompt_speed(best))
        policy = hints.policy or self.decisions.routing.policy
        settings, margin = self.decisions.settings, self.config.switch_margin
        return worth_switching(task, stay, other, costs, needs, policy, settings, margin)  # type: ignore[arg-type]

    def _candidate(self, model: str, task: str, answer_tokens: int | None) -> Candidate | None:
        """The model as the policy sees it for `task` now; None when it is no longer served."""
        replicas = self.decisions.catalog.replicas(model)
        if not replicas:
            return None
        live = {model: self.decisions.snapshot().live(model)}
        profile = self.decisions.active.profile
        return candidates([replicas[0].card], task, profile, live, answer_tokens)[0]

    def _prompt_speed(self, model: str) -> float:
        profile = self.decisions.active.profile
        measured = profile.model(model) if profile else None
        replicas = self.decisions.catalog.replicas(model)
        size = replicas[0].card.size_bytes if replicas else None
        return prompt_speed(measured.prompt_tokens_per_s if measured else None, size)


def _reason(kind: str) -> str:
    return "task" if kind == "switched" else "unfit"


def _previous(parsed: ChatRequest) -> ChatRequest | None:
    """The previous turn's request: the conversation up to the user turn the last answer
    followed (for a tool loop, this turn's own user request). None for a first turn."""
    messages = parsed.messages
    last_answer = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
    if last_answer is None:
        return None
    cut = max((i for i, m in enumerate(messages[:last_answer]) if m.role == "user"), default=None)
    if cut is None:
        return None
    return msgspec.structs.replace(parsed, messages=messages[: cut + 1])
