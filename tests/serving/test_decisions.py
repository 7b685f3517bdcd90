"""What routing is told a prompt cache holds (`Snapshot.cached`, an estimate read without
tokenizing): a conversation remembered on an in-process model that is loaded and holds cached
prompts holds everything but its new turn; otherwise nothing. A fake backend, no sockets."""

from __future__ import annotations

import msgspec
import pytest

from router.config import MLXBackendConfig, RoutingConfig, SessionsConfig
from router.metrics import Metrics
from router.routing.decide import Hints, RequestView
from router.routing.sessions import identify, turn_of
from router.serving.catalog import Catalog
from router.serving.decisions import Decisions
from router.serving.sessions import Sessions
from router.wire import ChatRequest, ModelCard, decode_chat
from router.wire.models import PromptCacheInfo
from tests.fakes.backend import FakeBackend, Script

SYSTEM = "You are a careful assistant. " * 20  # 580 characters
MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Summarize the plan."},
    {"role": "assistant", "content": "The plan, in short: build, test, ship."},
    {"role": "user", "content": "Shorter?"},
]


class Cached(FakeBackend):
    """An in-process backend's cards: its model's state and its prompt cache as given."""

    state = "loaded"
    entries = 1

    def listed(self) -> list[ModelCard]:
        cache = PromptCacheInfo(bytes=10**6, entries=self.entries, longest=250)
        return [ModelCard(m, state=self.state, prompt_cache=cache) for m in self.scripts]


def chat(messages: list[dict[str, str]]) -> ChatRequest:
    return decode_chat(msgspec.json.encode({"model": "auto", "messages": messages}))


async def setup(state: str, entries: int, sessions: bool = True) -> tuple[Decisions, Sessions]:
    backend = Cached("local", {"m": Script()})
    backend.state, backend.entries = state, entries
    catalog = Catalog()
    catalog.add(backend, MLXBackendConfig(name="local"))  # type: ignore[arg-type]
    await catalog.refresh()
    metrics = Metrics()
    decisions = Decisions(RoutingConfig(), catalog, metrics)
    return decisions, Sessions(SessionsConfig(enabled=sessions), decisions, metrics)


WHOLE = turn_of(chat(MESSAGES))
HELD = WHOLE.prompt_tokens - WHOLE.new_tokens  # all but "Shorter?"

CASES = [
    # (name, model state, cache entries, remembered on, sessions on, messages, expected)
    (
        "remembered on the warm model: all but the new turn",
        "loaded",
        1,
        "m",
        True,
        MESSAGES,
        {"m": HELD},
    ),
    ("not remembered", "loaded", 1, None, True, MESSAGES, {}),
    ("remembered on another model", "loaded", 1, "other", True, MESSAGES, {}),
    ("the model was unloaded: its cache went", "on disk", 1, "m", True, MESSAGES, {}),
    ("the cache holds nothing", "loaded", 0, "m", True, MESSAGES, {}),
    ("sessions off: nothing is remembered", "loaded", 1, "m", False, MESSAGES, {}),
    ("a first turn is no conversation", "loaded", 1, "m", True, MESSAGES[:2], {}),
]


@pytest.mark.parametrize(
    ("state", "entries", "on", "enabled", "messages", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
async def test_what_routing_is_told_the_cache_holds(
    state: str,
    entries: int,
    on: str | None,
    enabled: bool,
    messages: list[dict[str, str]],
    expected: dict[str, int],
) -> None:
    decisions, sessions = await setup(state, entries, enabled)
    parsed = chat(messages)
    named = identify({}, parsed) or identify({}, chat(MESSAGES))
    assert named is not None
    if on is not None:
        sessions.store.put(named.id, on, "summarize", 1)
    view = RequestView("auto", Hints(), parsed)
    assert decisions.snapshot().cached(view) == expected
    assert HELD > 190  # the system prompt and the first exchange, ~3 characters a token
