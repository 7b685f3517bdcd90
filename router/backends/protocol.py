"""The one seam between the router and whatever runs a model.

A `Backend` serves some models: an OpenAI-compatible server over HTTP (`openai`), or models
run in this process (`mlx`). The router asks it for its models, for a whole answer, or for a
stream of events; everything below that seam (sockets, threads, Metal) stays inside the
backend, and every failure comes out as a `router.errors.BackendError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol

import msgspec

from router.wire import ChatRequest, Chunk, CompletionRequest, EmbeddingRequest, ModelCard, Usage

# `responses`: a Responses API request passed through as it is, to an upstream that serves it
Endpoint = Literal["chat/completions", "completions", "embeddings", "responses"]
Parsed = ChatRequest | CompletionRequest | EmbeddingRequest


class BackendRequest(msgspec.Struct):
    """One call to a backend: which endpoint, which of its models, and the body to send."""

    endpoint: Endpoint
    model: str  # the backend's own name for the model
    body: bytes  # the client's body, model renamed where needed; sent as is over HTTP
    parsed: Parsed  # the decoded view, for backends that do not speak HTTP
    max_tokens: int | None = None  # the router's cap when the client set none (mlx honours it)


class Reply(msgspec.Struct):
    """A whole (non-streamed) answer: the body to return, its usage where it says, and when
    its first token was made (`time.perf_counter()`), where the backend can tell."""

    body: bytes
    usage: Usage | None = None
    first_token_at: float | None = None


class StreamEvent(msgspec.Struct):
    """One server-sent event: its bytes as they go to the client, and what it holds."""

    data: bytes  # a complete SSE event, ending in a blank line
    chunk: Chunk | None  # None for the closing `[DONE]`


DONE = StreamEvent(b"data: [DONE]\n\n", None)


class Backend(Protocol):
    """A source of models. One instance per `[[backends]]` entry of the config."""

    name: str
    kind: str

    async def start(self) -> None:
        """Open connection pools or threads. Called once, before any other method."""

    async def close(self) -> None:
        """Release everything `start` opened; requests still running are cancelled."""

    def listed(self) -> list[ModelCard]:
        """The models known without asking the backend (from config); [] when it must be asked.

        The catalogue keeps these while the backend is down, so requests for them get a 502
        and a fallback rather than a 404.
        """
        ...

    async def models(self) -> list[ModelCard]:
        """The models this backend serves now, configured or discovered.

        Doubles as the health check: raises `BackendError` when the backend cannot be reached.
        """
        ...

    def warm(self, model: str) -> None:
        """Start making the model ready (loading it) without waiting: the router has chosen it
        and may still queue in front of it. A hint: never raises, never blocks."""

    async def complete(self, request: BackendRequest) -> Reply:
        """One whole answer. Raises `BackendError` (retryable or not) when none can be had."""
        ...

    def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        """The answer as events, ending with `DONE`.

        A failure before the first event raises `BackendError` from the first `__anext__`, so the
        caller can still try another model; a later failure raises mid-iteration. Closing the
        iterator early (`aclose`) stops the generation and frees the connection.
        """
        ...
