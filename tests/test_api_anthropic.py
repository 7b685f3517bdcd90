"""Anthropic's Messages API end to end: the official `anthropic` SDK -> router -> a chat-only
fake upstream (the router translates both ways)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx
import pytest
from mlx_lm.utils import load_tokenizer

from tests.conftest import FAKE_MODELS, RunningRouter, backend_toml
from tests.fakes.upstream import FakeUpstream

HELLO = [{"role": "user", "content": "What is the capital of France?"}]
TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    }
]


@pytest.fixture
def claude(router: RunningRouter) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=router.root, api_key="unused", max_retries=0)


def test_message_non_streamed(claude: anthropic.Anthropic, fake: FakeUpstream) -> None:
    raw = claude.messages.with_raw_response.create(
        model="fast-model", max_tokens=50, system="Be brief.", messages=HELLO
    )
    message = raw.parse()
    assert raw.headers["x-router-model"] == "fast-model"
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "The capital of France is Paris."  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6 and message.usage.input_tokens > 0
    sent = fake.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["max_tokens"] == 50


def test_message_streamed(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="fast-model", max_tokens=50, messages=HELLO) as stream:
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    assert len(texts) == 6
    assert "".join(texts) == "The capital of France is Paris."
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6 and message.usage.input_tokens == 6


def test_max_tokens_is_the_stop_reason_when_cut(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(model="fast-model", max_tokens=2, messages=HELLO)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "The capital "  # type: ignore[union-attr]


def test_tool_use_round_trip(claude: anthropic.Anthropic, fake: FakeUpstream) -> None:
    call = {"id": "call_1", "type": "function"}
    call["function"] = {"name": "read_file", "arguments": '{"path": "a.txt"}'}  # type: ignore[assignment]
    answer = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "fast-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
    }
    fake.model("fast-model").body = json.dumps(answer).encode()
    first = claude.messages.create(
        model="fast-model",
        max_tokens=50,
        messages=HELLO,
        tools=TOOLS,  # type: ignore[arg-type]
    )
    assert first.stop_reason == "tool_use"
    use = first.content[0]
    assert use.type == "tool_use" and use.input == {"path": "a.txt"} and use.id == "call_1"
    assert fake.requests[-1].json["tools"][0]["function"]["parameters"]["type"] == "object"
    fake.model("fast-model").body = None
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "Paris"}
    second = claude.messages.create(
        model="fast-model",
        max_tokens=50,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[*HELLO, first.to_param(), {"role": "user", "content": [result]}],  # type: ignore[list-item]
    )
    assert second.stop_reason == "end_turn"
    sent = fake.requests[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "read_file"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "Paris"}


def test_x_api_key_is_accepted_when_keys_are_configured(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(
        '[server]\napi_keys = ["sk-right"]\n' + backend_toml("lmstudio", fake.base_url)
    )
    wrong = anthropic.Anthropic(base_url=router.root, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        wrong.messages.create(model="fast-model", max_tokens=5, messages=HELLO)
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    right = anthropic.Anthropic(base_url=router.root, api_key="sk-right", max_retries=0)
    assert right.messages.create(model="fast-model", max_tokens=5, messages=HELLO).content


def test_errors_in_anthropics_shape(claude: anthropic.Anthropic, router: RunningRouter) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-model", max_tokens=5, messages=HELLO)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(model="fast-model", max_tokens=5, messages=[])
    assert bad.value.body["type"] == "error"  # type: ignore[index]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    document = {"type": "document", "source": {"type": "text", "data": "x"}}
    body = {"model": "fast-model", "max_tokens": 5}
    body["messages"] = [{"role": "user", "content": [document]}]
    reply = httpx.post(router.root + "/v1/messages", json=body)
    assert reply.status_code == 400 and "document" in reply.json()["error"]["message"]


def test_failure_mid_stream_is_an_error_event(
    claude: anthropic.Anthropic, fake: FakeUpstream
) -> None:
    model = fake.model("fast-model")
    model.failure, model.fail_after_tokens = "drop", 2
    stream = claude.messages.stream(model="fast-model", max_tokens=50, messages=HELLO)
    with pytest.raises(anthropic.APIStatusError) as caught, stream as events:
        for _ in events.text_stream:
            pass
    assert caught.value.body["type"] == "error"  # type: ignore[index]


def test_count_tokens_estimates_for_upstream_models(claude: anthropic.Anthropic) -> None:
    raw = claude.messages.with_raw_response.count_tokens(model="fast-model", messages=HELLO)
    assert raw.headers["x-router-token-count"] == "estimate"
    assert raw.parse().input_tokens == len(HELLO[0]["content"]) // 3 + 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK knows the name is old
def test_claude_names_route_to_auto_through_a_glob_alias(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    config = backend_toml("lmstudio", fake.base_url)
    config += '[routing]\ndefault_model = "slow-model"\naliases = { "claude-*" = "auto" }\n'
    router = start_router(config)
    claude = anthropic.Anthropic(base_url=router.root, api_key="unused", max_retries=0)
    raw = claude.messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=20, messages=HELLO
    )
    assert raw.headers["x-router-model"] == "slow-model"
    assert raw.parse().content[0].text == "A slow but careful answer."  # type: ignore[union-attr]
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="gpt-4o", max_tokens=5, messages=HELLO)


def test_in_process_model_counts_exactly_and_streams(
    embedded_router: RunningRouter, embedded_model_path: Path
) -> None:
    claude = anthropic.Anthropic(base_url=embedded_router.root, api_key="unused", max_retries=0)
    raw = claude.messages.with_raw_response.count_tokens(
        model="smollm2", system="Be brief.", messages=HELLO
    )
    assert raw.headers["x-router-token-count"] == "exact"
    tokenizer = load_tokenizer(embedded_model_path)
    chat = [{"role": "system", "content": "Be brief."}, *HELLO]
    expected = len(tokenizer.apply_chat_template(chat, add_generation_prompt=True))
    assert raw.parse().input_tokens == expected
    with claude.messages.stream(
        model="smollm2", max_tokens=3, system="Be brief.", messages=HELLO
    ) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3
    cached = message.usage.cache_read_input_tokens or 0
    assert message.usage.input_tokens + cached == expected
    assert message.content[0].text  # type: ignore[union-attr]


FAKE_IDS = [m.id for m in FAKE_MODELS]
AGENT_TOOLS = [
    {"name": name, "description": name, "input_schema": {"type": "object", "properties": {}}}
    for name in ("read_file", "edit_file", "run_command")
]
AGENT_STEPS = [  # what the agent's model asks for, one tool at a time, then its last word
    ("read_file", {"path": "calc.py"}, "def add(a, b):\n    return a - b\n"),
    ("edit_file", {"path": "calc.py", "old": "a - b", "new": "a + b"}, "edited calc.py"),
    ("run_command", {"command": "pytest -q"}, "1 passed in 0.01s"),
]


def _tool_call_answer(step: int, name: str, arguments: dict) -> bytes:
    call = {"id": f"call_{step}", "type": "function"}
    call["function"] = {"name": name, "arguments": json.dumps(arguments)}  # type: ignore[assignment]
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    choice = {"index": 0, "finish_reason": "tool_calls", "message": message}
    usage = {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}
    answer = {"id": f"chatcmpl-{step}", "object": "chat.completion", "created": 0}
    return json.dumps({**answer, "model": "m", "choices": [choice], "usage": usage}).encode()


def test_a_multi_step_agent_session_stays_on_its_model(
    claude: anthropic.Anthropic, fake: FakeUpstream
) -> None:
    """Claude Code's loop, replayed: read a file, edit it, run the tests (one tool call a turn,
    each answered with a tool_result), then a last answer. Routed with `auto`, every step goes to
    the model that made the first call, in one session."""
    messages: list = [{"role": "user", "content": "The add test fails. Fix calc.py."}]
    models, sessions, reasons = set(), set(), []  # the sessions: each step's header
    for step, (name, arguments, result) in enumerate([*AGENT_STEPS, (None, None, None)]):
        for model in FAKE_IDS:
            fake.model(model).body = _tool_call_answer(step, name, arguments) if name else None
        raw = claude.messages.with_raw_response.create(
            model="auto",
            max_tokens=100,
            messages=messages,
            tools=AGENT_TOOLS,  # type: ignore[arg-type]
        )
        reply = raw.parse()
        models.add(raw.headers["x-router-model"])
        sessions.add(raw.headers.get("x-router-session"))
        reasons.append(raw.headers["x-router-reason"])
        if name is None:
            assert reply.stop_reason == "end_turn" and reply.content[0].type == "text"
            break
        assert reply.stop_reason == "tool_use"
        (use,) = reply.content
        assert use.type == "tool_use" and use.name == name and use.input == arguments
        done = {"type": "tool_result", "tool_use_id": use.id, "content": result}
        messages += [reply.to_param(), {"role": "user", "content": [done]}]
    assert len(models) == 1
    assert len(sessions) == 2 and None in sessions  # a first turn is no conversation yet
    assert all(r.startswith("tool loop: kept from turn 1") for r in reasons[1:]), reasons
    sent = fake.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", *["assistant", "tool"] * 3]
    calls = [m["tool_calls"][0]["function"]["name"] for m in sent if m["role"] == "assistant"]
    assert calls == ["read_file", "edit_file", "run_command"]
    assert [m["content"] for m in sent if m["role"] == "tool"] == [s[2] for s in AGENT_STEPS]
