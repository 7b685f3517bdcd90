"""A chat stream's events as Anthropic's: `MessageStream` takes the OpenAI SSE bytes one event at a
time and gives back message_start and ping, content blocks with text, thinking and input_json
deltas, message_delta with the stop reason and usage, and message_stop; an OpenAI error event
becomes an `error` event and ends it. Pure: no I/O (the chat answer's shapes and the stop
reason are `router.wire.anthropic_chat`'s)."""

from __future__ import annotations

from router.wire.answers import Usage, sse_payloads
from router.wire.anthropic import (
    BlockDelta,
    BlockStart,
    BlockStop,
    DeltaUsage,
    Error,
    ErrorInfo,
    InputJsonDelta,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    MessageUsage,
    OutBlock,
    Ping,
    StopDelta,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
    event_bytes,
)
from router.wire.anthropic_chat import (
    ChatAnswer,
    Function,
    Said,
    decode_answer,
    message_usage,
    new_id,
    stop_reason,
    tool_id,
)

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
        for payload in sse_payloads(data):
            if self.over:
                break
            if payload == b"[DONE]":
                out += self.end()
            else:
                out += self._chunk(decode_answer(payload))
        return out

    def end(self) -> bytes:
        """The closing events (once; nothing after an error)."""
        if self.over:
            return b""
        self.over = True
        reason, sequence = stop_reason(self.finish, self.matched, self.tools, self.stops)
        usage = message_usage(self.usage)
        delta = DeltaUsage(usage.output_tokens, usage.input_tokens, usage.cache_read_input_tokens)
        closing = event_bytes(MessageDelta(StopDelta(reason, sequence), delta))
        return self._close() + closing + event_bytes(MessageStop())

    def _chunk(self, answer: ChatAnswer) -> bytes:
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

    def _delta(self, said: Said) -> bytes:
        out = b""
        if thought := said.thought():
            out += self._block("thinking", ThinkingBlock(""))
            out += event_bytes(BlockDelta(self.index, ThinkingDelta(thought)))
        if said.content:
            out += self._block("text", TextBlock(""))
            out += event_bytes(BlockDelta(self.index, TextDelta(said.content)))
        for call in said.tool_calls or []:
            self.tools = True
            function = call.function or Function()
            kind = f"tool:{call.index}"
            if self.open != kind:
                block = ToolUseBlock(call.id or tool_id(), function.name or "", {})
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
