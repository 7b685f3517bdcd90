"""OpenAI Responses <-> chat completions, both ways, as tables (no server). Every Response and
every stream event produced is validated with the `openai` SDK's own models."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response as SDKResponse
from openai.types.responses import ResponseInputItem, ResponseStreamEvent

from router.errors import InvalidRequest
from router.wire import decode_chat
from router.wire.responses import (
    ResponsesRequest,
    check_translatable,
    decode_request,
    encode,
    untranslatable,
)
from router.wire.responses_chat import (
    assistant_message,
    chat_body,
    chat_messages,
    input_items,
    skeleton,
    stored_items,
    to_response,
)
from router.wire.responses_stream import ResponseStream

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
INPUT_ITEM = pydantic.TypeAdapter(ResponseInputItem)
CALL = {"type": "function_call", "call_id": "c1", "name": "ls", "arguments": '{"d": "."}'}
TOOL = {"type": "function", "name": "ls", "parameters": {"type": "object"}}
LS_CALL = {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": '{"d": "."}'}}


def _request(**fields: Any) -> ResponsesRequest:
    return decode_request(json.dumps({"model": "m", "input": "hi", **fields}).encode())


def _body(**fields: Any) -> dict[str, Any]:
    request = _request(**fields)
    return chat_body(request, chat_messages(input_items(request)))


@pytest.mark.parametrize(
    ("input_", "messages"),
    [
        ("hi", [{"role": "user", "content": "hi"}]),
        (
            [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "x"}],
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}],
        ),
        (
            [
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": "data:image/png;base64,QUJD"},
                    ],
                }
            ],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                    ],
                }
            ],
        ),
        (  # an earlier answer, its call and the call's output: one assistant message, one tool
            [
                {"role": "user", "content": "list"},
                {
                    "type": "message",
                    "role": "assistant",
                    "id": "msg_1",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}],
                },
                CALL,
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
            ],
            [
                {"role": "user", "content": "list"},
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [LS_CALL],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
            ],
        ),
        (  # a call with no message before it; an output given as parts with an image
            [
                CALL,
                {
                    "type": "function_call_output",
                    "call_id": "c1",
                    "output": [
                        {"type": "input_text", "text": "seen"},
                        {"type": "input_image", "image_url": "http://x/y.png", "detail": "low"},
                    ],
                },
            ],
            [
                {"role": "assistant", "content": None, "tool_calls": [LS_CALL]},
                {"role": "tool", "tool_call_id": "c1", "content": "seen"},
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "http://x/y.png", "detail": "low"},
                        }
                    ],
                },
            ],
        ),
    ],
)
def test_input_as_chat_messages(input_: Any, messages: list[dict[str, Any]]) -> None:
    assert chat_messages(input_items(_request(input=input_))) == messages


def test_settings_carry_over_to_the_chat_body() -> None:
    body = _body(
        instructions="Be brief.",
        tools=[TOOL],
        tool_choice={"type": "function", "name": "ls"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        max_output_tokens=7,
        temperature=0.5,
        top_p=0.9,
        metadata={"session_id": "s1"},
        user="u1",
    )
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["tools"] == [
        {"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "ls"}}
    assert body["parallel_tool_calls"] is False
    schema = {"name": "out", "schema": {"type": "object"}}
    assert body["response_format"] == {"type": "json_schema", "json_schema": schema}
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (7, 0.5, 0.9)
    assert body["metadata"] == {"session_id": "s1"} and body["user"] == "u1"
    assert "stream" not in body


@pytest.mark.parametrize(
    ("fields", "key", "value"),
    [
        ({"text": {"format": {"type": "json_object"}}}, "response_format", {"type": "json_object"}),
        ({"text": {"format": {"type": "text"}}}, "response_format", None),
        ({"tool_choice": "required", "tools": [TOOL]}, "tool_choice", "required"),
    ],
)
def test_formats_and_choices(fields: dict[str, Any], key: str, value: Any) -> None:
    assert _body(**fields).get(key) == value


def test_a_stream_asks_for_usage() -> None:
    request = _request(stream=True)
    body = chat_body(request, chat_messages(input_items(request)), stream=True)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("fields", "param", "named"),
    [
        ({"tools": [TOOL, {"type": "web_search"}]}, "tools[1].type", "web_search"),
        (
            {"tools": [{"type": "file_search", "vector_store_ids": []}]},
            "tools[0].type",
            "file_search",
        ),
        ({"tool_choice": {"type": "mcp", "server_label": "x"}}, "tool_choice", "mcp"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "item_reference"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f1"}]}]},
            "input[0].content[0].image_url",
            "file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f1"}]}]},
            "input[0].content[0].type",
            "input_file",
        ),
        (
            {"input": [{"type": "computer_call_output", "call_id": "c"}]},
            "input[0].type",
            "computer",
        ),
    ],
)
def test_what_chat_cannot_express_is_named(fields: dict[str, Any], param: str, named: str) -> None:
    request = _request(**fields)
    message = untranslatable(request)
    assert message is not None and named in message
    with pytest.raises(InvalidRequest) as caught:
        check_translatable(request)
    assert caught.value.param == param and caught.value.status == 400


def test_translatable_requests_pass() -> None:
    assert untranslatable(_request(tools=[TOOL], input=[CALL])) is None


@pytest.mark.parametrize(
    ("input_", "param"),
    [
        ([{"role": "robot", "content": "x"}], "input[0].role"),
        ([{"type": "function_call", "name": "ls"}], "input[0]"),
    ],
)
def test_malformed_items_are_400s_naming_where(input_: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        input_items(_request(input=input_))
    assert caught.value.param == param


# --- answers -----------------------------------------------------------------------------------


def _chat_answer(message: dict[str, Any], finish: str = "stop", **usage: Any) -> bytes:
    answer = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14, **usage},
    }
    return json.dumps(answer).encode()


def _validated(response: Any) -> SDKResponse:
    return SDKResponse.model_validate_json(encode(response))


@pytest.mark.parametrize(
    ("message", "finish", "status", "types", "reason"),
    [
        ({"content": "Paris."}, "stop", "completed", ["message"], None),
        ({"content": "The capital"}, "length", "incomplete", ["message"], "max_output_tokens"),
        (
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "ls", "arguments": "{}"},
                    }
                ],
            },
            "tool_calls",
            "completed",
            ["function_call"],
            None,
        ),
        (
            {"content": "ok", "reasoning_content": "think"},
            "stop",
            "completed",
            ["reasoning", "message"],
            None,
        ),
    ],
)
def test_whole_answers(
    message: dict[str, Any], finish: str, status: str, types: list[str], reason: str | None
) -> None:
    request = _request(tools=[TOOL])
    response = to_response(_chat_answer(message, finish), skeleton(request, "resp_1", "m"))
    sdk = _validated(response)
    assert sdk.status == status and [i.type for i in sdk.output] == types
    assert (sdk.incomplete_details.reason if sdk.incomplete_details else None) == reason
    assert sdk.usage is not None and (sdk.usage.input_tokens, sdk.usage.output_tokens) == (10, 4)
    if "function_call" in types:
        call = sdk.output[0]
        assert (
            call.type == "function_call" and call.call_id == "call_9" and call.id.startswith("fc_")
        )  # type: ignore[union-attr]
        assert assistant_message(response) == {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
            ],
        }
    if status == "incomplete":
        assert sdk.output[0].status == "incomplete"  # type: ignore[union-attr]


def test_cached_tokens_are_reported() -> None:
    body = _chat_answer({"content": "x"}, prompt_tokens_details={"cached_tokens": 6})
    sdk = _validated(to_response(body, skeleton(_request(), "resp_1", "m")))
    assert sdk.usage is not None and sdk.usage.input_tokens_details.cached_tokens == 6


def test_the_skeleton_echoes_the_request() -> None:
    request = _request(
        instructions="I", metadata={"a": "b"}, max_output_tokens=5, store=False, tools=[TOOL]
    )
    sdk = _validated(skeleton(request, "resp_1", "m"))
    assert (sdk.instructions, sdk.metadata, sdk.max_output_tokens) == ("I", {"a": "b"}, 5)
    assert sdk.tools[0].type == "function" and sdk.status == "in_progress"
    assert json.loads(encode(skeleton(request, "resp_1", "m")))["store"] is False
    fmt = _request(text={"format": {"type": "json_object"}})
    assert json.loads(encode(skeleton(fmt, "resp_1", "m")))["text"] == {
        "format": {"type": "json_object"}
    }


def test_stored_items_have_ids_and_validate() -> None:
    request = _request(
        input=[
            {"role": "user", "content": "x"},
            CALL,
            {"type": "function_call_output", "call_id": "c1", "output": "y"},
        ]
    )
    items = stored_items(request)
    assert [i["id"][:3] for i in items] == ["msg", "fc_", "fco"]
    assert items[0]["content"] == [{"type": "input_text", "text": "x"}]
    for item in items:
        INPUT_ITEM.validate_python(item)
    assert stored_items(_request())[0]["content"] == [{"type": "input_text", "text": "hi"}]


# --- streams -----------------------------------------------------------------------------------


def _sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def _delta(finish: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}


def _events(stream: ResponseStream, *pieces: bytes, end: bool = True) -> list[Any]:
    raw = stream.start() + b"".join(stream.feed(p) for p in pieces) + (stream.end() if end else b"")
    events = []
    for block in raw.split(b"\n\n"):
        if not block:
            continue
        name, data = block.split(b"\n")
        event = EVENTS.validate_json(data[len(b"data: ") :])
        assert name == b"event: " + event.type.encode()
        events.append(event)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events


TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


@pytest.mark.parametrize(
    ("finish", "last", "status"),
    [("stop", "response.completed", "completed"), ("length", "response.incomplete", "incomplete")],
)
def test_text_stream_events_in_order(finish: str, last: str, status: str) -> None:
    stream = ResponseStream(skeleton(_request(), "resp_1", "m"))
    chunks = _sse(
        _delta(role="assistant", content="Hello "), _delta(content="there."), _delta(finish), USAGE
    )
    events = _events(stream, chunks)
    assert [e.type for e in events] == [*TEXT_EVENTS, last]
    assert events[6].text == "Hello there."
    final = events[-1].response
    assert final.status == status and final.output_text == "Hello there."
    assert final.usage.output_tokens == 3 and final.output[0].status == events[8].item.status
    assert stream.done is not None and stream.done.status == status


def test_tool_call_stream() -> None:
    stream = ResponseStream(skeleton(_request(tools=[TOOL]), "resp_1", "m"))
    first = {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "ls", "arguments": ""},
    }
    second = {"index": 1, "id": "call_b", "function": {"name": "cat", "arguments": '{"f"'}}
    chunks = _sse(
        _delta(content="Looking."),
        _delta(tool_calls=[first]),
        _delta(tool_calls=[{"index": 0, "function": {"arguments": '{"d": "."}'}}]),
        _delta(tool_calls=[second]),
        _delta(tool_calls=[{"index": 1, "function": {"arguments": ': "a"}'}}]),
        _delta("tool_calls"),
        USAGE,
    )
    events = _events(stream, chunks)
    types = [e.type for e in events]
    assert types[2:8] == TEXT_EVENTS[2:5] + TEXT_EVENTS[6:]
    assert types[8:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[10].arguments == '{"d": "."}' and events[15].arguments == '{"f": "a"}'
    final = events[-1].response
    calls = [(i.call_id, i.name, i.arguments) for i in final.output[1:]]
    assert calls == [("call_a", "ls", '{"d": "."}'), ("call_b", "cat", '{"f": "a"}')]
    assert [i.output_index for i in events if i.type == "response.output_item.done"] == [0, 1, 2]


def test_reasoning_stream() -> None:
    stream = ResponseStream(skeleton(_request(), "resp_1", "m"))
    events = _events(
        stream, _sse(_delta(reasoning_content="hmm"), _delta(content="ok"), _delta("stop"))
    )
    types = [e.type for e in events]
    assert types[2:7] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
    ]
    assert [i.type for i in events[-1].response.output] == ["reasoning", "message"]


def test_an_error_event_fails_the_response() -> None:
    stream = ResponseStream(skeleton(_request(), "resp_1", "m"))
    error = {
        "error": {
            "message": "upstream dropped",
            "type": "server_error",
            "code": "backend_unavailable",
        }
    }
    events = _events(stream, _sse(_delta(content="Hel"), error, done=False))
    assert events[-1].type == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error"
    assert failed.error.message == "upstream dropped"
    assert stream.done is None and stream.end() == b""


def test_a_stream_cut_by_the_loop_guard_is_incomplete() -> None:
    stream = ResponseStream(skeleton(_request(), "resp_1", "m"))
    cut = b": router: the loop guard cut a repeating answer\n\n" + _sse(_delta("content_filter"))
    events = _events(stream, _sse(_delta(content="again "), done=False), cut, end=False)
    final = events[-1].response
    assert final.status == "incomplete" and final.incomplete_details.reason == "content_filter"


# --- bad input: a 400, never anything else -----------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
KINDS = st.sampled_from(["message", "function_call", "function_call_output", "reasoning", "x"])
TEXT = st.text(max_size=5)
PART = st.sampled_from(
    [
        {"type": "input_text", "text": "t"},
        {"type": "input_image", "image_url": "http://x/i.png"},
        {"type": "input_image", "file_id": "f"},
        {"type": "output_text", "text": "o", "annotations": []},
        {"type": "refusal", "refusal": "no"},
        {"type": "input_file", "file_id": "f"},
    ]
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "developer", "system"]),
        "content": TEXT | st.lists(PART, max_size=3),
    },
    optional={"type": st.just("message")},
)
CALL_ITEM = st.fixed_dictionaries(
    {"type": st.just("function_call"), "call_id": TEXT, "name": TEXT, "arguments": TEXT}
)
OUTPUT_ITEM = st.fixed_dictionaries(
    {
        "type": st.just("function_call_output"),
        "call_id": TEXT,
        "output": TEXT | st.lists(PART, max_size=2),
    }
)
VALID = MESSAGE | CALL_ITEM | OUTPUT_ITEM | st.just({"type": "reasoning", "summary": []})


@st.composite
def items(draw: st.DrawFn) -> Any:
    """A well-formed item, sometimes with one field replaced by junk or its type changed."""
    item = dict(draw(VALID))
    if draw(st.booleans()):
        item[draw(st.sampled_from(sorted(item)) | st.just("type"))] = draw(JUNK | KINDS)
    return item


REQUEST = st.fixed_dictionaries(
    {"model": st.just("m"), "input": TEXT | st.lists(items() | JUNK, max_size=5)},
    optional={
        "tools": st.lists(st.sampled_from([TOOL, {"type": "web_search"}]) | JUNK, max_size=2),
        "tool_choice": st.sampled_from(["auto", "required", "x", {"type": "function"}]) | JUNK,
        "text": st.fixed_dictionaries({"format": st.fixed_dictionaries({"type": KINDS})}) | JUNK,
        "instructions": TEXT | JUNK,
        "metadata": st.dictionaries(TEXT, TEXT, max_size=2) | JUNK,
    },
)


@settings(max_examples=300, deadline=None)
@given(REQUEST)
def test_random_requests_translate_or_are_400s(raw: dict[str, Any]) -> None:
    try:
        request = decode_request(json.dumps(raw).encode())
    except msgspec.ValidationError:
        return  # a 400 naming the field (api_generation.decode_body)
    try:
        check_translatable(request)
        messages = chat_messages(input_items(request))
        body = chat_body(request, messages, stream=True)
    except InvalidRequest:
        return
    if messages:  # none: a 400 in api_responses
        decode_chat(encode(body))  # the chat path reads what it is given


def test_an_unreadable_chunk_fails_the_response() -> None:
    stream = ResponseStream(skeleton(_request(), "resp_1", "m"))
    odd = _delta(tool_calls=[{"index": "first"}])  # the relay does not read tool calls
    events = _events(stream, _sse(_delta(content="Hel"), odd, _delta("stop")))
    assert (
        events[-1].type == "response.failed" and "unreadable" in events[-1].response.error.message
    )
    assert [e.type for e in events].count("response.failed") == 1
