"""An in-process model's answers in OpenAI's shapes (`router.wire`): a whole body with n
choices, or one SSE event per piece; tool calls and log-probabilities as asked."""

from __future__ import annotations

import time
import uuid
from typing import Any

from router.backends.protocol import StreamEvent
from router.wire import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatLogprobs,
    Chunk,
    ChunkChoice,
    Completion,
    CompletionChunk,
    Delta,
    StreamDelta,
    StreamToolCall,
    TextChoice,
    TextChunkChoice,
    TextLogprobs,
    TokenLogprob,
    ToolCall,
    Usage,
    encode,
    object_kind,
)


class Choice:
    """One choice of a whole answer, gathered from the generation thread's pieces."""

    __slots__ = ("finish_reason", "logprobs", "parts", "tool_calls")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.logprobs: list[TokenLogprob] = []
        self.tool_calls: list[ToolCall] = []
        self.finish_reason = "stop"

    def text(self) -> str:
        return "".join(self.parts)


class Answer:
    """One request's fixed parts (id, kind, model, creation time, logprobs asked) and its
    bodies and events."""

    __slots__ = ("chat", "created", "id", "logprobs", "model")

    def __init__(self, chat: bool, model: str, logprobs: bool = False) -> None:
        self.chat = chat
        self.model = model
        self.logprobs = logprobs
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def body(self, choices: list[Choice], usage: Usage) -> bytes:
        made: list[Any] = []
        for index, c in enumerate(choices):
            logprobs = self._logprobs(c.logprobs) if self.logprobs else None
            if self.chat:
                message = AssistantMessage(
                    "assistant", c.text() or (None if c.tool_calls else ""), c.tool_calls or None
                )
                made.append(ChatChoice(index, message, c.finish_reason, logprobs))
            else:
                made.append(TextChoice(index, c.text(), c.finish_reason, logprobs))
        kind = object_kind(self.chat, chunk=False)
        return encode(Completion(self.id, kind, self.created, self.model, made, usage))

    def event(
        self,
        index: int,
        text: str | None,
        finish: str | None = None,
        *,
        first: bool = False,
        logprobs: list[TokenLogprob] | None = None,
        tool_calls: list[ToolCall] | None = None,
    ) -> StreamEvent:
        """One SSE event for one choice: its text, its finish reason, or both."""
        lp = self._logprobs(logprobs) if self.logprobs and logprobs else None
        if self.chat:
            calls = [StreamToolCall(i, c.id, c.function) for i, c in enumerate(tool_calls or ())]
            delta = StreamDelta("assistant" if first else None, text, calls or None)
            choice: Any = ChatChunkChoice(index, delta, finish, lp)
            seen = ChunkChoice(index, Delta(content=text), None, finish)
        else:
            choice = TextChunkChoice(index, text or "", finish, lp)
            seen = ChunkChoice(index, None, text or "", finish)
        return self._out([choice], Chunk([seen]))

    def usage_event(self, usage: Usage) -> StreamEvent:
        return self._out([], Chunk([], usage), usage)

    def _out(self, choices: list[Any], seen: Chunk, usage: Usage | None = None) -> StreamEvent:
        kind = object_kind(self.chat, chunk=True)
        out = CompletionChunk(self.id, kind, self.created, self.model, choices, usage)
        return StreamEvent(b"data: " + encode(out) + b"\n\n", seen)

    def _logprobs(self, entries: list[TokenLogprob]) -> Any:
        if self.chat:
            return ChatLogprobs(entries)
        offsets, at = [], 0
        for e in entries:
            offsets.append(at)
            at += len(e.token)
        return TextLogprobs(
            [e.token for e in entries],
            [e.logprob for e in entries],
            [{t.token: t.logprob for t in e.top_logprobs} for e in entries],
            offsets,
        )
