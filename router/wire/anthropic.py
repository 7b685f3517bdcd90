"""Anthropic's Messages API on the wire: what clients send to `POST /v1/messages` (and
`/v1/messages/count_tokens`), the message the router answers, the streamed events, and the
error shape. The shapes follow the `anthropic` SDK's typed models.

Content blocks are tagged unions on `type`, so a block the router cannot serve (a document, a
server tool's result) is a 400 naming it rather than something dropped. Fields the router does
not translate (`cache_control`, `citations`, `thinking`'s budget) are accepted and ignored.
Translating to and from chat completions is `router.wire.anthropic_chat`'s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from router.wire.answers import sse_event

TokenCount = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]

# --- content blocks (read in requests, the first three also written in answers) ----------------


class TextBlock(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ToolUseBlock(msgspec.Struct, tag="tool_use", tag_field="type"):
    id: str
    name: str
    input: dict[str, Any]


class ThinkingBlock(msgspec.Struct, tag="thinking", tag_field="type"):
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(msgspec.Struct, tag="redacted_thinking", tag_field="type"):
    data: str = ""


class ImageSource(msgspec.Struct):
    type: Literal["base64", "url"]
    media_type: str | None = None
    data: str | None = None
    url: str | None = None

    def as_url(self) -> str:
        """The image as an OpenAI `image_url` (a data URL for base64 images)."""
        if self.type == "url":
            return self.url or ""
        return f"data:{self.media_type or 'image/png'};base64,{self.data or ''}"


class ImageBlock(msgspec.Struct, tag="image", tag_field="type"):
    source: ImageSource


class ToolResultBlock(msgspec.Struct, tag="tool_result", tag_field="type"):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] = ""
    is_error: bool | None = None


InBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock
InBlock = InBlock | RedactedThinkingBlock
OutBlock = TextBlock | ToolUseBlock | ThinkingBlock


# --- requests ----------------------------------------------------------------------------------


class InputMessage(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: str | list[InBlock]


class Tool(msgspec.Struct):
    """A client tool (the only kind served: Anthropic's server tools have no schema here)."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    input_schema: dict[str, Any]
    description: str | None = None
    type: Literal["custom"] | None = None


class ToolChoice(msgspec.Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(msgspec.Struct):
    user_id: str | None = None


class CountRequest(msgspec.Struct, kw_only=True):
    """`POST /v1/messages/count_tokens`: a message request without the answer's settings."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    messages: Annotated[list[InputMessage], msgspec.Meta(min_length=1, max_length=100_000)]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: msgspec.Raw = msgspec.Raw()  # read leniently (anthropic_chat): never an error


class MessagesRequest(CountRequest, kw_only=True):
    """`POST /v1/messages`."""

    max_tokens: TokenCount
    stop_sequences: list[str] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    metadata: Metadata | None = None
    stream: bool | None = None


decode_messages = msgspec.json.Decoder(MessagesRequest).decode
decode_count = msgspec.json.Decoder(CountRequest).decode

# --- answers -----------------------------------------------------------------------------------

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class MessageUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int | None = None


class Message(msgspec.Struct, tag="message", tag_field="type"):
    id: str
    model: str
    content: list[OutBlock]
    usage: MessageUsage
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    role: str = "assistant"


class TokensCount(msgspec.Struct):
    input_tokens: int


# --- stream events -----------------------------------------------------------------------------


class TextDelta(msgspec.Struct, tag="text_delta", tag_field="type"):
    text: str


class InputJsonDelta(msgspec.Struct, tag="input_json_delta", tag_field="type"):
    partial_json: str


class ThinkingDelta(msgspec.Struct, tag="thinking_delta", tag_field="type"):
    thinking: str


class MessageStart(msgspec.Struct, tag="message_start", tag_field="type"):
    message: Message


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


class BlockStart(msgspec.Struct, tag="content_block_start", tag_field="type"):
    index: int
    content_block: OutBlock


class BlockDelta(msgspec.Struct, tag="content_block_delta", tag_field="type"):
    index: int
    delta: TextDelta | InputJsonDelta | ThinkingDelta


class BlockStop(msgspec.Struct, tag="content_block_stop", tag_field="type"):
    index: int


class StopDelta(msgspec.Struct):
    stop_reason: StopReason | None
    stop_sequence: str | None = None


class DeltaUsage(msgspec.Struct):
    output_tokens: int
    input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class MessageDelta(msgspec.Struct, tag="message_delta", tag_field="type"):
    delta: StopDelta
    usage: DeltaUsage


class MessageStop(msgspec.Struct, tag="message_stop", tag_field="type"):
    pass


# --- errors ------------------------------------------------------------------------------------


class ErrorInfo(msgspec.Struct):
    type: str
    message: str


class Error(msgspec.Struct, tag="error", tag_field="type"):
    """`{"type": "error", "error": {"type": ..., "message": ...}}`: an error body, and the
    `error` event ending a stream that failed."""

    error: ErrorInfo


Event = MessageStart | Ping | BlockStart | BlockDelta | BlockStop | MessageDelta | MessageStop
Event = Event | Error

# Anthropic's error type for each status the router answers with; 503 goes out as 529.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
OVERLOADED = 529


def error_status(status: int) -> int:
    """The status an Anthropic client gets for the router's: overloaded is 529 there."""
    return OVERLOADED if status == 503 else status


def error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "invalid_request_error" if status < 500 else "api_error"


_encode = msgspec.json.Encoder().encode


def event_bytes(event: Event) -> bytes:
    """One server-sent event as Anthropic streams them: its type named twice."""
    return sse_event(event)


def error_body(status: int, message: str) -> tuple[int, bytes]:
    """(status, body) of an error as an Anthropic client expects it."""
    status = error_status(status)
    return status, _encode(Error(ErrorInfo(error_type(status), message)))
