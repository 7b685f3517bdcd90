"""Routing's expected time counts the prompt's reading, less what the model's prompt cache
holds: `candidates(..., prompt, cached)` as a table, then `decide` with a snapshot whose
`cached` read says a warm model holds the conversation."""

from __future__ import annotations

import msgspec
import pytest

from router.profiles import SCHEMA_VERSION, ModelProfile, Profile, TaskScore
from router.routing.classifier import Classification
from router.routing.decide import (
    Hints,
    Live,
    RequestView,
    Snapshot,
    candidates,
    decide,
    needs_of,
    prompt_tokens,
)
from router.routing.policy import Settings
from router.tasks import TASKS
from router.wire import ChatRequest, ModelCard, decode_chat

MEASURED = ModelProfile("m", ttft_seconds=0.5, decode_tokens_per_s=50.0, prompt_tokens_per_s=1000.0)
PROFILE = Profile(
    schema_version=SCHEMA_VERSION, models=[MEASURED], tasks={"qa": [TaskScore("m", 0.8, 4.0)]}
)
GB = 1_000_000_000

LATENCY = [
    # (name, card, answer tokens, prompt tokens, cached for the card, expected seconds)
    # m: first 0.5 s + 100 tokens at 50/s = 2.5 s (under the task's 4.0 s); prompt 1000/s
    ("a short prompt: the profiled first token covers it", "m", 100, 300, 0, 2.5),
    ("a long prompt read whole: 3.0 s - 0.5 s more", "m", 100, 3000, 0, 5.0),
    ("the same prompt, cached but its new turn", "m", 100, 3000, 2900, 2.5),
    ("half cached: 1.0 s - 0.5 s more", "m", 100, 3000, 2000, 3.0),
    ("a stale estimate above the prompt reads nothing", "m", 100, 3000, 9000, 2.5),
    ("no answer cap: the task's 4.0 s plus the reading", "m", None, 3000, 0, 6.5),
    # unprofiled, 1 GB: first 0.5 s, 60 tokens/s, prompt 600 tokens/s (priors from the size)
    ("unprofiled: the priors, 2.0 s - 0.5 s more", "new", 60, 1200, 0, 3.0),
    ("unprofiled, cached", "new", 60, 1200, 1100, 1.5),
]


@pytest.mark.parametrize(
    ("card", "answer", "prompt", "cached", "expected"),
    [c[1:] for c in LATENCY],
    ids=[c[0] for c in LATENCY],
)
def test_latency_counts_only_the_uncached_prompt(
    card: str, answer: int | None, prompt: int, cached: int, expected: float
) -> None:
    cards = [ModelCard(card, size_bytes=GB)]
    found = candidates(cards, "qa", PROFILE, {}, answer, prompt, {card: cached})
    assert found[0].latency_seconds == pytest.approx(expected)


def test_without_a_prompt_the_latency_is_as_before() -> None:
    """The shortlist and the session step call `candidates` without a prompt."""
    cards = [ModelCard("m")]
    assert candidates(cards, "qa", PROFILE, {}, 100)[0].latency_seconds == 2.5


def test_the_prompt_is_estimated_from_characters() -> None:
    parsed = conversation(3000)
    assert prompt_tokens(parsed) == (3000 + len("ok") + len("and now?")) // 3
    assert (
        needs_of(parsed, "qa", 7).tokens
        == needs_of(parsed, "qa").tokens - prompt_tokens(parsed) + 7
    )


# two models, equal quality; remote decodes faster, both read 500 prompt tokens a second
TWO = Profile(
    schema_version=SCHEMA_VERSION,
    models=[
        ModelProfile("local", ttft_seconds=0.5, decode_tokens_per_s=50, prompt_tokens_per_s=500),
        ModelProfile("remote", ttft_seconds=0.5, decode_tokens_per_s=100, prompt_tokens_per_s=500),
    ],
    tasks={"qa": [TaskScore("local", 0.8, 9.0), TaskScore("remote", 0.8, 9.0)]},
)


def conversation(chars: int) -> ChatRequest:
    messages = [
        {"role": "user", "content": "x" * chars},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"},
    ]
    body = {"model": "auto", "messages": messages, "max_tokens": 50}
    return decode_chat(msgspec.json.encode(body))


def snapshot(cached: dict[str, int], asked: list[RequestView]) -> Snapshot:
    def read(view: RequestView) -> dict[str, int]:
        asked.append(view)
        return cached

    cards = [ModelCard("local"), ModelCard("remote")]
    return Snapshot(
        known=["local", "remote"],
        aliases={},
        tasks=TASKS,
        profile=TWO,
        settings=Settings(),
        policy="latency",
        max_candidates=2,
        default_model=None,
        cards=lambda task, policy, special: cards,
        live=lambda model: Live(),
        classify=lambda parsed: Classification("qa", 1.0, {"qa": 1.0}),
        cached=read,
    )


DECIDE = [
    # (name, chars of the conversation, cached per model, expected first candidate)
    # 6000 chars ~ 2000 tokens, 4 s to read: local 1.5 + 3.5, remote 1.0 + 3.5
    ("nothing cached: the faster decoder", 6000, {}, "remote"),
    ("local holds the conversation: it wins by the re-read", 6000, {"local": 1990}, "local"),
    ("a short conversation: the cache saves nothing", 300, {"local": 95}, "remote"),
    ("the cache on the model that is ahead anyway", 6000, {"remote": 1990}, "remote"),
]


@pytest.mark.parametrize(
    ("chars", "cached", "expected"), [c[1:] for c in DECIDE], ids=[c[0] for c in DECIDE]
)
def test_decide_prefers_the_warm_model(chars: int, cached: dict[str, int], expected: str) -> None:
    asked: list[RequestView] = []
    view = RequestView("auto", Hints(), conversation(chars))
    explained = decide(view, snapshot(cached, asked))
    assert explained.route.candidates[0] == expected
    assert asked == [view]  # read once a request, not once a candidate


def test_a_concrete_model_does_not_read_the_cache() -> None:
    asked: list[RequestView] = []
    decide(RequestView("local", Hints(), conversation(6000)), snapshot({}, asked))
    assert asked == []
