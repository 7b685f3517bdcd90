"""Routing (pure): name resolution, what a request needs, candidates from a profile, the choice."""

from __future__ import annotations

import msgspec
import pytest

from router.errors import InvalidRequest, ModelNotFound, NoCapableModel, NoModelAvailable
from router.profiles import load_profile
from router.routing.decide import (
    Hints,
    Live,
    Route,
    Virtual,
    candidates,
    choose,
    needs_of,
    resolve,
    virtual_ids,
)
from router.routing.policy import Needs, Settings
from router.wire import ModelCard, decode_chat, decode_completion
from tests import REPO

KNOWN = ["gemma", "lfm"]
ALIASES = {"gpt-4o": "gemma"}
M4 = REPO / "profiles" / "examples" / "m4-mac-mini-24gb.toml"


@pytest.mark.parametrize(
    ("name", "hints", "expected"),
    [
        ("lfm", Hints(), Route("none", ["lfm"], "direct")),
        ("lfm", Hints(task="code"), Route("code", ["lfm"], "direct")),
        ("gpt-4o", Hints(), Route("none", ["gemma"], "alias of gemma", "alias")),
        ("auto", Hints(), Virtual(None, "")),
        ("auto", Hints(task="story"), Virtual("story", "x-router-task")),
        ("router/summarize", Hints(), Virtual("summarize", "model")),
        ("router/summarize", Hints(task="code"), Virtual("code", "x-router-task")),
        ("router/summarize", Hints(policy="latency"), Virtual("summarize", "model")),
    ],
)
def test_resolve(name: str, hints: Hints, expected: Route | Virtual) -> None:
    assert resolve(name, hints, known=KNOWN, aliases=ALIASES) == expected


@pytest.mark.parametrize(
    ("name", "hints", "error"),
    [
        ("nope", Hints(), ModelNotFound),
        ("router/juggling", Hints(), ModelNotFound),
        ("auto", Hints(task="juggling"), InvalidRequest),
        ("auto", Hints(policy="cheapest"), InvalidRequest),
    ],
)
def test_resolve_errors(name: str, hints: Hints, error: type) -> None:
    with pytest.raises(error):
        resolve(name, hints, known=KNOWN, aliases=ALIASES)


def test_user_tasks_are_routing_targets() -> None:
    tasks = ("qa", "recipe")
    assert resolve("router/recipe", Hints(), known=KNOWN, aliases={}, tasks=tasks) == Virtual(
        "recipe", "model"
    )
    assert "router/recipe" in virtual_ids(tasks)


def _chat(**fields: object) -> bytes:
    return msgspec.json.encode({"model": "auto", **fields})


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_chat(messages=[{"role": "user", "content": "hi"}]), Needs(tokens=256)),
        (
            _chat(
                messages=[{"role": "user", "content": [{"type": "text", "text": "what?"}, IMAGE]}],
                max_tokens=10,
            ),
            Needs(vision=True, tokens=11),
        ),
        (
            _chat(
                messages=[{"role": "user", "content": "x" * 3000}],
                tools=[{"type": "function"}],
                response_format={"type": "json_object"},
                max_tokens=100,
            ),
            Needs(tools=True, json=True, tokens=1100),
        ),
        (
            _chat(messages=[{"role": "user", "content": "x"}], response_format={"type": "text"}),
            Needs(tokens=256),
        ),
    ],
)
def test_needs_of_chat(body: bytes, expected: Needs) -> None:
    assert needs_of(decode_chat(body)) == expected


def test_needs_of_completion() -> None:
    parsed = decode_completion(b'{"model": "auto", "prompt": ["abc", "def"], "max_tokens": 5}')
    assert needs_of(parsed) == Needs(tokens=7)


M4_CARDS = [
    ModelCard("liquid/lfm2.5-1.2b"),
    ModelCard("google/gemma-3-12b"),
    ModelCard("zai-org/glm-4.6v-flash", capabilities=["vision"]),
    ModelCard("new-model", size_bytes=2_000_000_000),
]


def test_candidates_take_the_profile_and_fall_back_to_priors() -> None:
    found = {c.model: c for c in candidates(M4_CARDS, "summarize", load_profile(M4), {})}
    assert found["liquid/lfm2.5-1.2b"].quality == 0.7 and found["liquid/lfm2.5-1.2b"].measured
    assert found["zai-org/glm-4.6v-flash"].failure_rate == 0.7
    assert "vision" in found["zai-org/glm-4.6v-flash"].capabilities
    assert not found["new-model"].measured and 0.4 < found["new-model"].quality <= 0.8


def test_live_state_enters_the_candidates() -> None:
    live = {"google/gemma-3-12b": Live(outstanding=2, drift=2.0)}
    found = {c.model: c for c in candidates(M4_CARDS, "summarize", load_profile(M4), live)}
    gemma = found["google/gemma-3-12b"]
    assert gemma.queued == 2 and gemma.latency_seconds == pytest.approx(2 * 14.3)


def test_choose_makes_a_route_with_a_reason() -> None:
    found = candidates(M4_CARDS, "business_mail", load_profile(M4), {})
    route, _ = choose(
        "business_mail",
        "classified business_mail 0.91",
        found,
        Needs(),
        "quality",
        Settings(),
        limit=2,
    )
    assert route.candidates == ["google/gemma-3-12b", "new-model"]
    assert route.reason.startswith("classified business_mail 0.91; quality: quality 0.90")


def test_choose_explains_when_no_model_can_answer() -> None:
    found = candidates(M4_CARDS[:2], "qa", load_profile(M4), {})
    with pytest.raises(NoCapableModel, match="cannot read images"):
        choose("qa", "", found, Needs(vision=True), "quality", Settings(), limit=3)
    with pytest.raises(NoModelAvailable):
        choose("qa", "", [], Needs(), "quality", Settings(), limit=3)


def test_the_shortlist_bounds_what_a_request_weighs() -> None:
    from router.routing.decide import SHORTLIST, shortlist

    many = M4_CARDS + [ModelCard(f"extra-{i}", size_bytes=(i + 1) * 10**8) for i in range(30)]
    picked = shortlist(many, "business_mail", load_profile(M4), "quality", Settings())
    assert len(picked) == SHORTLIST
    assert picked[0].id == "google/gemma-3-12b"
    assert "zai-org/glm-4.6v-flash" not in [c.id for c in picked]
    assert shortlist(M4_CARDS, "qa", load_profile(M4), "quality", Settings()) == M4_CARDS
