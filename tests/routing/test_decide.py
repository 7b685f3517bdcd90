"""`decide(view, snapshot)`, routing's one entry point, as a table: a few cards, a profile and
hints in, a route out. No server: the snapshot's reads are plain functions."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest

from router.errors import InvalidRequest, ModelNotFound, NoCapableModel
from router.profiles import SCHEMA_VERSION, Profile, TaskScore
from router.routing.classifier import Classification
from router.routing.decide import Hints, Live, RequestView, Route, Snapshot, decide
from router.routing.policy import Settings
from router.tasks import TASKS, Policy
from router.wire import ChatRequest, CompletionRequest, EmbeddingRequest, ModelCard, decode_chat

CARDS = [
    ModelCard("fast"),
    ModelCard("smart"),
    ModelCard("eyes", capabilities=["vision"]),
    ModelCard("agent", capabilities=["tools", "json"]),
]
PROFILE = Profile(
    schema_version=SCHEMA_VERSION,
    tasks={
        "code": [
            TaskScore("smart", 0.9, 20.0),
            TaskScore("agent", 0.7, 10.0),
            TaskScore("eyes", 0.6, 10.0),
            TaskScore("fast", 0.5, 2.0),
        ],
        "summarize": [TaskScore("fast", 0.8, 2.0), TaskScore("smart", 0.85, 20.0)],
    },
)
CODE = Classification("code", 0.93, {"code": 0.93, "qa": 0.07})
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@dataclass
class Reads:
    """The snapshot's reads, recording how decide called them."""

    live: dict[str, Live] = field(default_factory=dict)
    cards_asked: list[tuple[str, Policy, bool]] = field(default_factory=list)
    classified: int = 0

    def cards(self, task: str, policy: Policy, special: bool) -> list[ModelCard]:
        self.cards_asked.append((task, policy, special))
        return CARDS

    def classify(self, parsed: ChatRequest | CompletionRequest) -> Classification:
        self.classified += 1
        return CODE

    def snapshot(self, **changes: object) -> Snapshot:
        base = Snapshot(
            known=[c.id for c in CARDS],
            aliases={"gpt-4o": "smart"},
            tasks=TASKS,
            profile=PROFILE,
            settings=Settings(),
            policy="balanced",
            max_candidates=2,
            default_model=None,
            cards=self.cards,
            live=lambda model: self.live.get(model, Live()),
            classify=self.classify,
        )
        return msgspec.structs.replace(base, **changes)


def chat(text: str = "reverse a linked list", **fields: object) -> ChatRequest:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}], **fields}
    return decode_chat(msgspec.json.encode(body))


NO_PROFILE = {"profile": None, "default_model": "fast"}


@pytest.mark.parametrize(
    ("model", "hints", "parsed", "changes", "expected"),
    [
        ("fast", Hints(), chat(), {}, Route("none", ["fast"], "direct", "direct")),
        ("fast", Hints(task="code"), chat(), {}, Route("code", ["fast"], "direct", "direct")),
        ("gpt-4o", Hints(), chat(), {}, Route("none", ["smart"], "alias of smart", "alias")),
        (  # classified; balanced: smart 0.675 + 0.25 * 0.5 beats agent's 0.525 + 0.25 * 0.65
            "auto",
            Hints(),
            chat(),
            {},
            Route(
                "code",
                ["smart", "agent"],
                "classified code 0.93; balanced: quality 0.90, ~20.0s",
                "balanced",
                800,
            ),
        ),
        (  # named by the model id; the models the profile does not score get priors
            "router/summarize",
            Hints(),
            chat(),
            {},
            Route(
                "summarize",
                ["fast", "smart"],
                "model; balanced: quality 0.80, ~2.0s",
                "balanced",
                320,
            ),
        ),
        (  # the header's task wins over the model id's, and over the classifier
            "router/code",
            Hints(task="summarize"),
            chat(),
            {},
            Route(
                "summarize",
                ["fast", "smart"],
                "x-router-task; balanced: quality 0.80, ~2.0s",
                "balanced",
                320,
            ),
        ),
        (  # no profile: the default model, after classifying
            "auto",
            Hints(),
            chat(),
            NO_PROFILE,
            Route("code", ["fast"], "classified code 0.93; default", "default"),
        ),
        (
            "router/qa",
            Hints(),
            chat(),
            NO_PROFILE,
            Route("qa", ["fast"], "model; default", "default"),
        ),
        (  # a profile is active: the policy decides, the default model does not
            "router/code",
            Hints(),
            chat(),
            {"default_model": "fast"},
            Route(
                "code", ["smart", "agent"], "model; balanced: quality 0.90, ~20.0s", "balanced", 800
            ),
        ),
        (  # the policy's override: fastest first; agent and eyes tie, by name
            "router/code",
            Hints(policy="latency"),
            chat(),
            {},
            Route("code", ["fast", "agent"], "model; latency: quality 0.50, ~2.0s", "latency", 800),
        ),
        (  # the quality policy from the snapshot (the config's)
            "router/code",
            Hints(),
            chat(),
            {"policy": "quality", "max_candidates": 3},
            Route(
                "code",
                ["smart", "agent", "eyes"],
                "model; quality: quality 0.90, ~20.0s",
                "quality",
                800,
            ),
        ),
        (  # the client's max_tokens: the router sets no cap of its own
            "router/code",
            Hints(),
            chat(max_tokens=50),
            {},
            Route("code", ["smart", "agent"], "model; balanced: quality 0.90, ~4.7s", "balanced"),
        ),
    ],
)
def test_decide(
    model: str, hints: Hints, parsed: ChatRequest, changes: dict[str, object], expected: Route
) -> None:
    reads = Reads()
    explained = decide(RequestView(model, hints, parsed), reads.snapshot(**changes))
    assert explained.route == expected
    classified = model == "auto" and hints.task is None
    assert reads.classified == int(classified)
    assert (explained.classification == CODE) is classified
    assert (explained.decision is not None) is (
        expected.basis in ("quality", "latency", "balanced")
    )


@pytest.mark.parametrize(
    ("fields", "only"),
    [
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, IMAGE]}]},
            "eyes",
        ),
        ({"tools": [TOOL]}, "agent"),
        ({"response_format": {"type": "json_object"}}, "agent"),
    ],
)
def test_special_needs_weigh_every_model_and_filter(fields: dict[str, object], only: str) -> None:
    reads = Reads()
    explained = decide(RequestView("router/code", Hints(), chat(**fields)), reads.snapshot())
    assert explained.route.candidates == [only]
    assert reads.cards_asked == [("code", "balanced", True)]
    assert explained.decision is not None and len(explained.decision.rejected) == 3


def test_the_shortlist_is_asked_for_the_task_and_policy() -> None:
    reads = Reads()
    decide(RequestView("auto", Hints(policy="quality"), chat()), reads.snapshot())
    assert reads.cards_asked == [("code", "quality", False)]


def test_live_load_and_drift_move_the_choice() -> None:
    reads = Reads(live={"smart": Live(outstanding=9)})  # 200s expected: speed 0 against fast's 2s
    explained = decide(RequestView("router/code", Hints(), chat()), reads.snapshot())
    assert explained.route.candidates == ["agent", "smart"]
    reads = Reads(live={"agent": Live(drift=4.0)})  # agent 40s: fast, now second, was third
    explained = decide(RequestView("router/code", Hints(), chat()), reads.snapshot())
    assert explained.route.candidates == ["smart", "fast"]


@pytest.mark.parametrize(
    ("model", "hints", "parsed", "error", "match"),
    [
        ("nope", Hints(), chat(), ModelNotFound, "does not exist here"),
        ("router/juggling", Hints(), chat(), ModelNotFound, "names no task"),
        ("auto", Hints(task="juggling"), chat(), InvalidRequest, "x-router-task"),
        ("auto", Hints(policy="cheapest"), chat(), InvalidRequest, "x-router-policy"),
        (
            "auto",
            Hints(),
            EmbeddingRequest(model="auto", input="hi"),
            InvalidRequest,
            "Embeddings need a concrete model id.",
        ),
        ("router/code", Hints(), chat(tools=[TOOL], response_format={"type": "text"}), None, None),
    ],
)
def test_decide_errors(
    model: str, hints: Hints, parsed: object, error: type | None, match: str | None
) -> None:
    view = RequestView(model, hints, parsed)  # type: ignore[arg-type]
    if error is None:  # the control: the same snapshot decides a request it can take
        assert decide(view, Reads().snapshot()).route.candidates == ["agent"]
        return
    with pytest.raises(error, match=match):
        decide(view, Reads().snapshot())


def test_no_capable_model_says_why() -> None:
    text_only = Reads()
    snap = text_only.snapshot(known=["fast", "smart"], cards=lambda *_: CARDS[:2])
    parsed = chat(messages=[{"role": "user", "content": [IMAGE]}])
    with pytest.raises(NoCapableModel, match="cannot read images"):
        decide(RequestView("router/qa", Hints(), parsed), snap)


def test_an_embedding_to_a_concrete_id_is_routed() -> None:
    parsed = EmbeddingRequest(model="fast", input="hi")
    explained = decide(RequestView("fast", Hints(), parsed), Reads().snapshot())
    assert explained.route == Route("none", ["fast"], "direct", "direct")
