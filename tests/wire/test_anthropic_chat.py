"""Anthropic Messages <-> chat completions, both ways, as tables (no server)."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types as types
import pydantic
import pytest

from router.errors import InvalidRequest
from router.wire.anthropic import decode_count, decode_messages, error_body
from router.wire.anthropic_chat import chat_body, stop_reason, to_message
from router.wire.anthropic_stream import MessageStream

IMAGE = {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}
USE = {"type": "tool_use", "id": "t1", "name": "ls", "input": {"dir": "."}}


def _chat(**request: Any) -> dict[str, Any]:
    request = {"model": "m", "max_tokens": 9, **request}
    return chat_body(decode_messages(json.dumps(request).encode()), stream=False)


@pytest.mark.parametrize(
    ("request_", "messages"),
    [
        (
            {"system": "S", "messages": [{"role": "user", "content": "hi"}]},
            [{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}],
        ),
        (
            {
                "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
            },
            [{"role": "system", "content": "A\nB"}, {"role": "user", "content": "x"}],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": IMAGE}]},
                ]
            },
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}}
                    ],
                }
            ],
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "list"},
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "thinking", "thinking": "hmm", "signature": "s"},
                            {"type": "text", "text": "Listing."},
                            USE,
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t1",
                                "content": [{"type": "text", "text": "a.txt"}],
                            },
                            {"type": "text", "text": "and now?"},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t2",
                                "content": "no such",
                                "is_error": True,
                            }
                        ],
                    },
                ]
            },
            [
                {"role": "user", "content": "list"},
                {
                    "role": "assistant",
                    "content": "Listing.",
                    "tool_calls": [
                        {
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "ls", "arguments": '{"dir": "."}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "t1", "content": "a.txt"},
                {"role": "user", "content": "and now?"},
                {"role": "tool", "tool_call_id": "t2", "content": "Error: no such"},
            ],
        ),
    ],
)
def test_messages_become_chat_messages(request_: dict, messages: list) -> None:
    assert _chat(**request_)["messages"] == messages


def test_settings_tools_and_tool_choice_become_chats() -> None:
    tool = {"name": "ls", "description": "List", "input_schema": {"type": "object"}}
    body = _chat(
        messages=[{"role": "user", "content": "hi"}],
        tools=[tool],
        tool_choice={"type": "tool", "name": "ls", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        temperature=0.5,
        top_k=40,
        metadata={"user_id": "u1"},
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "ls", "parameters": {"type": "object"}, "description": "List"},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "ls"}}
    assert body["parallel_tool_calls"] is False
    assert (body["stop"], body["temperature"], body["top_k"], body["user"]) == (
        ["END"],
        0.5,
        40,
        "u1",
    )
    assert body["max_tokens"] == 9 and "stream" not in body
    assert body["chat_template_kwargs"] == {"enable_thinking": True}


@pytest.mark.parametrize(
    ("thinking", "switch"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, True),
        ({"type": "adaptive"}, True),
        ({"type": "disabled"}, False),
        ({"type": "something-new"}, None),
        ("odd", None),
        (None, None),
    ],
)
def test_thinking_is_the_chat_templates_switch(thinking: object, switch: bool | None) -> None:
    extra = {} if thinking is None else {"thinking": thinking}
    body = _chat(messages=[{"role": "user", "content": "hi"}], **extra)
    assert body.get("chat_template_kwargs", {}).get("enable_thinking") == switch
    assert (
        _chat(messages=[{"role": "user", "content": "x"}], tool_choice={"type": "any"})[
            "tool_choice"
        ]
        == "required"
    )
    streamed = chat_body(
        decode_messages(b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}'),
        stream=True,
    )
    assert streamed["stream_options"] == {"include_usage": True}
    counted = chat_body(decode_count(b'{"model":"m","messages":[{"role":"user","content":"x"}]}'))
    assert "max_tokens" not in counted


def test_misplaced_blocks_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="assistant"):
        _chat(messages=[{"role": "user", "content": [USE]}])
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "x"}
    with pytest.raises(InvalidRequest, match="assistant message"):
        _chat(messages=[{"role": "assistant", "content": [result]}])


@pytest.mark.parametrize(
    ("finish", "matched", "tools", "expected"),
    [
        ("stop", None, False, ("end_turn", None)),
        ("length", None, False, ("max_tokens", None)),
        ("tool_calls", None, True, ("tool_use", None)),
        ("stop", None, True, ("tool_use", None)),  # some servers say stop after a call
        ("stop", "END", False, ("stop_sequence", "END")),
        ("stop", 128009, False, ("end_turn", None)),  # a stop token, not a sequence
        ("content_filter", None, False, ("end_turn", None)),  # the loop guard's cut
    ],
)
def test_stop_reasons(finish: str, matched: Any, tools: bool, expected: tuple) -> None:
    assert stop_reason(finish, matched, tools, ["END"]) == expected


def _answer(message: dict, finish: str, **choice: Any) -> bytes:
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    usage["prompt_tokens_details"] = {"cached_tokens": 4}  # type: ignore[assignment]
    first = {"index": 0, "message": message, "finish_reason": finish, **choice}
    return json.dumps({"id": "c1", "choices": [first], "usage": usage}).encode()


def test_whole_answers_become_messages_the_sdk_reads() -> None:
    call = {"id": "k", "type": "function", "function": {"name": "ls", "arguments": '{"a": 1}'}}
    body = _answer(
        {"role": "assistant", "content": "Hi", "reasoning_content": "think", "tool_calls": [call]},
        "tool_calls",
    )
    message = types.Message.model_validate_json(to_message(body, "m", []))
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[2].input == {"a": 1}  # type: ignore[union-attr]
    assert (message.stop_reason, message.model, message.id) == ("tool_use", "m", "msg_c1")
    # 7 prompt tokens, 4 of them from the cache: Anthropic counts those apart
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 3)
    assert message.usage.cache_read_input_tokens == 4
    stopped = types.Message.model_validate_json(
        to_message(_answer({"content": "x"}, "stop", stop_reason="END"), "m", ["END"])
    )
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "END")


def _sse(chunk: dict) -> bytes:
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _delta(delta: dict, finish: str | None = None) -> bytes:
    return _sse({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def _events(raw: bytes) -> list[Any]:
    """The SSE bytes as the SDK's typed events (each validated against its model)."""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(types.RawMessageStreamEvent)
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame:
            continue
        name, data = frame.split("\n")
        assert name.startswith("event: ")
        value = json.loads(data.removeprefix("data: "))
        assert value["type"] == name.removeprefix("event: ")
        out.append(value if value["type"] in ("ping", "error") else adapter.validate_python(value))
    return out


def test_a_stream_becomes_anthropics_events() -> None:
    stream = MessageStream("m", [])
    call = {
        "index": 0,
        "id": "k",
        "type": "function",
        "function": {"name": "ls", "arguments": '{"a"'},
    }
    more = {"index": 0, "function": {"arguments": ": 1}"}}
    usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    raw = stream.start() + b"".join(
        stream.feed(chunk)
        for chunk in (
            _delta({"role": "assistant", "reasoning_content": "hm"}),
            _delta({"content": "He"}),
            _delta({"content": "llo"}),
            _delta({"tool_calls": [call]}),
            _delta({"tool_calls": [more]}, "tool_calls"),
            b": router: a comment\n\n",
            _sse({"choices": [], "usage": usage}) + b"data: [DONE]\n\n",
        )
    )
    raw += stream.end()  # after [DONE]: nothing more
    kinds = [(e["type"] if isinstance(e, dict) else e.type) for e in _events(raw)]
    assert kinds == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    events = _events(raw)
    assert [e.index for e in events if getattr(e, "type", "") == "content_block_start"] == [0, 1, 2]
    assert events[9].content_block.type == "tool_use" and events[9].content_block.id == "k"
    assert events[10].delta.partial_json + events[11].delta.partial_json == '{"a": 1}'
    closing = events[13]
    assert closing.delta.stop_reason == "tool_use"
    assert (closing.usage.output_tokens, closing.usage.input_tokens) == (4, 5)


def test_an_error_event_ends_the_stream() -> None:
    stream = MessageStream("m", [])
    error = {"error": {"message": "queue full", "type": "x", "code": "rate_limit_exceeded"}}
    raw = stream.start() + stream.feed(_delta({"content": "a"})) + stream.feed(_sse(error))
    raw += stream.end()
    last = _events(raw)[-1]
    assert last == {"type": "error", "error": {"type": "rate_limit_error", "message": "queue full"}}


@pytest.mark.parametrize(
    ("status", "sent", "kind"),
    [
        (400, 400, "invalid_request_error"),
        (401, 401, "authentication_error"),
        (404, 404, "not_found_error"),
        (413, 413, "request_too_large"),
        (429, 429, "rate_limit_error"),
        (502, 502, "api_error"),
        (503, 529, "overloaded_error"),
        (504, 504, "timeout_error"),
    ],
)
def test_error_bodies(status: int, sent: int, kind: str) -> None:
    code, body = error_body(status, "why")
    assert code == sent
    assert json.loads(body) == {"type": "error", "error": {"type": kind, "message": "why"}}
