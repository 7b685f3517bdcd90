"""OpenAI wire types: the parts of requests and responses the router reads or writes.

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


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None


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


class ReplyHead(msgspec.Struct):
    """A non-streamed response, as far as the router reads it."""

    usage: Usage | None = None


class ModelCard(msgspec.Struct, omit_defaults=True):
    """A model as the catalogue knows it; `model_object` makes it a /v1/models entry."""

    id: str
    object: str = "model"
    created: int = 0  # Unix time (the upstream's, or the model folder's); 0: unknown
    owned_by: str = "router"
    context_length: int | None = None
    capabilities: list[str] = []
    state: str | None = None  # "loaded", "on disk" (in-process models) or "remote"
    size_bytes: int | None = None
    load_seconds: float | None = None


def model_object(card: ModelCard, created: int) -> dict[str, object]:
    """The card as an entry of /v1/models: OpenAI's `Model` (id, object, created, owned_by,
    always present; `created` when the card has none) followed by the router's own fields."""
    created = card.created or created
    head = {"id": card.id, "object": "model", "created": created, "owned_by": card.owned_by}
    return head | msgspec.to_builtins(card)


class ModelList(msgspec.Struct):
    data: list[dict[str, object]]
    object: str = "list"


class UpstreamModel(msgspec.Struct):
    """An entry of an upstream's /v1/models; servers name the context length differently."""

    id: str
    created: object = None  # Unix time as an int; anything else is ignored, not an error
    owned_by: str | None = None
    context_length: int | None = None
    max_context_length: int | None = None
    max_model_len: int | None = None
    capabilities: list[str] | None = None

    def context(self) -> int | None:
        return self.context_length or self.max_context_length or self.max_model_len


class UpstreamModelList(msgspec.Struct):
    data: list[UpstreamModel]


class ModelField(msgspec.Struct):
    """Just the model name, read first to find out where a request goes."""

    model: str | None = None


decode_chat = msgspec.json.Decoder(ChatRequest).decode
decode_completion = msgspec.json.Decoder(CompletionRequest).decode
decode_embedding = msgspec.json.Decoder(EmbeddingRequest).decode
decode_chunk = msgspec.json.Decoder(Chunk).decode
decode_reply_head = msgspec.json.Decoder(ReplyHead).decode
decode_upstream_models = msgspec.json.Decoder(UpstreamModelList).decode
decode_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
encode = msgspec.json.Encoder().encode


def replace_fields(body: bytes, **fields: object) -> bytes:
    """The body with some top-level fields set; every other field kept byte for byte."""
    top = decode_fields(body)
    for key, value in fields.items():
        top[key] = msgspec.Raw(encode(value))
    return encode(top)
