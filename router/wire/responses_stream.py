"""A chat stream's events as the Responses API's, one at a time (`ResponseStream`).

The events, in their order: `response.created` and `response.in_progress` first; for each
output item `response.output_item.added`, then its content (`response.content_part.added`,
`response.output_text.delta`s, `response.output_text.done`, `response.content_part.done` for a
message; the `reasoning_text` counterparts for a model's reasoning;
`response.function_call_arguments.delta`s and `.done` for a function call), then
`response.output_item.done`; last `response.completed` or `response.incomplete` with the whole
Response. An OpenAI error event from the router's relay (a failure after the first event, the
shutdown grace over) ends the stream with `response.failed`. Every event has its
`sequence_number`, counting from 0. Pure: no I/O.
"""

from __future__ import annotations

import msgspec

from router.wire.answers import Usage, sse_payloads
from router.wire.responses import (
    ArgumentsDelta,
    ArgumentsDone,
    Completed,
    Created,
    Event,
    Failed,
    FunctionCall,
    Incomplete,
    InProgress,
    ItemAdded,
    ItemDone,
    OutputMessage,
    OutputText,
    PartAdded,
    PartDone,
    Reasoning,
    ReasoningDelta,
    ReasoningDone,
    ReasoningText,
    Response,
    ResponseError,
    TextDelta,
    TextDone,
    event_bytes,
)
from router.wire.responses_chat import (
    ChatAnswer,
    ChatCall,
    decode_answer,
    finish,
    function_call,
    new_id,
    usage,
)

_CUT = ("length", "content_filter")  # the finish reasons that leave the response incomplete
_RATE_LIMITED = ("rate_limit_exceeded", "queue_timeout")


class ResponseStream:
    """One chat stream translated, in order: `start`, `feed` for each event (the OpenAI SSE
    bytes), then `end`. Each returns the events' bytes to send. `done` holds the Response
    once it completed (or ended incomplete): what is stored."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.sequence = 0
        self.open: str | None = None  # "text", "reasoning" or "tool:<chat index>"
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.over = False
        self.done: Response | None = None

    def start(self) -> bytes:
        return self._emit(Created(response=self.response)) + self._emit(
            InProgress(response=self.response)
        )

    def feed(self, data: bytes) -> bytes:
        out = b""
        for payload in sse_payloads(data):
            if self.over:
                break
            if payload == b"[DONE]":
                out += self.end()
                continue
            try:
                answer = decode_answer(payload)
            except msgspec.DecodeError as err:
                return out + self._fail(
                    "server_error", f"The model sent an unreadable chunk: {err}"
                )
            out += self._chunk(answer)
        return out

    def end(self) -> bytes:
        """The closing events (once; nothing after a failure)."""
        if self.over:
            return b""
        self.over = True
        out = self._close()
        response = finish(self.response, self.finish)
        response.usage = usage(self.usage)
        self.done = response
        if response.status == "incomplete":
            return out + self._emit(Incomplete(response=response))
        return out + self._emit(Completed(response=response))

    def _fail(self, code: str, message: str) -> bytes:
        """End with `response.failed` saying why (nothing is sent after it)."""
        self.over = True
        self.response.status = "failed"
        self.response.error = ResponseError(code, message)  # type: ignore[arg-type]
        return self._emit(Failed(response=self.response))

    def _emit(self, event: Event) -> bytes:
        event.sequence_number = self.sequence
        self.sequence += 1
        return event_bytes(event)

    def _chunk(self, answer: ChatAnswer) -> bytes:
        if answer.error is not None:
            code = "rate_limit_exceeded" if answer.error.code in _RATE_LIMITED else "server_error"
            return self._fail(code, answer.error.message)
        if answer.usage is not None:
            self.usage = answer.usage
        out = b""
        for choice in answer.choices[:1]:  # a Response has one answer
            if choice.finish_reason:
                self.finish = choice.finish_reason
            said = choice.delta
            if said is None:
                continue
            if thought := said.thought():
                out += self._text("reasoning", thought)
            if said.content:
                out += self._text("text", said.content)
            for call in said.tool_calls or []:
                out += self._call(call)
        return out

    @property
    def _index(self) -> int:
        return len(self.response.output) - 1

    def _text(self, kind: str, delta: str) -> bytes:
        """A delta of text or reasoning, opening its item first if it is not the open one."""
        out = b""
        if self.open != kind:
            out += self._close()
            self.open = kind
            out += self._open_text(kind)
        item = self.response.output[-1]
        item.content[0].text += delta  # type: ignore[union-attr]
        event = TextDelta if kind == "text" else ReasoningDelta
        ids = {"item_id": item.id, "output_index": self._index, "content_index": 0}
        return out + self._emit(event(delta=delta, **ids))

    def _open_text(self, kind: str) -> bytes:
        if kind == "text":
            item: OutputMessage | Reasoning = OutputMessage(new_id("msg"), [], "in_progress")
            part: OutputText | ReasoningText = OutputText("")
        else:
            item, part = Reasoning(new_id("rs"), [], status="in_progress"), ReasoningText("")
        self.response.output.append(item)
        i = self._index
        out = self._emit(ItemAdded(output_index=i, item=item))
        out += self._emit(PartAdded(item_id=item.id, output_index=i, content_index=0, part=part))
        item.content.append(part)  # type: ignore[arg-type]
        return out

    def _call(self, call: ChatCall) -> bytes:
        """A tool call's delta, opening its function_call item first if it is a new call."""
        out = b""
        kind, function = f"tool:{call.index}", call.function
        if self.open != kind:
            out += self._close()
            self.open = kind
            item = function_call(call.id, function.name if function else None, "")
            item.status = "in_progress"
            self.response.output.append(item)
            out += self._emit(ItemAdded(output_index=self._index, item=item))
        if function is not None and function.arguments:
            item = self.response.output[-1]  # type: ignore[assignment]
            item.arguments += function.arguments
            delta = ArgumentsDelta(
                item_id=item.id, output_index=self._index, delta=function.arguments
            )
            out += self._emit(delta)
        return out

    def _close(self) -> bytes:
        """The done events of the open item, if any."""
        if self.open is None:
            return b""
        kind, self.open = self.open, None
        item, i = self.response.output[-1], self._index
        item.status = "incomplete" if self.finish in _CUT else "completed"
        if type(item) is FunctionCall:
            done = ArgumentsDone(item_id=item.id, output_index=i, arguments=item.arguments)
            done.name = item.name
            out = self._emit(done)
        else:
            part = item.content[0]  # type: ignore[union-attr]
            ids = {"item_id": item.id, "output_index": i, "content_index": 0}
            text = (TextDone if kind == "text" else ReasoningDone)(text=part.text, **ids)
            out = self._emit(text) + self._emit(PartDone(part=part, **ids))
        return out + self._emit(ItemDone(output_index=i, item=item))
