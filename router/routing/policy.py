"""Policy: which models may answer a request, and in which order. Pure functions, no I/O.

Two steps, each a pure function of plain values so that a table of cases tests it:

1. `filter_capable`: drop the models that cannot take this request at all (an image to a
   text-only model, tools to a model without tool calls, a prompt beyond the context, JSON to a
   model that ignores `response_format`), and those a profile says fail this task (quality
   under the floor, or failing too often). Each rejection says why.
2. `rank`: order the rest by the policy.
   - `quality`: best quality first; ties to the faster.
   - `latency`: fastest first, among the models at or above the quality floor.
   - `balanced`: a weighted sum of quality and speed, speed on a log scale relative to the
     fastest candidate (1.0 for the fastest, 0.5 for ten times slower, 0 for a hundred), so
     that a model twice as slow but much better can still win.
   With a latency target for the task, the models expected within it come first.

Expected time is the task's profiled latency, plus the model's load time when it is not
resident, plus the wait behind the requests already queued for it.
"""

from __future__ import annotations

import math

import msgspec

from router.tasks import Policy


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """One model as the policy sees it for one task: profile figures and live state."""

    model: str
    quality: float  # 0..1 on this task (from the profile, or a prior)
    latency_seconds: float  # expected end to end on this task when resident and idle
    failure_rate: float = 0.0
    load_seconds: float = 0.0
    resident: bool = True
    queued: int = 0  # requests waiting for or running on this model now
    capabilities: frozenset[str] = frozenset()  # "vision", "tools", "json"
    context_length: int | None = None
    measured: bool = True  # False when quality and latency are priors

    def expected_seconds(self) -> float:
        load = 0.0 if self.resident else self.load_seconds
        return self.latency_seconds * (1 + self.queued) + load


class Needs(msgspec.Struct, frozen=True, kw_only=True):
    """What the request asks of a model."""

    vision: bool = False
    tools: bool = False
    json: bool = False
    tokens: int = 0  # estimated prompt tokens plus max_tokens
    answer_tokens: int | None = None  # the most tokens the answer will have; None: unknown
    capped: bool = False  # that cap is the router's own (the client set no max_tokens)
    capabilities: tuple[str, ...] = ()  # named by the caller (`Hints.needs`)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    quality_floor: float = 0.3
    max_failure_rate: float = 0.5
    quality_weight: float = 0.75  # balanced: the weight of quality against speed
    latency_targets: dict[str, float] = {}  # task -> seconds


class Ranked(msgspec.Struct, frozen=True):
    model: str
    score: float
    expected_seconds: float
    why: str


class Rejected(msgspec.Struct, frozen=True):
    model: str
    why: str


class Decision(msgspec.Struct, frozen=True):
    ranked: list[Ranked]
    rejected: list[Rejected]


def filter_capable(
    candidates: list[Candidate], needs: Needs, settings: Settings
) -> tuple[list[Candidate], list[Rejected]]:
    """The candidates that can take the request, and why each of the others cannot."""
    kept: list[Candidate] = []
    rejected: list[Rejected] = []
    for c in candidates:
        why = _unfit(c, needs, settings)
        if why:
            rejected.append(Rejected(c.model, why))
        else:
            kept.append(c)
    return kept, rejected


_LACKS = {"responses": "does not serve the Responses API itself"}


def _unfit(c: Candidate, needs: Needs, settings: Settings) -> str | None:
    if needs.vision and "vision" not in c.capabilities:
        return "cannot read images"
    if needs.tools and "tools" not in c.capabilities:
        return "has no tool calls"
    if needs.json and "json" not in c.capabilities:
        return "does not honour response_format"
    for capability in needs.capabilities:
        if capability not in c.capabilities:
            return _LACKS.get(capability, f"has no {capability} capability")
    if c.context_length and needs.tokens > c.context_length:
        return f"context {c.context_length} < {needs.tokens} tokens"
    if c.quality < settings.quality_floor:
        return f"quality {c.quality:.2f} under the floor {settings.quality_floor:.2f}"
    if c.failure_rate > settings.max_failure_rate:
        return f"fails {c.failure_rate:.0%} of the time"
    return None


def rank(
    task: str,
    candidates: list[Candidate],
    needs: Needs,
    policy: Policy,
    settings: Settings,
) -> Decision:
    """The capable candidates in the policy's order, best first, with why each is where."""
    kept, rejected = filter_capable(candidates, needs, settings)
    if not kept:
        return Decision([], rejected)
    fastest = min(c.expected_seconds() for c in kept) or 1e-9
    target = settings.latency_targets.get(task)
    scored = [_score(c, policy, settings, fastest) for c in kept]
    scored.sort(key=lambda r: (_late(r, target), -r.score, r.expected_seconds, r.model))
    return Decision(scored, rejected)


def _late(ranked: Ranked, target: float | None) -> bool:
    return target is not None and ranked.expected_seconds > target


def _score(c: Candidate, policy: Policy, settings: Settings, fastest: float) -> Ranked:
    expected = c.expected_seconds()
    speed = max(0.0, 1.0 - math.log10(max(expected / fastest, 1.0)) / 2)
    if policy == "quality":
        score = c.quality
    elif policy == "latency":
        score = speed
    else:
        w = settings.quality_weight
        score = w * c.quality + (1 - w) * speed
    state = "" if c.resident else f", +{c.load_seconds:.1f}s load"
    queue = f", {c.queued} queued" if c.queued else ""
    prior = "" if c.measured else " (prior)"
    why = f"quality {c.quality:.2f}{prior}, ~{expected:.1f}s{state}{queue}"
    return Ranked(c.model, round(score, 4), round(expected, 3), why)
