"""The OpenAI shapes (`router.wire`): the user's text of a request, read one way for the
classifier, the answer checks and the in-process models, and the answers' shapes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from router.routing.classifier_cache import load_default_classifier
from router.wire import (
    Completion,
    TextChoice,
    Usage,
    content_text,
    decode_chat,
    decode_chunk,
    decode_completion,
    object_kind,
    user_turn,
)

IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
CHAT: list[dict[str, Any]] = [
    {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
    {"role": "user", "content": "What is the capital of Japan?"},
    {"role": "assistant", "content": "Tokyo."},
    {"role": "user", "content": [IMAGE, {"type": "text", "text": "And this one?"}]},
    {"role": "user", "content": [{"type": "input_text", "text": "Be brief."}]},
]


def chat(messages: list[dict[str, Any]]) -> bytes:
    return msgspec.json.encode({"model": "auto", "messages": messages})


def test_the_user_turn_is_the_trailing_user_messages_and_the_system_prompt() -> None:
    want = ("Answer in French.", "And this one?\nBe brief.")
    assert user_turn(CHAT) == want  # plain JSON
    parsed = decode_chat(chat(CHAT))
    assert parsed.user_turn() == want  # decoded: the same function, the same answer
    assert user_turn(parsed) == want
    assert user_turn(parsed.messages) == want


def test_the_last_user_text_is_the_last_user_message_wherever_it_stands() -> None:
    parsed = decode_chat(chat([*CHAT, {"role": "assistant", "content": "Oui."}]))
    assert parsed.last_user_text() == "Be brief."
    # a trailing assistant message is passed over: the user turn before it counts
    assert parsed.user_turn()[1] == "And this one?\nBe brief."
    assert decode_chat(chat([{"role": "system", "content": "x"}])).last_user_text() == ""


@pytest.mark.parametrize(
    ("prompt", "turn", "last"),
    [("Hello", "Hello", "Hello"), (["one", "two"], "one\ntwo", "two"), ([], "", "")],
)
def test_a_text_completion_is_one_user_turn(prompt: Any, turn: str, last: str) -> None:
    parsed = decode_completion(msgspec.json.encode({"model": "m", "prompt": prompt}))
    assert parsed.user_turn() == ("", turn) == user_turn(parsed)
    assert parsed.last_user_text() == last


def test_content_text_keeps_text_parts_only() -> None:
    parts = [IMAGE, {"type": "text", "text": "a"}, {"type": "refusal", "text": "no"}, "b"]
    assert content_text(parts) == "a\nb"
    assert content_text({"type": "text", "text": "one part"}) == "one part"
    assert content_text(None) == content_text(42) == ""
    message = decode_chat(chat([{"role": "user", "content": parts[:3]}])).messages[0]
    assert message.text() == "a"  # the decoded message reads its text the same way


def test_the_classifier_reads_a_request_as_its_messages() -> None:
    clf = load_default_classifier()
    messages = [{"role": "user", "content": "Translate into English: 今日はいい天気ですね。"}]
    parsed = decode_chat(chat(messages))
    assert clf.classify(parsed) == clf.classify(messages)
    assert clf.classify(parsed).task == "translate"


def test_answers_are_written_in_openai_shapes() -> None:
    body = Completion(
        "cmpl-1", object_kind(False, False), 1, "m", [TextChoice(0, "hi", "stop")], Usage(1, 1, 2)
    )
    got = msgspec.json.decode(msgspec.json.encode(body))
    assert got["object"] == "text_completion" and got["choices"][0]["text"] == "hi"
    assert object_kind(True, True) == "chat.completion.chunk"
    assert object_kind(True, False) == "chat.completion"


def test_a_chunk_says_whether_it_calls_a_tool() -> None:
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    with_call = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
    assert decode_chunk(msgspec.json.encode(with_call)).has_tool_calls()
    text = {"choices": [{"index": 0, "delta": {"content": "x"}}]}
    assert not decode_chunk(msgspec.json.encode(text)).has_tool_calls()


def test_decoded_messages_encode_back_to_valid_json() -> None:
    """A message without tool calls leaves the field out, never an empty raw value (which
    would write `"tool_calls":}`); one with them keeps them byte for byte."""
    body = (
        b'{"model":"m","messages":[{"role":"user","content":"hi"},'
        b'{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function"}]}]}'
    )
    messages = decode_chat(body).messages
    again = msgspec.json.decode(msgspec.json.encode(messages))
    assert again == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]},
    ]
