"""What an in-process model reads from a request, and the OpenAI shapes of what it answers.

`Fields` decodes (from the client's body) every field of OpenAI's chat and text completion
requests that changes an answer, beyond those `router.wire` reads for routing. Each is either
honoured or refused: `refusal` names the first field the backend cannot honour, and the backend
answers 400 with it as `param`; no field is dropped silently.

- `n`: several generations, one after another (at most `MAX_N`).
- `logprobs`, `top_logprobs`: mlx-lm's per-token log-probabilities (chat: top_logprobs <= 20;
  text completions: logprobs <= 5).
- `tools`, `tool_choice`: the chat template and mlx-lm's tool parser; tool_choice `auto` or
  `none`. 400 when mlx-lm knows no tool-call format for the model, and for `required` or a named
  function (nothing can force a call). `parallel_tool_calls: false`: the first call only.
- `response_format`: `text`; `json_object` and `json_schema` by a checked generation (`mlx_json`).
- `temperature`, `top_p`, `seed`, `stop`, `presence_penalty`, `frequency_penalty`, `logit_bias`,
  and mlx_lm.server's `top_k`, `min_p`, `repetition_penalty`: mlx-lm's sampler and logits
  processors (`mlx_sampling`).
- `user`, `metadata`, `store`, `service_tier`, `prediction`: no effect on an answer; accepted.
- 400: `audio`, `modalities` other than text, `functions`, `function_call`, `reasoning_effort`,
  `web_search_options`, `echo`, `suffix`, `best_of` > 1.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import msgspec

from router.backends.mlx.sampling import TokenLogprob
from router.backends.protocol import StreamEvent
from router.errors import BackendStatusError, split_validation
from router.wire import Chunk, ChunkChoice, Delta, Usage

MAX_N = 8  # choices per request: each is a whole generation on a shared thread
Bias = Annotated[float, msgspec.Meta(ge=-100, le=100)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]


class Unsupported(BackendStatusError):
    """A request field an in-process model cannot honour: 400, naming the field."""

    code = "unsupported_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(400, message)
        self.param = param


class _Function(msgspec.Struct):
    name: str = ""


class _NamedChoice(msgspec.Struct):
    type: str = "function"
    function: _Function | None = None


class JsonSchema(msgspec.Struct):
    name: str = ""
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class Format(msgspec.Struct):
    type: str
    json_schema: JsonSchema | None = None


class Fields(msgspec.Struct, kw_only=True):
    """The answer-changing fields of a chat or text completion request (None: unset)."""

    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    logprobs: bool | Annotated[int, msgspec.Meta(ge=0, le=5)] | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | _NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: Format | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    min_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    repetition_penalty: Annotated[float, msgspec.Meta(gt=0)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[int, Bias] | None = None
    seed: int | None = None
    messages: list[dict[str, Any]] | None = None  # chat: as sent (tool calls and results)
    audio: Any = None
    modalities: list[str] | None = None
    functions: Any = None
    function_call: Any = None
    reasoning_effort: Any = None
    web_search_options: Any = None
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = None

    def top(self) -> int | None:
        """How many alternatives each token's log-probability comes with; None: no logprobs."""
        if self.logprobs is None or self.logprobs is False:
            return None
        if self.logprobs is True:
            return self.top_logprobs or 0
        return int(self.logprobs)

    def json_format(self) -> Format | None:
        fmt = self.response_format
        return fmt if fmt is not None and fmt.type in ("json_object", "json_schema") else None


_decode_fields = msgspec.json.Decoder(Fields).decode


def read_fields(body: bytes, name: str) -> Fields:
    """The request's fields; a bad value is a 400 naming it."""
    try:
        return _decode_fields(body)
    except msgspec.ValidationError as err:
        problem, key = split_validation(err)
        raise Unsupported(key, f"{name}: {key or 'request'}: {problem}") from None


_REFUSED = {
    "audio": "in-process models answer in text only",
    "functions": "use tools (functions is deprecated)",
    "function_call": "use tool_choice (function_call is deprecated)",
    "reasoning_effort": "in-process models have no reasoning effort setting",
    "web_search_options": "in-process models cannot search the web",
    "suffix": "in-process models do not insert text",
}


def refusal(fields: Fields, chat: bool) -> tuple[str, str] | None:
    """The first field these models cannot honour, and why; None when all can be."""
    for name, why in _REFUSED.items():
        if getattr(fields, name) is not None:
            return name, why
    if fields.modalities and set(fields.modalities) - {"text"}:
        return "modalities", "in-process models answer in text only"
    if fields.echo:
        return "echo", "in-process models do not echo the prompt"
    if fields.best_of is not None and fields.best_of > 1:
        return "best_of", "use n: in-process models do not rank candidates"
    if (fields.n or 1) > MAX_N:
        return "n", f"in-process models make at most {MAX_N} choices per request"
    if fields.response_format and fields.response_format.type not in (
        "text",
        "json_object",
        "json_schema",
    ):
        return "response_format", f"unknown type {fields.response_format.type!r}"
    if chat and isinstance(fields.logprobs, int) and not isinstance(fields.logprobs, bool):
        return "logprobs", "a chat request's logprobs is true or false (see top_logprobs)"
    return _tool_refusal(fields)


def _tool_refusal(fields: Fields) -> tuple[str, str] | None:
    choice = fields.tool_choice
    if choice is None or choice in ("auto", "none"):
        return None
    if choice == "required" or isinstance(choice, _NamedChoice):
        return "tool_choice", "in-process models cannot be made to call a tool; use auto"
    return "tool_choice", f"unknown tool_choice {choice!r}"


# --- what the backend answers (OpenAI's field names) -----------------------------------------


class ToolCallFunction(msgspec.Struct):
    name: str
    arguments: str  # JSON text


class ToolCall(msgspec.Struct):
    id: str
    function: ToolCallFunction
    type: str = "function"


class _StreamToolCall(msgspec.Struct):
    index: int
    id: str
    function: ToolCallFunction
    type: str = "function"


class _Message(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None
    tool_calls: list[ToolCall] | None = None


class _ChatLogprobs(msgspec.Struct):
    content: list[TokenLogprob]
    refusal: None = None


class _TextLogprobs(msgspec.Struct):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class _ChatChoice(msgspec.Struct):
    index: int
    message: _Message
    finish_reason: str
    logprobs: _ChatLogprobs | None = None


class _TextChoice(msgspec.Struct):
    index: int
    text: str
    finish_reason: str
    logprobs: _TextLogprobs | None = None


class _Completion(msgspec.Struct):
    id: str
    object: str  # "chat.completion" or "text_completion"
    created: int
    model: str
    choices: list[_ChatChoice] | list[_TextChoice]  # encoded only, never decoded
    usage: Usage


class _DeltaOut(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    tool_calls: list[_StreamToolCall] | None = None


class _ChatChunkChoice(msgspec.Struct):
    index: int
    delta: _DeltaOut
    finish_reason: str | None = None
    logprobs: _ChatLogprobs | None = None


class _TextChunkChoice(msgspec.Struct):
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: _TextLogprobs | None = None


class _ChunkOut(msgspec.Struct):
    id: str
    object: str  # "chat.completion.chunk" or "text_completion"
    created: int
    model: str
    choices: list[_ChatChunkChoice] | list[_TextChunkChoice]  # encoded only
    usage: Usage | None = None


_encode = msgspec.json.Encoder().encode


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
                message = _Message(
                    "assistant", c.text() or (None if c.tool_calls else ""), c.tool_calls or None
                )
                made.append(_ChatChoice(index, message, c.finish_reason, logprobs))
            else:
                made.append(_TextChoice(index, c.text(), c.finish_reason, logprobs))
        kind = "chat.completion" if self.chat else "text_completion"
        return _encode(_Completion(self.id, kind, self.created, self.model, made, usage))

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
            calls = [_StreamToolCall(i, c.id, c.function) for i, c in enumerate(tool_calls or ())]
            delta = _DeltaOut("assistant" if first else None, text, calls or None)
            choice: Any = _ChatChunkChoice(index, delta, finish, lp)
            seen = ChunkChoice(index, Delta(content=text), None, finish)
        else:
            choice = _TextChunkChoice(index, text or "", finish, lp)
            seen = ChunkChoice(index, None, text or "", finish)
        return self._out([choice], Chunk([seen]))

    def usage_event(self, usage: Usage) -> StreamEvent:
        return self._out([], Chunk([], usage), usage)

    def _out(self, choices: list[Any], seen: Chunk, usage: Usage | None = None) -> StreamEvent:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        out = _ChunkOut(self.id, kind, self.created, self.model, choices, usage)
        return StreamEvent(b"data: " + _encode(out) + b"\n\n", seen)

    def _logprobs(self, entries: list[TokenLogprob]) -> Any:
        if self.chat:
            return _ChatLogprobs(entries)
        offsets, at = [], 0
        for e in entries:
            offsets.append(at)
            at += len(e.token)
        return _TextLogprobs(
            [e.token for e in entries],
            [e.logprob for e in entries],
            [{t.token: t.logprob for t in e.top_logprobs} for e in entries],
            offsets,
        )
