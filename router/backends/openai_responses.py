"""An upstream's own Responses API (`POST /v1/responses`, passed through when the chat path
cannot express a request), read as far as the router reads chat answers: a whole answer's
usage, and each stream event as a `Chunk` for the meter (text deltas as text; the last event's
usage and finish), the events themselves going out as the bytes they came as.

The stream ends with `response.completed` or `response.incomplete`; `response.failed` and an
`error` event are the upstream's failure (before the first event: the next candidate answers).
"""

from __future__ import annotations

import msgspec

from router.errors import BackendError
from router.wire import Chunk, Usage
from router.wire.answers import ChunkChoice, Delta, PromptTokensDetails

_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.reasoning_text.delta"})
_ENDS = {"response.completed": "stop", "response.incomplete": "length"}


class _Details(msgspec.Struct):
    cached_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: _Details | None = None


class _Error(msgspec.Struct):
    message: str = ""
    code: str | None = None


class _Body(msgspec.Struct):
    status: str | None = None
    usage: _Usage | None = None
    error: _Error | None = None


class _Event(msgspec.Struct):
    type: str = ""
    delta: str | None = None
    response: _Body | None = None
    message: str | None = None  # an `error` event's
    code: str | None = None


_decode_body = msgspec.json.Decoder(_Body).decode
_decode_event = msgspec.json.Decoder(_Event).decode


def response_usage(name: str, content: bytes) -> Usage | None:
    """A whole Responses answer's usage, in chat's terms; an error object is a failure."""
    body = _decode_body(content)
    if body.error is not None and body.status in (None, "failed"):
        raise BackendError(f"{name}: {body.error.message or 'the response failed'}")
    return _chat_usage(body.usage)


def response_chunk(name: str, payload: bytes) -> Chunk:
    """One stream event (its `data` payload) as the meter reads it."""
    event = _decode_event(payload)
    kind = event.type
    if kind in _TEXT_DELTAS and event.delta:
        return Chunk([ChunkChoice(delta=Delta(content=event.delta))])
    if kind in _ENDS:
        body = event.response or _Body()
        return Chunk([ChunkChoice(finish_reason=_ENDS[kind])], _chat_usage(body.usage))
    if kind == "response.failed":
        error = (event.response or _Body()).error or _Error()
        raise BackendError(f"{name}: {error.message or 'the response failed'}")
    if kind == "error":
        raise BackendError(f"{name}: {event.message or event.code or 'an error event'}")
    return Chunk()


def _chat_usage(usage: _Usage | None) -> Usage | None:
    if usage is None:
        return None
    details = usage.input_tokens_details
    cached = details.cached_tokens if details is not None else None
    extra = PromptTokensDetails(cached) if cached is not None else msgspec.UNSET
    total = usage.total_tokens or usage.input_tokens + usage.output_tokens
    return Usage(usage.input_tokens, usage.output_tokens, total, extra)
