"""Chat messages as an in-process model's chat template takes them.

Roles as the templates know them (`developer` is `system`), text parts joined, and what tool
use needs: an assistant's `tool_calls` (arguments as objects, as mlx_lm.server passes them)
and a tool result's `tool_call_id` and `name`. Also the words that ask for JSON, and the
correction that asks again when an answer failed its check.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from router.backends.mlx.fields import Format
from router.backends.mlx.json_mode import instruction
from router.wire import Message


def chat_messages(messages: list[Message], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The template's messages: `messages` (decoded) with the tool fields of `raw` (as sent)."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = "system" if message.role == "developer" else message.role
        entry: dict[str, Any] = {"role": role, "content": message.text()}
        extra = raw[i] if i < len(raw) and isinstance(raw[i], dict) else {}
        if calls := extra.get("tool_calls"):
            entry["tool_calls"] = [_call(c) for c in calls if isinstance(c, dict)]
        for key in ("tool_call_id", "name"):
            if isinstance(extra.get(key), str):
                entry[key] = extra[key]
        out.append(entry)
    return out


def _call(call: dict[str, Any]) -> dict[str, Any]:
    function = dict(call.get("function") or {})
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # else the template gets the text as sent
            function["arguments"] = json.loads(arguments)
    return {**call, "function": function}


def with_instruction(messages: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """The messages with `text` added to the system message (one is added when none)."""
    if messages and messages[0]["role"] == "system":
        first = {**messages[0], "content": f"{messages[0]['content']}\n\n{text}".strip()}
        return [first, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def corrected(prompt: Any, answer: str, problem: str, fmt: Format) -> Any:
    """The prompt of a second try: the first answer, and what was wrong with it."""
    if not isinstance(prompt, list):
        return prompt
    schema = fmt.json_schema.schema if fmt.json_schema is not None else None
    note = f"That answer is not usable: {problem}. {instruction(schema)}"
    return [*prompt, {"role": "assistant", "content": answer}, {"role": "user", "content": note}]
