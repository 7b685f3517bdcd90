"""Conversations end to end: the official SDK against a real router on loopback, the socket fake
upstream playing three models. A conversation stays on the model that answered it; a real task
change moves it; a tool loop stays on the model that made the call; a failure moves it, and it
stays where it moved. The headers say so, and the metrics count it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

# alpha summarizes best; on qa and style beta is a little better (not worth a switch), on code
# much better (worth one)
PROFILE = """schema_version = 1
kind = "measured"
[[models]]
id = "alpha"
[[models]]
id = "beta"
[[models]]
id = "gamma"
[tasks]
summarize = [
  { model = "alpha", quality = 0.85, latency_seconds = 1.0 },
  { model = "beta", quality = 0.6, latency_seconds = 1.0 },
  { model = "gamma", quality = 0.5, latency_seconds = 1.0 },
]
qa = [
  { model = "beta", quality = 0.73, latency_seconds = 1.0 },
  { model = "alpha", quality = 0.7, latency_seconds = 1.0 },
  { model = "gamma", quality = 0.5, latency_seconds = 1.0 },
]
style_rewrite = [
  { model = "beta", quality = 0.73, latency_seconds = 1.0 },
  { model = "alpha", quality = 0.7, latency_seconds = 1.0 },
  { model = "gamma", quality = 0.5, latency_seconds = 1.0 },
]
code = [
  { model = "beta", quality = 0.95, latency_seconds = 1.0 },
  { model = "alpha", quality = 0.4, latency_seconds = 1.0 },
  { model = "gamma", quality = 0.5, latency_seconds = 1.0 },
]
"""
ARTICLE = (
    "Summarize this article in three lines: The city council voted on Tuesday to expand the "
    "bike lane network by 40 km over five years, funded by a parking levy."
)
FOLLOW_UPS = [
    "Shorter, one line please.",
    "And what does the parking levy cost drivers?",
    "Can you add a sentence about the funding?",
    "Thanks. Now make it more formal.",
]
CODE = "Write a Python function that parses ISO dates and returns a datetime."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look up a fact.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


@pytest.fixture
def three() -> Iterator[FakeUpstream]:
    models = [
        FakeModel(m, answer=f"{m} answers.", capabilities=["tools"])
        for m in ("alpha", "beta", "gamma")
    ]
    with FakeUpstream(models) as fake:
        yield fake


@pytest.fixture
def routed(
    three: FakeUpstream, start_router: Callable[[str], RunningRouter], tmp_path: Path
) -> RunningRouter:
    profile = tmp_path / "three.toml"
    profile.write_text(PROFILE)
    config = backend_toml("lmstudio", three.base_url) + f'[routing]\nprofile = "{profile}"\n'
    return start_router(config)


def _ask(router: RunningRouter, messages: list[dict], **options: object) -> openai.APIResponse:
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)
    return client.chat.completions.with_raw_response.create(
        model="auto",
        messages=messages,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


def _turn(router: RunningRouter, history: list[dict], text: str, **options: object) -> dict:
    """Ask `text` after `history`; the answer joins the history. Returns the headers."""
    history.append({"role": "user", "content": text})
    raw = _ask(router, history, **options)
    history.append({"role": "assistant", "content": raw.parse().choices[0].message.content})
    return dict(raw.headers)


def test_a_five_turn_conversation_stays_on_its_model(routed: RunningRouter) -> None:
    history: list[dict] = [{"role": "system", "content": "You are a helpful assistant."}]
    first = _turn(routed, history, ARTICLE)
    assert first["x-router-model"] == "alpha"
    assert "x-router-session" not in first  # one turn: nothing says a conversation follows
    seen = []
    for text in FOLLOW_UPS:
        headers = _turn(routed, history, text)
        seen.append(headers["x-router-session"])
        assert headers["x-router-model"] == "alpha", headers["x-router-reason"]
        assert headers["x-router-reason"].startswith("kept from turn 1")
    assert len(set(seen)) == 1 and seen[0].startswith("c-")
    assert routed.metric("router_sessions") == 1
    assert routed.metric("router_session_switches_total") == 0


def test_the_followups_alone_would_go_elsewhere(routed: RunningRouter) -> None:
    """What the sessions change: the same follow-up on its own goes to beta."""
    alone = _ask(routed, [{"role": "user", "content": FOLLOW_UPS[1]}])
    assert alone.headers["x-router-model"] == "beta"


def test_a_clear_task_change_switches_the_model(routed: RunningRouter) -> None:
    history: list[dict] = []
    _turn(routed, history, ARTICLE, extra_headers={"x-session-id": "chat-42"})
    headers = _turn(routed, history, CODE, extra_headers={"x-session-id": "chat-42"})
    assert headers["x-router-session"] == "chat-42"
    assert headers["x-router-model"] == "beta"
    assert headers["x-router-reason"].startswith("switched: task changed to code")
    assert routed.metric("router_session_switches_total", reason="task") == 1
    after = _turn(routed, history, FOLLOW_UPS[0], extra_headers={"x-session-id": "chat-42"})
    assert after["x-router-model"] == "beta"  # qa: alpha is not clearly better than beta
    assert after["x-router-reason"].startswith("kept from turn 2")


def test_a_failure_moves_the_session_and_it_stays_moved(
    routed: RunningRouter, three: FakeUpstream
) -> None:
    history: list[dict] = []
    session = {"extra_headers": {"x-session-id": "s-fail"}}
    assert _turn(routed, history, ARTICLE, **session)["x-router-model"] == "alpha"
    three.model("alpha").failure, three.model("alpha").fail_times = "503", 1
    moved = _turn(routed, history, FOLLOW_UPS[0], **session)
    assert moved["x-router-model"] != "alpha"
    assert moved["x-router-reason"].startswith("moved: alpha failed")
    assert routed.metric("router_session_switches_total", reason="failure") == 1
    stayed = _turn(routed, history, FOLLOW_UPS[2], **session)  # alpha is well again
    assert stayed["x-router-model"] == moved["x-router-model"]
    assert stayed["x-router-reason"].startswith("kept from turn 2")


def test_a_tool_loop_stays_on_the_model_that_made_the_call(
    routed: RunningRouter, three: FakeUpstream
) -> None:
    question = [{"role": "user", "content": ARTICLE}]
    user = {"user": "user-7"}  # the client's user id names the conversation from its first turn
    three.model("alpha").failure, three.model("alpha").fail_times = "503", 1
    first = _ask(routed, question, tools=TOOLS, **user)  # alpha fails: gamma or beta calls
    caller = first.headers["x-router-model"]
    assert caller != "alpha"
    called = [*question, {"role": "assistant", "content": None, "tool_calls": [CALL]}]
    result = [*called, {"role": "tool", "tool_call_id": "call_1", "content": "40 km"}]
    for messages in (result, called):
        reply = _ask(routed, messages, tools=TOOLS, **user)
        assert reply.headers["x-router-model"] == caller
        assert reply.headers["x-router-reason"].startswith("tool loop: kept from turn 1")
    asked = [r.json["model"] for r in three.requests if r.path == "/v1/chat/completions"]
    assert asked == ["alpha", caller, caller, caller]


def test_two_routers_place_a_conversation_alike_without_sharing_state(
    three: FakeUpstream, start_router: Callable[[str], RunningRouter], tmp_path: Path
) -> None:
    """Behind a load balancer turns alternate between two routers; each places every turn
    where the other would, from the conversation alone."""
    profile = tmp_path / "three.toml"
    profile.write_text(PROFILE)
    config = backend_toml("lmstudio", three.base_url) + f'[routing]\nprofile = "{profile}"\n'
    routers = [start_router(config), start_router(config)]
    history: list[dict] = []
    turns = [ARTICLE, FOLLOW_UPS[0], FOLLOW_UPS[1], CODE, FOLLOW_UPS[2]]
    placed = [_turn(routers[i % 2], history, text) for i, text in enumerate(turns)]
    models = [h["x-router-model"] for h in placed]
    assert models == ["alpha", "alpha", "alpha", "beta", "beta"]
    assert len({h["x-router-session"] for h in placed[1:]}) == 1
    assert placed[3]["x-router-reason"].startswith("switched: task changed to code")


def test_router_route_reads_a_whole_conversation(three: FakeUpstream, tmp_path: Path) -> None:
    profile = tmp_path / "three.toml"
    profile.write_text(PROFILE)
    config = tmp_path / "router.toml"
    config.write_text(
        backend_toml("lmstudio", three.base_url) + f'[routing]\nprofile = "{profile}"\n'
    )
    conversation = tmp_path / "chat.json"
    answer = {"role": "assistant", "content": "The council backs more bike lanes."}
    messages = [{"role": "user", "content": ARTICLE}, answer]
    conversation.write_text(json.dumps([*messages, {"role": "user", "content": FOLLOW_UPS[1]}]))
    route = [sys.executable, "-m", "router", "route", "--config", str(config)]
    done = subprocess.run(
        [*route, "--messages-file", str(conversation)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "model:   alpha" in done.stdout
    assert "reason:  kept from turn 1" in done.stdout
    conversation.write_text(json.dumps([*messages, {"role": "user", "content": CODE}]))
    done = subprocess.run(
        [*route, "--messages-file", str(conversation)], capture_output=True, text=True, timeout=120
    )
    assert "model:   beta" in done.stdout
    assert "reason:  switched: task changed to code" in done.stdout
    conversation.write_text('[{"role": "nobody", "content": "hi"}]')
    done = subprocess.run(
        [*route, "--messages-file", str(conversation)], capture_output=True, text=True, timeout=120
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1 and lines[0].startswith("router: "), lines
