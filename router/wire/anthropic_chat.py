"""Anthropic Messages <-> OpenAI chat completions: the router serves `/v1/messages` by asking
its chat path, so every backend (upstreams and in-process models) answers it.

- `chat_body`: a Messages request as a chat request's body (system first; a user turn's
  tool results become `tool` messages before its text; an assistant's `tool_use` blocks its
  `tool_calls`; images as data URLs; thinking blocks of earlier turns left out: they are the
  model's own notes, not the conversation).
- `to_message`: a whole chat answer as a Messages answer.
- `MessageStream`: a chat stream's events, one at a time, as Anthropic's events (message_start,
  ping, content blocks with text, thinking and input_json deltas, message_delta with the stop
  reason and usage, message_stop; an OpenAI error event as an `error` event).

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
    BlockDelta,
    BlockStart,
    BlockStop,
    CountRequest,
    DeltaUsage,
    Error,
    ErrorInfo,
    ImageBlock,
    InputJsonDelta,
    Message,
    MessageDelta,
    MessagesRequest,
    MessageStart,
    MessageStop,
    MessageUsage,
    OutBlock,
    Ping,
    StopDelta,
    StopReason,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolResultBlock,
    ToolUseBlock,
    event_bytes,
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
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}


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


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _Call(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _Function | None = None


class _Said(msgspec.Struct):
    """A chat answer's message, or a chunk's delta."""

    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[_Call] | None = None

    def thought(self) -> str | None:
        return self.reasoning_content or self.reasoning


class _Choice(msgspec.Struct):
    message: _Said | None = None
    delta: _Said | None = None
    finish_reason: str | None = None
    stop_reason: str | int | None = None  # vLLM: the stop sequence that matched


class _ErrorDetail(msgspec.Struct):
    message: str = ""
    type: str | None = None
    code: str | None = None


class _Answer(msgspec.Struct):
    id: str = ""
    choices: list[_Choice] = []
    usage: Usage | None = None
    error: _ErrorDetail | None = None


_decode_answer = msgspec.json.Decoder(_Answer).decode


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


def _usage(usage: Usage | None) -> MessageUsage:
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
    answer = _decode_answer(body)
    choice = answer.choices[0] if answer.choices else _Choice()
    said = choice.message or _Said()
    content: list[OutBlock] = []
    if thought := said.thought():
        content.append(ThinkingBlock(thought))
    if said.content:
        content.append(TextBlock(said.content))
    for call in said.tool_calls or []:
        function = call.function or _Function()
        content.append(
            ToolUseBlock(call.id or _tool_id(), function.name or "", _input(function.arguments))
        )
    reason, sequence = stop_reason(
        choice.finish_reason, choice.stop_reason, bool(said.tool_calls), stops
    )
    msg_id = "msg_" + answer.id if answer.id else new_id()
    message = Message(msg_id, model, content, _usage(answer.usage), reason, sequence)
    return msgspec.json.encode(message)


def _tool_id() -> str:
    return "toolu_" + uuid.uuid4().hex[:24]


# --- streams -----------------------------------------------------------------------------------

# Anthropic's error type for the codes the router's own error events carry.
_STREAM_ERRORS = {
    "rate_limit_exceeded": "rate_limit_error",
    "shutting_down": "overloaded_error",
    "no_model_available": "overloaded_error",
    "queue_timeout": "overloaded_error",
    "upstream_timeout": "timeout_error",
}


class MessageStream:
    """One chat stream's events translated, in order: `start`, `feed` for each event (the
    OpenAI SSE bytes), then `end`. Each returns the Anthropic events' bytes to send."""

    def __init__(self, model: str, stops: list[str]) -> None:
        self.model = model
        self.stops = stops
        self.index = -1  # the open content block's, if `open`
        self.open: str | None = None  # "text", "thinking", or "tool:<chat index>"
        self.tools = False
        self.finish: str | None = None
        self.matched: str | int | None = None
        self.usage: Usage | None = None
        self.over = False

    def start(self) -> bytes:
        message = Message(new_id(), self.model, [], MessageUsage())
        return event_bytes(MessageStart(message)) + event_bytes(Ping())

    def feed(self, data: bytes) -> bytes:
        out = b""
        for payload in _payloads(data):
            if self.over:
                break
            if payload == b"[DONE]":
                out += self.end()
            else:
                out += self._chunk(_decode_answer(payload))
        return out

    def end(self) -> bytes:
        """The closing events (once; nothing after an error)."""
        if self.over:
            return b""
        self.over = True
        reason, sequence = stop_reason(self.finish, self.matched, self.tools, self.stops)
        usage = _usage(self.usage)
        delta = DeltaUsage(usage.output_tokens, usage.input_tokens, usage.cache_read_input_tokens)
        closing = event_bytes(MessageDelta(StopDelta(reason, sequence), delta))
        return self._close() + closing + event_bytes(MessageStop())

    def _chunk(self, answer: _Answer) -> bytes:
        if answer.error is not None:
            self.over = True
            kind = _STREAM_ERRORS.get(answer.error.code or "", "api_error")
            return event_bytes(Error(ErrorInfo(kind, answer.error.message)))
        if answer.usage is not None:
            self.usage = answer.usage
        out = b""
        for choice in answer.choices[:1]:  # Anthropic answers have one
            if choice.finish_reason:
                self.finish, self.matched = choice.finish_reason, choice.stop_reason
            if choice.delta is not None:
                out += self._delta(choice.delta)
        return out

    def _delta(self, said: _Said) -> bytes:
        out = b""
        if thought := said.thought():
            out += self._block("thinking", ThinkingBlock(""))
            out += event_bytes(BlockDelta(self.index, ThinkingDelta(thought)))
        if said.content:
            out += self._block("text", TextBlock(""))
            out += event_bytes(BlockDelta(self.index, TextDelta(said.content)))
        for call in said.tool_calls or []:
            self.tools = True
            function = call.function or _Function()
            kind = f"tool:{call.index}"
            if self.open != kind:
                block = ToolUseBlock(call.id or _tool_id(), function.name or "", {})
                out += self._block(kind, block)
            if function.arguments:
                out += event_bytes(BlockDelta(self.index, InputJsonDelta(function.arguments)))
        return out

    def _block(self, kind: str, block: OutBlock) -> bytes:
        """Open `block` as one of `kind`, unless that is the open one (closing the open one)."""
        if self.open == kind:
            return b""
        out = self._close()
        self.index += 1
        self.open = kind
        return out + event_bytes(BlockStart(self.index, block))

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        self.open = None
        return event_bytes(BlockStop(self.index))


def _payloads(data: bytes) -> list[bytes]:
    """The `data:` payloads of SSE bytes (comments and other fields skipped)."""
    out: list[bytes] = []
    for line in data.splitlines():
        if line.startswith(b"data:"):
            out.append(line[5:].strip())
    return out
