"""Where a request goes: from the model name a client sent to an ordered list of candidates.

Pure: no I/O, no clock, no logging. `decide(view, snapshot)` is the one call into routing: the
request as it came (`RequestView`) and what the running router knows now (`Snapshot`: names,
profile, settings, and reads handed in as functions: the models to weigh, a model's load, the
classifier, what a model's prompt cache holds of the request). Its steps:

1. `resolve`: a concrete model id (or an alias of one) is a one-candidate `Route`; `auto` and
   `router/<task>` are `Virtual` and need a decision (the task may still be unknown).
2. `candidates`: every model as the policy sees it for the task: quality and latency from the
   profile (or a prior from the model's size), residency, queue, capabilities. The latency
   counts the reading of the prompt's part the model's prompt cache does not hold, beyond what
   the profiled time to first token covers (`_latency`).
3. `choose`: the policy's ranking becomes the route: the best few, and a short reason.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Collection, Mapping

import msgspec

from router.errors import InvalidRequest, ModelNotFound, NoCapableModel, NoModelAvailable
from router.profiles import ModelProfile, Profile, TaskScore
from router.routing.classifier import Classification
from router.routing.policy import Candidate, Decision, Needs, Settings, rank
from router.routing.priors import size_gb, size_prior
from router.routing.sessions import CHARS_PER_TOKEN, prompt_speed
from router.tasks import DIRECT, POLICIES, TASKS, Policy, answer_tokens
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard

AUTO = "auto"
TASK_PREFIX = "router/"
JSON_FORMATS = ("json_object", "json_schema")


class Hints(msgspec.Struct, frozen=True):
    """What the client asked for beyond the model name (the `x-router-*` request headers)."""

    task: str | None = None
    policy: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # a conversation's name (routing.sessions)
    # capabilities the model must have beyond what the request shows (a Responses request
    # passed through as it is: "responses")
    needs: tuple[str, ...] = ()


class Route(msgspec.Struct, frozen=True):
    task: str  # a task name, or `none` for a concrete model id
    candidates: list[str]  # model ids, best first
    reason: str  # short, human-readable: goes out as `x-router-reason`
    basis: str = "direct"  # bounded, for metrics: direct, alias, default, or the policy
    max_tokens: int | None = None  # the router's cap on the answer, when the client set none


class Virtual(msgspec.Struct, frozen=True):
    """A virtual model id: the task if the request named it, else None (to classify)."""

    task: str | None
    how: str  # "x-router-task", "model"


class Explanation(msgspec.Struct, frozen=True):
    """A route with everything that led to it (for `router route` and the logs)."""

    route: Route
    classification: Classification | None = None
    decision: Decision | None = None


class Live(msgspec.Struct, frozen=True):
    """A model's state now: requests on it, and how its speed compares with its profile."""

    outstanding: int = 0
    drift: float = 1.0  # live latency over profiled latency


class RequestView(msgspec.Struct, frozen=True):
    """What a request says: the model it names, its hints, and the request itself (what it
    needs is read from it, and the classifier reads it when no task is named)."""

    model: str
    hints: Hints
    parsed: ChatRequest | CompletionRequest | EmbeddingRequest


Cards = Callable[[str, Policy, bool], list[ModelCard]]
Classify = Callable[[ChatRequest | CompletionRequest], Classification]
Cached = Callable[[RequestView], Mapping[str, int]]  # model -> prompt tokens its cache holds


def nothing_cached(view: RequestView) -> Mapping[str, int]:
    return {}


class Snapshot(msgspec.Struct, frozen=True):
    """What the running router knows when a request comes. The reads handed in as functions
    cost the same whatever the catalogue's size; they read state, they change none."""

    known: Collection[str]  # the catalogue's model ids
    aliases: Mapping[str, str]  # client-facing name -> model id
    tasks: Collection[str]  # the built-in tasks and the config's own
    profile: Profile | None  # the active profile, if any
    settings: Settings
    policy: Policy  # when the request's hints name none
    max_candidates: int  # a route's length: the first, then its fallbacks
    default_model: str | None  # where a virtual id goes while no profile is active
    cards: Cards  # (task, policy, special needs) -> the models to weigh (the shortlist)
    live: Callable[[str], Live]  # a model's load and drift now
    classify: Classify  # the task of a request that names none
    cached: Cached = nothing_cached  # per model, the request's prompt tokens its cache holds


def check_hints(hints: Hints, tasks: Collection[str] = TASKS) -> None:
    if hints.task is not None and hints.task not in tasks:
        raise InvalidRequest(
            f"x-router-task: unknown task '{hints.task}'; known: {', '.join(tasks)}",
            param="x-router-task",
        )
    if hints.policy is not None and hints.policy not in POLICIES:
        raise InvalidRequest(
            f"x-router-policy: must be one of {', '.join(POLICIES)}", param="x-router-policy"
        )


def virtual_ids(tasks: Collection[str] = TASKS) -> list[str]:
    """The model ids that route rather than name a model, as /v1/models lists them."""
    return [AUTO, *(TASK_PREFIX + t for t in tasks)]


def is_router_name(name: str, tasks: Collection[str], aliases: Mapping[str, str]) -> bool:
    """Whether `name` is one of the router's own: `auto`, `router/<task>` or an alias. No
    backend's model may take one (the catalogue lists such a model as `<backend>/<id>`)."""
    if name == AUTO or alias_target(name, aliases) is not None:
        return True
    return name.startswith(TASK_PREFIX) and name[len(TASK_PREFIX) :] in tasks


def alias_target(name: str, aliases: Mapping[str, str]) -> str | None:
    """What the alias `name` stands for: its own entry, else the first glob pattern (`*`, `?`,
    `[...]`, e.g. `"claude-*" = "auto"`) in the config's order that matches it; None if none."""
    target = aliases.get(name)
    if target is not None:
        return target
    for pattern, value in aliases.items():
        if _GLOB.intersection(pattern) and fnmatch.fnmatchcase(name, pattern):
            return value
    return None


_GLOB = frozenset("*?[")


def resolve(
    name: str,
    hints: Hints,
    *,
    known: Collection[str],
    aliases: Mapping[str, str],
    tasks: Collection[str] = TASKS,
) -> Route | Virtual:
    """A concrete route, or the virtual id's task to decide; ModelNotFound for unknown names."""
    check_hints(hints, tasks)
    target = alias_target(name, aliases) or name
    if target in known:
        if target == name:
            return Route(hints.task or DIRECT, [target], "direct", "direct")
        return Route(hints.task or DIRECT, [target], f"alias of {target}", "alias")
    if target == AUTO:
        return Virtual(hints.task, "x-router-task") if hints.task else Virtual(None, "")
    if target.startswith(TASK_PREFIX):
        task = target[len(TASK_PREFIX) :]
        if task not in tasks:
            raise ModelNotFound(
                f"The model '{name}' names no task; known: {', '.join(tasks)}", param="model"
            )
        return Virtual(hints.task, "x-router-task") if hints.task else Virtual(task, "model")
    raise ModelNotFound(
        f"The model '{name}' does not exist here; GET /v1/models lists those that do.",
        param="model",
    )


def prompt_tokens(parsed: ChatRequest | CompletionRequest) -> int:
    """The prompt's tokens, estimated from its characters (no tokenizing on the hot path):
    ~3 characters a token, between English (~4) and Japanese (~1-2)."""
    if isinstance(parsed, ChatRequest):
        chars = sum(len(m.text()) for m in parsed.messages)
    else:
        chars = sum(map(len, parsed.prompts()))
    return chars // CHARS_PER_TOKEN


def needs_of(
    parsed: ChatRequest | CompletionRequest, task: str | None = None, prompt: int | None = None
) -> Needs:
    """What a request asks of a model: images, tools, JSON, and about how many tokens (the
    prompt's `prompt_tokens`, when not given). With the task known, the answer's tokens are
    capped: the client's max_tokens, else the task's (`tasks.ANSWER_TOKENS`), which the router
    then asks of in-process models."""
    if isinstance(parsed, ChatRequest):
        vision = any(m.has_image() for m in parsed.messages)
        fmt = parsed.response_format.type if parsed.response_format else None
        tools, json = bool(parsed.tools), fmt in JSON_FORMATS
    else:
        vision = tools = json = False
    limit = parsed.token_limit()
    answer = (limit or answer_tokens(task)) if task else None
    tokens = (prompt_tokens(parsed) if prompt is None else prompt) + (answer or limit or 256)
    return Needs(
        vision=vision,
        tools=tools,
        json=json,
        tokens=tokens,
        answer_tokens=answer,
        capped=task is not None and limit is None,
    )


def candidates(
    cards: list[ModelCard],
    task: str,
    profile: Profile | None,
    live: Mapping[str, Live],
    answer_tokens: int | None = None,
    prompt: int = 0,
    cached: Mapping[str, int] | None = None,
) -> list[Candidate]:
    """Every model as the policy sees it for `task`; its latency for an answer of at most
    `answer_tokens` tokens when given (else the task's profiled latency, or a prior), plus
    the reading of the `prompt` tokens its prompt cache does not hold (`cached`: per model)."""
    scores = {s.model: s for s in profile.tasks.get(task, ())} if profile else {}
    cached = cached or {}
    out = []
    for card in cards:
        state = live.get(card.id, Live())
        measured = profile.model(card.id) if profile else None
        score = scores.get(card.id)
        if score is not None:
            quality, failure_rate, is_measured = score.quality, score.failure_rate, True
        else:
            quality, failure_rate, is_measured = size_prior(card.size_bytes), 0.0, False
        unread = max(0, prompt - cached.get(card.id, 0))
        latency = _latency(card, score, measured, answer_tokens, unread)
        caps = set(card.capabilities)
        if measured is not None:
            caps |= _measured_capabilities(measured.capabilities)
        load = card.load_seconds or (measured.load_seconds if measured else None)
        out.append(
            Candidate(
                model=card.id,
                quality=quality,
                latency_seconds=latency * state.drift,
                failure_rate=failure_rate,
                load_seconds=load or _prior_load(card),
                resident=card.state != "on disk",
                queued=state.outstanding,
                capabilities=frozenset(caps),
                context_length=card.context_length,
                measured=is_measured,
            )
        )
    return out


def _measured_capabilities(caps: object) -> set[str]:
    seen = msgspec.structs.asdict(caps)  # type: ignore[arg-type]
    names = {"json_schema": "json", "tools": "tools", "vision": "vision"}
    return {names[k] for k, v in seen.items() if v and k in names}


def _size_gb(card: ModelCard) -> float:
    return size_gb(card.size_bytes)


def _latency(
    card: ModelCard,
    score: TaskScore | None,
    measured: ModelProfile | None,
    tokens: int | None,
    unread: int = 0,
) -> float:
    """Expected seconds for an answer: with a token cap, time to the first token plus the
    cap's tokens at the model's speed (measured, else a prior from its size), or the task's
    profiled latency when that is less (most answers end before the cap). Then the prompt:

        + max(0, unread / prompt_tokens_per_s - first)

    `unread` the prompt's tokens the model's prompt cache does not hold, read at the profile's
    prompt speed (else a prior from the size: `routing.sessions.prompt_speed`); `first` the
    time to the first token the figures above already hold (the profile's, measured on short
    calibration prompts, or the prior's), so a short or well-cached prompt adds nothing."""
    typical = score.latency_seconds if score is not None else None
    first, per_token = _prior_speed(card)
    if measured is not None and measured.decode_tokens_per_s:
        first, per_token = measured.ttft_seconds or first, 1 / measured.decode_tokens_per_s
    if tokens is None:
        base = typical or _prior_latency(card)
    else:
        bound = round(first + tokens * per_token, 2)
        base = min(typical, bound) if typical else bound
    speed = prompt_speed(measured.prompt_tokens_per_s if measured else None, card.size_bytes)
    extra = unread / speed - first
    return round(base + extra, 2) if extra > 0 else base


def _prior_speed(card: ModelCard) -> tuple[float, float]:
    """A guess at (time to first token, seconds per token): memory-bound decoding on Apple
    silicon, ~60 GB/s of weights read per second, 150 tokens/s at most."""
    gb = _size_gb(card)
    return round(0.2 + 0.3 * gb, 2), 1 / min(150.0, 60.0 / gb)


def _prior_latency(card: ModelCard) -> float:
    return round(2.0 + 3.0 * _size_gb(card), 2)


def _prior_load(card: ModelCard) -> float:
    return round(1.0 + 1.5 * _size_gb(card), 2)


SHORTLIST = 8  # models the policy weighs per request, so its cost does not grow with the catalogue


def shortlist(
    cards: list[ModelCard], task: str, profile: Profile | None, policy: Policy, settings: Settings
) -> list[ModelCard]:
    """The `SHORTLIST` models that rank best for `task` on what does not change between
    requests (profile figures, size priors), ranked once and kept until the catalogue or the
    profile changes; a request then weighs only these with its live state."""
    if len(cards) <= SHORTLIST:
        return cards
    decision = rank(task, candidates(cards, task, profile, {}), Needs(), policy, settings)
    by_id = {c.id: c for c in cards}
    return [by_id[r.model] for r in decision.ranked[:SHORTLIST]]


def choose(
    task: str,
    how: str,
    found: list[Candidate],
    needs: Needs,
    policy: Policy,
    settings: Settings,
    limit: int,
) -> tuple[Route, Decision]:
    """The route the policy picks among `found`, with a reason a person can read."""
    if not found:
        raise NoModelAvailable("No model is available: no backend answered with any model.")
    decision = rank(task, found, needs, policy, settings)
    if not decision.ranked:
        why = "; ".join(f"{r.model}: {r.why}" for r in decision.rejected)
        raise NoCapableModel(f"No model can take this {task} request ({why}).")
    best = decision.ranked[0]
    reason = f"{how}; {policy}: {best.why}" if how else f"{policy}: {best.why}"
    cap = needs.answer_tokens if needs.capped else None
    route = Route(task, [r.model for r in decision.ranked[:limit]], reason, policy, cap)
    return route, decision


def decide(view: RequestView, snap: Snapshot) -> Explanation:
    """Where a request goes, with what led there: a concrete id (or alias) as named; a
    virtual one to the default model while no profile is active, else the policy's choice
    among the models weighed for its task (named, or classified)."""
    named = resolve(
        view.model, view.hints, known=snap.known, aliases=snap.aliases, tasks=snap.tasks
    )
    if isinstance(named, Route):
        return Explanation(named)
    parsed = view.parsed
    if isinstance(parsed, EmbeddingRequest):
        raise InvalidRequest("Embeddings need a concrete model id.", param="model")
    task, how, classification = named.task, named.how, None
    if task is None:
        classification = snap.classify(parsed)
        task = classification.task
        how = f"classified {task} {classification.confidence:.2f}"
    if snap.profile is None and snap.default_model in snap.known and not view.hints.needs:
        reason = f"{how}; default" if how else "default"
        return Explanation(Route(task, [snap.default_model], reason, "default"), classification)
    policy: Policy = view.hints.policy or snap.policy  # type: ignore[assignment]
    prompt = prompt_tokens(parsed)
    needs = needs_of(parsed, task, prompt)
    if view.hints.needs:
        needs = msgspec.structs.replace(needs, capabilities=view.hints.needs)
    special = needs.vision or needs.tools or needs.json or bool(needs.capabilities)
    cards = snap.cards(task, policy, special)
    live = {c.id: snap.live(c.id) for c in cards}
    cached = snap.cached(view)
    found = candidates(cards, task, snap.profile, live, needs.answer_tokens, prompt, cached)
    route, decision = choose(task, how, found, needs, policy, snap.settings, snap.max_candidates)
    return Explanation(route, classification, decision)
