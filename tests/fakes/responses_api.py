"""The fake upstream's own Responses API (`POST /v1/responses`), as LM Studio, Ollama or vLLM
serve it: the model's scripted answer as a whole Response or as typed events (created, the
message and its text part opened, one output_text delta a word, each closed, completed with
usage), with the request's tools echoed, so a test
sees that a request the router cannot translate reached the upstream as it was sent."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.upstream import _SSE_HEADERS, FakeModel, _Ctx, tokenize


def response(model: FakeModel, body: dict[str, Any], text: str) -> dict[str, Any]:
    words = len(tokenize(text))
    prompt = len(json.dumps(body.get("input", "")).split())
    part = {"type": "output_text", "text": text, "annotations": []}
    message = {"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed"}
    return {
        "id": "resp_fakeupstream",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": model.id,
        "output": [{**message, "content": [part]}],
        "tools": body.get("tools", []),
        "tool_choice": body.get("tool_choice", "auto"),
        "parallel_tool_calls": True,
        "usage": {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + words,
        },
    }


async def answer(ctx: _Ctx, failure: str | None) -> None:
    model, body = ctx.model, ctx.body
    text = model.answer(body) if callable(model.answer) else model.answer
    whole = response(model, body, text)
    if not ctx.stream:
        return await ctx.respond(200, json.dumps(whole).encode())
    await ctx.start(_SSE_HEADERS)
    started = {**whole, "status": "in_progress", "output": [], "usage": None}
    item, part = whole["output"][0], whole["output"][0]["content"][0]
    at = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
    events = [
        {"type": "response.created", "response": started},
        {"type": "response.output_item.added", "output_index": 0}
        | {"item": {**item, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", **at, "part": {**part, "text": ""}},
    ]
    for piece in tokenize(text):
        events.append({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []})
    events += [
        {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": whole},
    ]
    for n, event in enumerate(events):
        data = json.dumps({**event, "sequence_number": n})
        await ctx.chunk(f"event: {event['type']}\ndata: {data}\n\n".encode())
    await ctx.chunk(b"", more=False)
