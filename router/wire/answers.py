"""What models answer, in OpenAI's shapes: whole answers (`chat.completion`, `text_completion`)
and streamed chunks, as the router reads them and as it writes its own.

Read: `Chunk` (a streamed chunk's text, tool calls, finish reason and usage: what metering,
the loop guard and calibration read), `ReplyHead` (a whole answer's usage, and whether it is an
error object), `CheckedReply` (a whole answer's text left as raw JSON, for the answer checks,
which read only its ends), `UpstreamError` (an upstream's error body, whatever its shape).

Written (the in-process models' answers, the router's own closing chunk): `Completion` and
`CompletionChunk`, their choices, messages, deltas, tool calls and log-probabilities.
"""

from __future__ import annotations

import time

import msgspec

# --- read --------------------------------------------------------------------------------------


class PromptTokensDetails(msgspec.Struct):
    cached_tokens: int = 0  # of the prompt's, read from a prompt cache


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    # unset (left out when written) unless the model reports it; an upstream may send null
    prompt_tokens_details: PromptTokensDetails | msgspec.UnsetType | None = msgspec.UNSET


class Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[msgspec.Raw] | None = None  # unread: only whether there are any


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Delta | None = None
    text: str | None = None  # text completions
    finish_reason: str | None = None


class Chunk(msgspec.Struct):
    """One streamed chunk, as far as the router reads it (to count and time tokens)."""

    choices: list[ChunkChoice] = []
    usage: Usage | None = None

    def text(self) -> str:
        parts: list[str] = []
        for choice in self.choices:
            if choice.delta is not None:
                parts.append(choice.delta.content or choice.delta.reasoning_content or "")
            elif choice.text:
                parts.append(choice.text)
        return "".join(parts)

    def has_tool_calls(self) -> bool:
        return any(c.delta is not None and c.delta.tool_calls for c in self.choices)


class ReplyHead(msgspec.Struct):
    """A whole answer as far as the OpenAI backend reads it: usage, and whether it is an error
    object (the rest left unread)."""

    usage: Usage | None = None
    error: msgspec.Raw = msgspec.Raw()  # empty: absent
    choices: msgspec.Raw = msgspec.Raw()
    data: msgspec.Raw = msgspec.Raw()


class CheckedMessage(msgspec.Struct):
    content: msgspec.Raw = msgspec.Raw()  # the JSON string, unread: only its ends are
    tool_calls: list[msgspec.Raw] | None = None


class CheckedChoice(msgspec.Struct):
    message: CheckedMessage | None = None
    text: msgspec.Raw = msgspec.Raw()
    finish_reason: str | None = None


class CheckedReply(msgspec.Struct):
    """A whole answer as the answer checks read it: each choice's text as raw JSON."""

    choices: list[CheckedChoice] = []


class UpstreamErrorDetail(msgspec.Struct):
    message: str | None = None


class UpstreamError(msgspec.Struct):
    """An upstream's error body: OpenAI's `{"error": {"message": ...}}`, a bare string
    `error`, or FastAPI's `detail`."""

    error: UpstreamErrorDetail | str | None = None
    detail: str | None = None

    def message(self) -> str:
        if isinstance(self.error, UpstreamErrorDetail):
            return self.error.message or ""
        return self.error or self.detail or ""


decode_chunk = msgspec.json.Decoder(Chunk).decode
decode_reply_head = msgspec.json.Decoder(ReplyHead).decode
decode_checked_reply = msgspec.json.Decoder(CheckedReply).decode
decode_upstream_error = msgspec.json.Decoder(UpstreamError).decode
decode_usage = msgspec.json.Decoder(Usage).decode

# --- written -----------------------------------------------------------------------------------


def object_kind(chat: bool, chunk: bool) -> str:
    """The `object` of an answer: chat or text completion, whole or a streamed chunk."""
    if not chat:
        return "text_completion"  # whole or streamed alike
    return "chat.completion.chunk" if chunk else "chat.completion"


class TopLogprob(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprob(msgspec.Struct):
    """One generated token's entry in a chat choice's `logprobs.content`."""

    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[TopLogprob]


class ChatLogprobs(msgspec.Struct):
    content: list[TokenLogprob]
    refusal: None = None


class TextLogprobs(msgspec.Struct):
    """A text completion's `logprobs` (the legacy shape: parallel lists)."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class ToolCallFunction(msgspec.Struct):
    name: str
    arguments: str  # JSON text


class ToolCall(msgspec.Struct):
    id: str
    function: ToolCallFunction
    type: str = "function"


class StreamToolCall(msgspec.Struct):
    index: int
    id: str
    function: ToolCallFunction
    type: str = "function"


class AssistantMessage(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None
    tool_calls: list[ToolCall] | None = None


class ChatChoice(msgspec.Struct):
    index: int
    message: AssistantMessage
    finish_reason: str
    logprobs: ChatLogprobs | None = None


class TextChoice(msgspec.Struct):
    index: int
    text: str
    finish_reason: str
    logprobs: TextLogprobs | None = None


class Completion(msgspec.Struct):
    """A whole answer."""

    id: str
    object: str  # "chat.completion" or "text_completion"
    created: int
    model: str
    choices: list[ChatChoice] | list[TextChoice]  # encoded only, never decoded
    usage: Usage


class StreamDelta(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    tool_calls: list[StreamToolCall] | None = None


class ChatChunkChoice(msgspec.Struct):
    index: int
    delta: StreamDelta
    finish_reason: str | None = None
    logprobs: ChatLogprobs | None = None


class TextChunkChoice(msgspec.Struct):
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: TextLogprobs | None = None


class CompletionChunk(msgspec.Struct):
    """One streamed chunk."""

    id: str
    object: str  # "chat.completion.chunk" or "text_completion"
    created: int
    model: str
    choices: list[ChatChunkChoice] | list[TextChunkChoice]  # encoded only
    usage: Usage | None = None


def closing_chunk(model: str, chat: bool, finish_reason: str) -> CompletionChunk:
    """The router's own last chunk of a stream it ends early: choice 0 closed with
    `finish_reason` (the loop guard's `content_filter`)."""
    now = int(time.time())
    choice: ChatChunkChoice | TextChunkChoice = (
        ChatChunkChoice(0, StreamDelta(), finish_reason)
        if chat
        else TextChunkChoice(0, "", finish_reason)
    )
    return CompletionChunk(f"router-{now}", object_kind(chat, True), now, model, [choice])  # type: ignore[list-item]


def sse_payloads(data: bytes) -> list[bytes]:
    """The `data:` payloads of server-sent events' bytes (comments and other fields skipped)."""
    return [line[5:].strip() for line in data.splitlines() if line.startswith(b"data:")]


_encode_event = msgspec.json.Encoder().encode


def sse_event(event: msgspec.Struct) -> bytes:
    """One server-sent event named by its tagged Struct's tag (`event: <tag>`, then its JSON as
    `data:`), as Anthropic's Messages and OpenAI's Responses API stream them."""
    kind = type(event).__struct_config__.tag
    return b"event: " + str(kind).encode() + b"\ndata: " + _encode_event(event) + b"\n\n"
