"""The answer checks (`router.routing.guards.answer_problem`): what they find, and that their cost
is
bounded by what they read (an answer's head and tail), whatever the answer's size or shape."""

from __future__ import annotations

import base64
import os
import time

import msgspec
import pytest

from router.routing.guards import EDGE_BYTES, answer_problem, excerpt
from router.wire import ChatRequest

ASK = b'{"model": "m", "messages": [{"role": "user", "content": "Sum it up."}]}'
ASK_JSON = ASK[:-1] + b', "response_format": {"type": "json_object"}}'


def _parsed(raw: bytes = ASK) -> ChatRequest:
    return msgspec.json.decode(raw, type=ChatRequest)


def _body(content: object, finish: str = "stop", **extra: object) -> bytes:
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "finish_reason": finish}
    return msgspec.json.encode({"id": "x", "choices": [choice], **extra})


def _prose(size: int) -> str:
    """`size` characters of words that never repeat (random letters)."""
    letters = base64.b64encode(os.urandom(size)).translate(None, b"+/=0123456789")
    words = b" ".join(letters[i : i + 6] for i in range(0, len(letters), 6))
    return ("Here is the answer. " + words.decode())[:size]


def _nested(depth: int) -> str:
    """JSON nested `depth` deep, in no repeating pattern."""
    return "".join(f'["{word}",' for word in _prose(6 * depth).split()[:depth])


@pytest.mark.parametrize(
    ("content", "raw", "expected"),
    [
        ("Paris is the capital of France.", ASK, None),
        ("", ASK, "empty"),
        (None, ASK, "empty"),
        ("The subject line. " * 200, ASK, "loop"),
        ("<think>hmm</think> Paris.", ASK, "leaked_reasoning"),
        ('{"a": 1}', ASK_JSON, None),
        ("not json at all", ASK_JSON, "invalid_json"),
        (_nested(7_000), ASK_JSON, "invalid_json"),  # deeper than the decoder goes
        ("这是中文的回答，不是英文。" * 3, ASK, "wrong_language"),
        ([{"type": "text", "text": "parts"}], ASK, None),  # content parts: not judged
    ],
)
def test_answer_problem(content: object, raw: bytes, expected: str | None) -> None:
    assert answer_problem("qa", _body(content), _parsed(raw)) == expected


def test_a_long_answer_is_judged_by_its_head_and_tail() -> None:
    middle = _prose(3 * 2**20)
    assert answer_problem("qa", _body(middle), _parsed()) is None
    looping = middle + " It goes round. " * 400
    assert answer_problem("qa", _body(looping), _parsed()) == "loop"
    leaked = "<think>first</think> " + middle
    assert answer_problem("qa", _body(leaked), _parsed()) == "leaked_reasoning"
    fenced = "```json\n{" + middle + "}\n```"
    assert answer_problem("qa", _body(fenced), _parsed(ASK_JSON)) is None
    assert answer_problem("qa", _body(middle), _parsed(ASK_JSON)) == "invalid_json"


def test_excerpt_cuts_through_escapes_and_multibyte_characters() -> None:
    text = 'é"\\ü\n日本' * 20_000
    token = msgspec.json.decode(msgspec.json.encode([text]), type=list[msgspec.Raw])[0]
    found = excerpt(token)
    assert found is not None and not found.whole
    assert text.startswith(found.head[:-8]) and text.endswith(found.tail[8:])
    assert EDGE_BYTES // 4 < len(found.head) <= EDGE_BYTES


def test_the_cost_does_not_grow_with_the_answer() -> None:
    def seconds(size: int) -> float:
        body = _body(_prose(size))
        start = time.perf_counter()
        assert answer_problem("qa", body, _parsed()) is None
        return time.perf_counter() - start

    small, large = (
        min(seconds(200_000) for _ in range(3)),
        min(seconds(30 * 2**20) for _ in range(3)),
    )
    assert large < 3 * small + 0.05, (
        f"{small * 1000:.0f} ms for 200 kB, {large * 1000:.0f} ms for 30 MiB"
    )


@pytest.mark.parametrize(
    "shape",
    [
        "`" * 64_000,
        "!" * 64_000,
        "ok" + " " * 64_000 + "x",
        "~" * 64_000 + "\n",
        "[" * 64_000,
        "".join(f"```{i}`\n" for i in range(8_000)),
        "".join(f"ユーザーは{i}" for i in range(8_000)),
    ],
    ids=["backticks", "punctuation", "spaces", "tildes", "nesting", "bad fences", "preambles"],
)
def test_hostile_shapes_are_checked_quickly(shape: str) -> None:
    start = time.perf_counter()
    answer_problem("qa", _body(shape * 8), _parsed(ASK_JSON))
    assert time.perf_counter() - start < 0.5
