"""An upstream's own Responses answers and events, as the router reads them (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.backends.openai_responses import response_chunk, response_usage
from router.errors import BackendError

USAGE = {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}
DONE = {"status": "completed", "usage": {**USAGE, "input_tokens_details": {"cached_tokens": 5}}}


def _chunk(event: dict[str, Any]) -> Any:
    return response_chunk("up", json.dumps(event).encode())


@pytest.mark.parametrize(
    ("event", "text", "finish", "usage"),
    [
        ({"type": "response.output_text.delta", "delta": "Par"}, "Par", None, None),
        ({"type": "response.reasoning_text.delta", "delta": "hmm"}, "hmm", None, None),
        (
            {"type": "response.created", "response": {"status": "in_progress", "error": None}},
            "",
            None,
            None,
        ),
        ({"type": "response.function_call_arguments.delta", "delta": "{"}, "", None, None),
        ({"type": "response.completed", "response": DONE}, "", "stop", (9, 4, 5)),
        ({"type": "response.incomplete", "response": {"usage": USAGE}}, "", "length", (9, 4, None)),
    ],
)
def test_events_as_the_meter_reads_them(
    event: dict[str, Any], text: str, finish: str | None, usage: tuple | None
) -> None:
    chunk = _chunk(event)
    assert chunk.text() == text
    assert [c.finish_reason for c in chunk.choices if c.finish_reason] == (
        [finish] if finish else []
    )
    if usage is None:
        assert chunk.usage is None
    else:
        details = chunk.usage.prompt_tokens_details
        cached = getattr(details, "cached_tokens", None)
        assert (chunk.usage.prompt_tokens, chunk.usage.completion_tokens, cached) == usage


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.failed", "response": {"status": "failed", "error": {"message": "boom"}}},
        {"type": "error", "message": "boom", "code": "server_error"},
    ],
)
def test_a_failure_is_the_upstreams(event: dict[str, Any]) -> None:
    with pytest.raises(BackendError, match="up: boom"):
        _chunk(event)


def test_a_whole_answer_gives_its_usage_or_its_failure() -> None:
    usage = response_usage(
        "up", json.dumps({"status": "completed", "usage": USAGE, "error": None}).encode()
    )
    assert usage is not None and (usage.prompt_tokens, usage.total_tokens) == (9, 13)
    failed = {"status": "failed", "error": {"message": "no such tool"}}
    with pytest.raises(BackendError, match="no such tool"):
        response_usage("up", json.dumps(failed).encode())
