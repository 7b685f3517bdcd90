"""The part of a passed-through Responses request the router routes by (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.wire.responses import decode_request
from router.wire.responses_view import routing_view

READ = {"type": "function", "name": "read", "parameters": {"type": "object"}}
FILE = {"type": "input_file", "file_id": "file-1"}
TEXT = {"type": "input_text", "text": "Summarize the attached report."}


def _view(**request: Any) -> dict[str, Any]:
    return routing_view(decode_request(json.dumps({"model": "auto", **request}).encode()))


@pytest.mark.parametrize(
    ("request_", "messages", "tools"),
    [
        (
            {"input": "hi", "tools": [{"type": "web_search"}]},
            [{"role": "user", "content": "hi"}],
            None,
        ),
        (
            {
                "input": [{"role": "user", "content": [TEXT, FILE]}],
                "tools": [READ, {"type": "mcp"}],
            },
            [{"role": "user", "content": TEXT["text"]}],
            ["read"],
        ),
        (
            {
                "input": [
                    {"type": "item_reference", "id": "msg_1"},
                    {"role": "user", "content": "go"},
                ]
            },
            [{"role": "user", "content": "go"}],
            None,
        ),
        ({"input": [{"role": "user", "content": [FILE]}]}, [{"role": "user", "content": ""}], None),
    ],
)
def test_only_what_chat_can_express_is_routed_by(
    request_: dict[str, Any], messages: list[dict[str, Any]], tools: list[str] | None
) -> None:
    body = _view(**request_)
    assert body["messages"] == messages
    named = [t["function"]["name"] for t in body["tools"]] if "tools" in body else None
    assert named == tools


def test_a_hosted_tool_choice_is_left_out_and_a_stream_stays_one() -> None:
    body = _view(
        input="hi", tool_choice={"type": "web_search"}, stream=True, instructions="Be brief."
    )
    assert "tool_choice" not in body and body["stream"] is True
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
