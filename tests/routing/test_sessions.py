"""routing.sessions, table by table: naming a conversation, reading a turn, the cost of a
switch, and whether a turn stays on its model. Pure: no server, no clock."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from router.routing.policy import Candidate, Needs, Settings
from router.routing.sessions import (
    MAX_ID,
    Prior,
    Turn,
    follow,
    identify,
    prompt_speed,
    reread_seconds,
    stable_hash,
    turn_of,
    worth_switching,
)
from router.wire import decode_chat

SYSTEM = {"role": "system", "content": "Be brief."}
U1 = {"role": "user", "content": "Summarize: the council voted for bike lanes."}
A1 = {"role": "assistant", "content": "The council backs bike lanes."}
U2 = {"role": "user", "content": "Shorter."}
CALL = {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]}
RESULT = {"role": "tool", "tool_call_id": "c", "content": "40 km"}


def chat(*messages: dict, **fields: Any) -> Any:
    return decode_chat(msgspec.json.encode({"model": "auto", "messages": messages, **fields}))


CONVERSATION = "c-" + stable_hash("", "Be brief.", U1["content"])


@pytest.mark.parametrize(
    ("headers", "request_", "expected"),
    [
        # a first turn alone names no conversation
        ({}, chat(SYSTEM, U1), None),
        # from the second turn on, the hash of system prompt and first user turn
        ({}, chat(SYSTEM, U1, A1, U2), (CONVERSATION, "conversation")),
        ({}, chat(SYSTEM, U1, U2), (CONVERSATION, "conversation")),
        # the client's own names win, header first
        ({"x-session-id": "abc"}, chat(U1), ("abc", "x-session-id")),
        ({"x-claude-code-session-id": "cc-1"}, chat(U1), ("cc-1", "x-claude-code-session-id")),
        ({"x-session-id": "h"}, chat(U1, metadata={"session_id": "m"}), ("h", "x-session-id")),
        ({}, chat(U1, metadata={"session_id": "m-9"}), ("m-9", "metadata.session_id")),
        ({"x-session-id": "  "}, chat(U1), None),  # blank: not a name
        # a user id scopes the conversation's hash, and names it from its first turn
        (
            {},
            chat(SYSTEM, U1, user="u1"),
            ("c-" + stable_hash("u1", "Be brief.", U1["content"]), "user"),
        ),
        (
            {},
            chat(SYSTEM, U1, metadata={"user_id": "acct"}, user="u1"),
            ("c-" + stable_hash("acct", "Be brief.", U1["content"]), "metadata.user_id"),
        ),
        ({}, chat(U1, user=None), None),  # null is no id
        ({}, chat(U1, user=7), ("c-" + stable_hash("7", "", U1["content"]), "user")),
    ],
)
def test_identify(headers: dict, request_: Any, expected: tuple[str, str] | None) -> None:
    found = identify(headers, request_)
    assert (found and (found.id, found.source)) == expected


def test_identify_is_the_same_for_dicts_and_for_the_next_turn() -> None:
    """Anthropic-shaped plain JSON (top-level system) names the conversation like OpenAI's."""
    openai_like = identify({}, chat(SYSTEM, U1, A1, U2))
    anthropic_like = identify({}, {"system": "Be brief.", "messages": [U1, A1, U2]})
    later = identify({}, chat(SYSTEM, U1, A1, U2, A1, U2))
    assert openai_like == later
    assert anthropic_like is not None and anthropic_like.id == CONVERSATION


@pytest.mark.parametrize(
    "name", ["x" * (MAX_ID + 1), "has space", "caf\u00e9", "line\nbreak", "tab\there"]
)
def test_a_client_name_not_fit_for_a_header_is_hashed(name: str) -> None:
    found = identify({"x-session-id": name}, chat(U1))
    assert found is not None and found.id == "s-" + stable_hash(name.strip())
    assert found.id.isascii() and found.id.isprintable() and len(found.id) <= MAX_ID


def test_no_messages_no_conversation() -> None:
    assert identify({}, {"prompt": "hi"}) is None
    assert identify({"x-session-id": "k"}, {"prompt": "hi"}) is not None


@pytest.mark.parametrize(
    ("messages", "number", "tool_loop"),
    [
        ([U1], 1, False),
        ([SYSTEM, U1, A1, U2], 2, False),
        ([U1, CALL], 1, True),
        ([U1, CALL, RESULT], 1, True),
        ([U1, {"role": "assistant", "content": "x", "tool_calls": None}], 1, False),
        ([U1, {"role": "assistant", "content": "x", "tool_calls": []}], 1, False),
        ([U1, A1, U2, CALL, RESULT, A1], 2, False),
    ],
)
def test_turn_of(messages: list[dict], number: int, tool_loop: bool) -> None:
    turn = turn_of(chat(*messages))
    assert (turn.number, turn.tool_loop) == (number, tool_loop)


def test_turn_sizes_count_what_came_since_the_last_answer() -> None:
    turn = turn_of(
        chat({"role": "user", "content": "a" * 300}, A1, {"role": "user", "content": "b" * 30})
    )
    assert turn.prompt_tokens == (300 + len(A1["content"]) + 30) // 3
    assert turn.new_tokens == 10


@pytest.mark.parametrize(
    ("measured", "size", "expected"),
    [
        (900.0, 4e9, 900.0),
        (None, 4e9, 150.0),
        (None, 1e9, 600.0),
        (None, 1e8, 3000.0),
        (None, None, 150.0),
    ],
)
def test_prompt_speed(measured: float | None, size: float | None, expected: float) -> None:
    assert prompt_speed(measured, int(size) if size else None) == pytest.approx(expected)


def test_reread_counts_the_whole_conversation_only_on_the_new_model() -> None:
    assert reread_seconds(Turn(5, False, 6000, 30), 300.0, 100.0) == (0.1, 60.0)


def cand(model: str, quality: float, latency: float = 1.0, **kw: Any) -> Candidate:
    return Candidate(model=model, quality=quality, latency_seconds=latency, **kw)


SHORT = (0.01, 0.1)  # a short conversation: a switch costs little
LONG = (0.1, 60.0)  # a long one on a slow reader: a minute to re-read


@pytest.mark.parametrize(
    ("stay", "best", "costs", "policy", "expected"),
    [
        (cand("a", 0.4), cand("b", 0.95), SHORT, "balanced", True),  # clearly better
        (cand("a", 0.70), cand("b", 0.73), SHORT, "balanced", False),  # within the margin
        (cand("a", 0.70), cand("b", 0.78), SHORT, "balanced", True),
        (cand("a", 0.70), cand("b", 0.80), LONG, "balanced", False),  # the re-read costs more
        (cand("a", 0.70), cand("b", 0.80), LONG, "quality", True),  # quality ignores time
        (cand("a", 0.70, 1.0), cand("b", 0.70, 0.1), LONG, "latency", False),
        (cand("a", 0.70, 1.0), cand("b", 0.70, 0.1), SHORT, "latency", True),
        (cand("a", 0.1), cand("b", 0.5), LONG, "balanced", True),  # staying is under the floor
        (cand("a", 0.5), cand("b", 0.9, failure_rate=0.9), SHORT, "balanced", False),
    ],
)
def test_worth_switching(
    stay: Candidate, best: Candidate, costs: tuple[float, float], policy: Any, expected: bool
) -> None:
    settings = Settings()
    assert worth_switching("qa", stay, best, costs, Needs(), policy, settings, 0.05) is expected


PRIOR = Prior("a", "summarize", 2)
TURN = Turn(4, False, 100, 10)
LOOP = Turn(4, True, 100, 10)


@pytest.mark.parametrize(
    ("prior", "turn", "task", "fresh", "fits", "switch", "expected"),
    [
        (None, TURN, "qa", ["b", "a"], True, False, (["b", "a"], "qa", "", "new")),
        (
            PRIOR,
            TURN,
            "summarize",
            ["b", "a", "c"],
            True,
            False,
            (["a", "b", "c"], "summarize", "kept from turn 2", "kept"),
        ),
        (
            PRIOR,
            TURN,
            "summarize",
            ["a", "b"],
            True,
            True,
            (["a", "b"], "summarize", "kept from turn 2", "kept"),
        ),
        (
            PRIOR,
            TURN,
            "code",
            ["b", "a"],
            True,
            True,
            (["b", "a"], "code", "switched: task changed to code", "switched"),
        ),
        (
            PRIOR,
            TURN,
            "qa",
            ["b", "a"],
            True,
            False,
            (["a", "b"], "qa", "kept from turn 2 (task changed to qa; not worth a switch)", "kept"),
        ),
        (
            PRIOR,
            TURN,
            "code",
            ["a", "b"],
            True,
            True,
            (
                ["a", "b"],
                "code",
                "kept from turn 2 (task changed to code; not worth a switch)",
                "kept",
            ),
        ),
        (
            PRIOR,
            LOOP,
            "code",
            ["b", "c", "d"],
            True,
            True,
            (["a", "b", "c"], "summarize", "tool loop: kept from turn 2", "tool"),
        ),
        (
            PRIOR,
            TURN,
            "summarize",
            ["b"],
            False,
            False,
            (["b"], "summarize", "switched: a cannot take it", "unfit"),
        ),
        (
            PRIOR,
            LOOP,
            "summarize",
            ["b"],
            False,
            False,
            (["b"], "summarize", "switched: a cannot take it", "unfit"),
        ),
        (  # no model declares what the request needs: the policy's own pick is no switch
            PRIOR,
            LOOP,
            "code",
            ["a", "b"],
            False,
            False,
            (["a", "b"], "summarize", "tool loop: kept from turn 2", "tool"),
        ),
        (
            PRIOR,
            TURN,
            "summarize",
            ["b", "a"],
            False,
            False,
            (["a", "b"], "summarize", "kept from turn 2", "kept"),
        ),
    ],
)
def test_follow(
    prior: Prior | None,
    turn: Turn,
    task: str,
    fresh: list[str],
    fits: bool,
    switch: bool,
    expected: tuple[list[str], str, str, str],
) -> None:
    steer = follow(prior, turn, task, fresh, fits, switch, 3)
    assert (steer.candidates, steer.task, steer.reason, steer.kind) == expected
