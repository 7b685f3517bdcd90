"""What clients send (chat and text completions, embeddings), as far as the router reads it.

The router forwards a client's body as it came; these Structs decode only the fields it
needs (model, stream, messages for classification, sampling settings for in-process models)
and ignore the rest, which therefore reaches the upstream untouched. Decoders are built once.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

TokenCount = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class Message(msgspec.Struct):
    role: Role
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text, its text parts joined; images and other parts left out."""
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(p.text for p in self.content if p.text)

    def has_image(self) -> bool:
        return isinstance(self.content, list) and any(
            p.type in ("image_url", "input_image") for p in self.content
        )


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ResponseFormat(msgspec.Struct):
    type: str


class Sampling(msgspec.Struct, kw_only=True):
    """Settings shared by chat and text completions."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    stream: bool | None = None  # null is absent, as everywhere the spec allows null
    stream_options: StreamOptions | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    seed: int | None = None
    stop: str | list[str] | None = None

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def wants_usage(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)


class ChatRequest(Sampling, kw_only=True):
    messages: Annotated[list[Message], msgspec.Meta(min_length=1, max_length=100_000)]
    tools: list[msgspec.Raw] | None = None
    response_format: ResponseFormat | None = None


class CompletionRequest(Sampling, kw_only=True):
    prompt: str | list[str]


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: str | list[str | int | list[int]]


decode_chat = msgspec.json.Decoder(ChatRequest).decode
decode_completion = msgspec.json.Decoder(CompletionRequest).decode
decode_embedding = msgspec.json.Decoder(EmbeddingRequest).decode
decode_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
encode = msgspec.json.Encoder().encode


def replace_fields(body: bytes, **fields: object) -> bytes:
    """The body with some top-level fields set; every other field kept byte for byte."""
    top = decode_fields(body)
    for key, value in fields.items():
        top[key] = msgspec.Raw(encode(value))
    return encode(top)
