"""The policy (pure): capability filters and ranking, on tables and on the M4 example profile."""

from __future__ import annotations

import pytest

from router.profiles import load_profile
from router.routing.policy import Candidate, Needs, Settings, filter_capable, rank
from router.tasks import TASKS
from tests import REPO

SETTINGS = Settings()
M4 = REPO / "profiles" / "examples" / "m4-mac-mini-24gb.toml"


def cand(model: str, quality: float, seconds: float, **kw: object) -> Candidate:
    return Candidate(model=model, quality=quality, latency_seconds=seconds, **kw)  # type: ignore[arg-type]


SMALL = cand("small", 0.6, 2.0)
BIG = cand("big", 0.9, 20.0)
MID = cand("mid", 0.75, 8.0)
BAD = cand("bad", 0.2, 1.0)
FLAKY = cand("flaky", 0.8, 3.0, failure_rate=0.7)


@pytest.mark.parametrize(
    ("policy", "candidates", "expected"),
    [
        ("quality", [SMALL, BIG, MID], ["big", "mid", "small"]),
        ("latency", [SMALL, BIG, MID], ["small", "mid", "big"]),
        ("balanced", [SMALL, BIG, MID], ["big", "mid", "small"]),
        ("balanced", [cand("quick", 0.7, 2.0), cand("slow", 0.75, 20.0)], ["quick", "slow"]),
        ("quality", [SMALL, BAD, FLAKY], ["small"]),
        ("latency", [BAD, FLAKY, BIG], ["big"]),
        # a cold model pays its load time; a busy one the wait behind its queue
        (
            "latency",
            [cand("cold", 0.7, 1.0, resident=False, load_seconds=10), SMALL],
            ["small", "cold"],
        ),
        ("latency", [cand("busy", 0.7, 1.0, queued=3), cand("idle", 0.7, 3.0)], ["idle", "busy"]),
        ("quality", [cand("a", 0.8, 5.0), cand("b", 0.8, 4.0)], ["b", "a"]),
    ],
)
def test_rank_orders_by_policy(
    policy: str, candidates: list[Candidate], expected: list[str]
) -> None:
    decision = rank("qa", candidates, Needs(), policy, SETTINGS)  # type: ignore[arg-type]
    assert [r.model for r in decision.ranked] == expected


def test_latency_target_puts_models_within_it_first() -> None:
    settings = Settings(latency_targets={"summarize": 10.0})
    decision = rank("summarize", [BIG, MID, SMALL], Needs(), "quality", settings)
    assert [r.model for r in decision.ranked] == ["mid", "small", "big"]


@pytest.mark.parametrize(
    ("needs", "candidate", "why"),
    [
        (Needs(vision=True), cand("text", 0.9, 1), "cannot read images"),
        (Needs(tools=True), cand("plain", 0.9, 1), "has no tool calls"),
        (Needs(json=True), cand("loose", 0.9, 1), "does not honour response_format"),
        (
            Needs(capabilities=("responses",)),
            cand("chat-only", 0.9, 1, capabilities=frozenset({"tools"})),
            "does not serve the Responses API itself",
        ),
        (Needs(capabilities=("audio",)), cand("mute", 0.9, 1), "has no audio capability"),
        (
            Needs(tokens=9000),
            cand("short", 0.9, 1, context_length=8192),
            "context 8192 < 9000 tokens",
        ),
        (Needs(), BAD, "quality 0.20 under the floor 0.30"),
        (Needs(), FLAKY, "fails 70% of the time"),
    ],
)
def test_filters_say_why(needs: Needs, candidate: Candidate, why: str) -> None:
    kept, rejected = filter_capable([candidate], needs, SETTINGS)
    assert kept == [] and [r.why for r in rejected] == [why]


def test_capable_models_pass_the_filters() -> None:
    able = cand(
        "vl", 0.8, 1, capabilities=frozenset({"vision", "tools", "json"}), context_length=32768
    )
    kept, _ = filter_capable(
        [able], Needs(vision=True, tools=True, json=True, tokens=9000), SETTINGS
    )
    assert kept == [able]
    passes = cand("up", 0.8, 1, capabilities=frozenset({"responses"}))
    assert filter_capable([passes], Needs(capabilities=("responses",)), SETTINGS)[0] == [passes]


def _m4_candidates(task: str) -> list[Candidate]:
    profile = load_profile(M4)
    out = []
    for score in profile.tasks[task]:
        model = profile.model(score.model)
        assert model is not None
        caps = frozenset({"vision"}) if model.capabilities.vision else frozenset()
        out.append(
            cand(
                score.model,
                score.quality,
                score.latency_seconds or 0.0,
                failure_rate=score.failure_rate,
                capabilities=caps,
            )
        )
    return out


@pytest.mark.parametrize(
    ("task", "policy", "chosen"),
    [
        ("summarize", "latency", "liquid/lfm2.5-1.2b"),
        ("summarize", "balanced", "liquid/lfm2.5-1.2b"),
        ("business_mail", "quality", "google/gemma-3-12b"),
        ("business_mail", "balanced", "google/gemma-3-12b"),
        ("style_rewrite", "quality", "llama-3.1-swallow-8b-instruct-v0.5"),
        ("explain_simple", "latency", "liquid/lfm2.5-1.2b"),
        ("explain_simple", "balanced", "liquid/lfm2.5-1.2b"),
        ("qa", "balanced", "qwen/qwen3-vl-8b"),
    ],
)
def test_m4_example_profile_routes_as_the_seed_author_would(
    task: str, policy: str, chosen: str
) -> None:
    decision = rank(task, _m4_candidates(task), Needs(), policy, SETTINGS)  # type: ignore[arg-type]
    assert decision.ranked[0].model == chosen


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("policy", ["quality", "latency", "balanced"])
def test_m4_example_never_routes_to_glm(task: str, policy: str) -> None:
    decision = rank(task, _m4_candidates(task), Needs(), policy, SETTINGS)  # type: ignore[arg-type]
    assert "zai-org/glm-4.6v-flash" not in [r.model for r in decision.ranked]
    assert "zai-org/glm-4.6v-flash" in [r.model for r in decision.rejected]


def test_m4_images_go_to_a_vision_model_that_works() -> None:
    decision = rank("qa", _m4_candidates("qa"), Needs(vision=True), "quality", SETTINGS)
    assert [r.model for r in decision.ranked] == ["qwen/qwen3-vl-8b"]
