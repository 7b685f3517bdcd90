"""What the router routes a passed-through Responses request by: the part of it chat
completions can express (its messages, function calls and results, function tools), as a chat
body. The request itself goes to an upstream that serves the Responses API as it came; this
view only picks the model (task, sessions, needs), so what it leaves out (hosted tools, files,
item references) changes no answer. Pure: no I/O."""

from __future__ import annotations

from typing import Any

import msgspec.structs

from router.wire.responses import ResponsesRequest, item_problem
from router.wire.responses_chat import chat_body, chat_messages, input_items

_EMPTY = [{"role": "user", "content": ""}]  # nothing expressible: routed as an empty turn


def routing_view(request: ResponsesRequest) -> dict[str, Any]:
    """The chat body of the expressible part of `request` (streamed if it is)."""
    kept = request
    if not isinstance(request.input, str):
        items = [_expressible(item) for item in request.input]
        kept = _with(kept, input=[item for item in items if item is not None])
    tools = [t for t in request.tools or () if t.get("type") == "function"]
    kept = _with(kept, tools=tools or None)
    if isinstance(kept.tool_choice, dict) and kept.tool_choice.get("type") != "function":
        kept = _with(kept, tool_choice=None)
    messages = chat_messages(input_items(kept)) or _EMPTY
    return chat_body(kept, messages, stream=bool(request.stream))


def _expressible(item: dict[str, Any]) -> dict[str, Any] | None:
    """The item, its inexpressible content parts left out; None when the item itself is."""
    if item_problem(item, "") is None:
        return item
    content = item.get("content")
    if item.get("type", "message") != "message" or not isinstance(content, list):
        return None
    parts = [
        p for p in content if isinstance(p, dict) and item_problem({"content": [p]}, "") is None
    ]
    return {**item, "content": parts} if parts else None


def _with(request: ResponsesRequest, **changes: Any) -> ResponsesRequest:
    return msgspec.structs.replace(request, **changes)
