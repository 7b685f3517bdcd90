"""OpenAI's wire shapes: every request, answer, chunk and model list the router reads or writes.

One module per direction of the API, all names re-exported here (import from `router.wire`):

- `requests`: what clients send (chat and text completions, embeddings), decoded only as far
  as the router reads it, and "the user's text" of a request (one definition, for the
  classifier, the answer checks and the in-process models).
- `answers`: whole answers and streamed chunks, as read (metering, checks, calibration, an
  upstream's error body) and as written (in-process models, the router's own chunks).
- `models`: /v1/models, the router's cards and an upstream's list.

Chat and text completions share nearly every field (sampling, choices, chunks, usage), so they
share modules rather than each having one; an embedding's answer passes through unread, so
embeddings have only their request. Error bodies the router writes live with the errors
(`router.errors`).
"""

from router.wire.answers import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatLogprobs,
    CheckedChoice,
    CheckedMessage,
    CheckedReply,
    Chunk,
    ChunkChoice,
    Completion,
    CompletionChunk,
    Delta,
    ReplyHead,
    StreamDelta,
    StreamToolCall,
    TextChoice,
    TextChunkChoice,
    TextLogprobs,
    TokenLogprob,
    ToolCall,
    ToolCallFunction,
    TopLogprob,
    UpstreamError,
    UpstreamErrorDetail,
    Usage,
    decode_checked_reply,
    decode_chunk,
    decode_reply_head,
    decode_upstream_error,
    decode_usage,
    object_kind,
)
from router.wire.models import (
    ModelCard,
    ModelList,
    UpstreamModel,
    UpstreamModelList,
    decode_upstream_models,
    model_object,
)
from router.wire.requests import (
    ChatRequest,
    CompletionRequest,
    ContentPart,
    EmbeddingRequest,
    Message,
    ResponseFormat,
    Role,
    Sampling,
    StreamOptions,
    TokenCount,
    decode_chat,
    decode_completion,
    decode_embedding,
    decode_fields,
    encode,
    replace_fields,
)

__all__ = [
    "AssistantMessage",
    "ChatChoice",
    "ChatChunkChoice",
    "ChatLogprobs",
    "ChatRequest",
    "CheckedChoice",
    "CheckedMessage",
    "CheckedReply",
    "Chunk",
    "ChunkChoice",
    "Completion",
    "CompletionChunk",
    "CompletionRequest",
    "ContentPart",
    "Delta",
    "EmbeddingRequest",
    "Message",
    "ModelCard",
    "ModelList",
    "ReplyHead",
    "ResponseFormat",
    "Role",
    "Sampling",
    "StreamDelta",
    "StreamOptions",
    "StreamToolCall",
    "TextChoice",
    "TextChunkChoice",
    "TextLogprobs",
    "TokenCount",
    "TokenLogprob",
    "ToolCall",
    "ToolCallFunction",
    "TopLogprob",
    "UpstreamError",
    "UpstreamErrorDetail",
    "UpstreamModel",
    "UpstreamModelList",
    "Usage",
    "decode_chat",
    "decode_checked_reply",
    "decode_chunk",
    "decode_completion",
    "decode_embedding",
    "decode_fields",
    "decode_reply_head",
    "decode_upstream_error",
    "decode_upstream_models",
    "decode_usage",
    "encode",
    "model_object",
    "object_kind",
    "replace_fields",
]
