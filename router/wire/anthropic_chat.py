"""Anthropic Messages <-> OpenAI chat completions: the router serves `/v1/messages` by asking
its chat path, so every backend (upstreams and in-process models) answers it.

- `chat_body`: a Messages request as a chat request's body (system first; a user turn's
  tool results become `tool` messages before its text; an assistant's `tool_use` blocks its
  `tool_calls`; images as data URLs; thinking blocks of earlier turns left out: they are the
  model's own notes, not the conversation; `thinking` on or off as the chat template's
  `enable_thinking`).
- `to_message`: a whole chat answer as a Messages answer.
- `router.wire.anthropic_stream.MessageStream` (beside this module): a chat stream's events as
  Anthropic's, one at a time.

Pure: no I/O. Stop reasons: `length` is max_tokens, tool calls are tool_use, `stop` is
stop_sequence when the upstream says which sequence matched (vLLM's `stop_reason`), else
end_turn.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec

from router.errors import InvalidRequest
from router.wire.answers import Usage
from router.wire.anthropic import (
    CountRequest,
    ImageBlock,
    Message,
    MessagesRequest,
    MessageUsage,
    OutBlock,
    StopReason,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)

# --- request -----------------------------------------------------------------------------------


def chat_body(request: CountRequest, *, stream: bool = False) -> dict[str, Any]:
    """The chat completion request asking what `request` asks (a stream asks for usage)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        system = request.system
        text = system if isinstance(system, str) else "\n".join(b.text for b in system)
        messages.append({"role": "system", "content": text})
    for message in request.messages:
        if message.role == "user":
            messages.extend(_user(message.content))
        else:
            messages.append(_assistant(message.content))
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        _tool_choice(request.tool_choice, body)
    if isinstance(request, MessagesRequest):
        _sampling(request, body, stream)
    return body


def _sampling(request: MessagesRequest, body: dict[str, Any], stream: bool) -> None:
    body["max_tokens"] = request.max_tokens
    for name in ("temperature", "top_p", "top_k"):
        if (value := getattr(request, name)) is not None:
            body[name] = value
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    if request.metadata is not None and request.metadata.user_id:
        body["user"] = request.metadata.user_id
    if (thinking := _thinking(request.thinking)) is not None:
        # The chat template's switch, as llama.cpp, vLLM, mlx-lm and the in-process models read
        # it; a template without one ignores it (a model that cannot reason: no error).
        body["chat_template_kwargs"] = {"enable_thinking": thinking}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}


def _thinking(raw: msgspec.Raw) -> bool | None:
    """Whether the request asks the model to think: `enabled` (or `adaptive`) yes, `disabled`
    no; None when it does not say (or says something unknown: accepted, never an error)."""
    if not len(raw):
        return None
    try:
        kind = msgspec.json.decode(raw).get("type")
    except (msgspec.DecodeError, AttributeError):
        return None
    return {"enabled": True, "adaptive": True, "disabled": False}.get(kind)


def _user(content: str | list[Any]) -> list[dict[str, Any]]:
    """A user turn: its tool results as `tool` messages first, then its text and images."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if type(block) is ToolResultBlock:
            text, images = _result(block)
            out.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": text})
            parts.extend(images)
        elif type(block) is TextBlock:
            parts.append({"type": "text", "text": block.text})
        elif type(block) is ImageBlock:
            parts.append({"type": "image_url", "image_url": {"url": block.source.as_url()}})
        elif type(block) is ToolUseBlock:
            raise InvalidRequest("A tool_use block belongs in an assistant message.")
    if parts:
        simple = all(p["type"] == "text" for p in parts)
        joined = "\n".join(p["text"] for p in parts) if simple else parts
        out.append({"role": "user", "content": joined})
    return out


def _result(block: ToolResultBlock) -> tuple[str, list[dict[str, Any]]]:
    """A tool result's text (marked when it is an error) and its images, as user parts."""
    content = block.content
    if isinstance(content, str):
        text, images = content, []
    else:
        text = "\n".join(b.text for b in content if type(b) is TextBlock)
        images = [
            {"type": "image_url", "image_url": {"url": b.source.as_url()}}
            for b in content
            if type(b) is ImageBlock
        ]
    return (f"Error: {text}" if block.is_error else text), images


def _assistant(content: str | list[Any]) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts = [b.text for b in content if type(b) is TextBlock]
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": json.dumps(b.input, ensure_ascii=False)},
        }
        for b in content
        if type(b) is ToolUseBlock
    ]
    if any(type(b) in (ToolResultBlock, ImageBlock) for b in content):
        raise InvalidRequest("An assistant message holds text and tool_use blocks only.")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: Any) -> dict[str, Any]:
    function = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, body: dict[str, Any]) -> None:
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequest("tool_choice of type 'tool' names the tool", param="tool_choice")
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        body["tool_choice"] = {"any": "required"}.get(choice.type, choice.type)
    if choice.disable_parallel_tool_use:
        body["parallel_tool_calls"] = False


# --- answers -----------------------------------------------------------------------------------


class Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _Call(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: Function | None = None


class Said(msgspec.Struct):
    """A chat answer's message, or a chunk's delta."""

    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[_Call] | None = None

    def thought(self) -> str | None:
        return self.reasoning_content or self.reasoning


class _Choice(msgspec.Struct):
    message: Said | None = None
    delta: Said | None = None
    finish_reason: str | None = None
    stop_reason: str | int | None = None  # vLLM: the stop sequence that matched


class _ErrorDetail(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: str | None = None


class ChatAnswer(msgspec.Struct):
    id: str = ""
    choices: list[_Choice] = []
    usage: Usage | None = None
    error: _ErrorDetail | None = None


decode_answer = msgspec.json.Decoder(ChatAnswer).decode


def new_id() -> str:
    return "msg_" + uuid.uuid4().hex[:24]


def stop_reason(
    finish: str | None, matched: str | int | None, tools: bool, stops: list[str]
) -> tuple[StopReason, str | None]:
    """Anthropic's (stop_reason, stop_sequence) for a chat choice's end."""
    if tools or finish in ("tool_calls", "function_call"):
        return "tool_use", None
    if finish == "length":
        return "max_tokens", None
    if isinstance(matched, str) and matched in stops:
        return "stop_sequence", matched
    return "end_turn", None


def message_usage(usage: Usage | None) -> MessageUsage:
    if usage is None:
        return MessageUsage()
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens if isinstance(details, msgspec.Struct) else None) or 0
    # Anthropic counts cache reads apart: input_tokens is only what was read anew
    fresh = max(0, usage.prompt_tokens - cached)
    return MessageUsage(fresh, usage.completion_tokens, cached or None)


def _input(arguments: str | None) -> dict[str, Any]:
    """A tool call's arguments as the `input` object (an unparsable text kept under `_raw`)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def to_message(body: bytes, model: str, stops: list[str]) -> bytes:
    """A whole chat answer (its first choice) as a Messages answer."""
    answer = decode_answer(body)
    choice = answer.choices[0] if answer.choices else _Choice()
    said = choice.message or Said()
    content: list[OutBlock] = []
    if thought := said.thought():
        content.append(ThinkingBlock(thought))
    if said.content:
        content.append(TextBlock(said.content))
    for call in said.tool_calls or []:
        function = call.function or Function()
        content.append(
            ToolUseBlock(call.id or tool_id(), function.name or "", _input(function.arguments))
        )
    reason, sequence = stop_reason(
        choice.finish_reason, choice.stop_reason, bool(said.tool_calls), stops
    )
    msg_id = "msg_" + answer.id if answer.id else new_id()
    message = Message(msg_id, model, content, message_usage(answer.usage), reason, sequence)
    return msgspec.json.encode(message)


def tool_id() -> str:
    return "toolu_" + uuid.uuid4().hex[:24]
