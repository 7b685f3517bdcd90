"""The `openai` backend: any OpenAI-compatible server (LM Studio, Ollama, llama.cpp, vLLM,
mlx_lm.server) over one connection pool per upstream.

Bodies go out as the client sent them; streamed answers come back as server-sent events, split
and decoded into typed chunks here so that the router can count and time tokens, while the
bytes of each event pass through unchanged.

Generation requests to an http:// upstream (every local server) go straight through
`router.backends.http.pool.Pool` (the hot path: no httpx Request/Response objects); https://
upstreams
and the model lists go through an `httpx.AsyncClient` whose transport is the same pool for
http:// and httpx's own for the rest. Both raise httpx's exceptions; those and the
decoders' errors are translated into the router's error tree by `with translated(...):` around
each call (`router.backends.translate`), and nowhere else.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import httpx

from router import __version__
from router.backends.http.pool import HTTPTransport, Pool
from router.backends.openai_responses import response_chunk, response_usage
from router.backends.openai_whole import answer_usage, error_message, read_whole
from router.backends.protocol import DONE, BackendRequest, Reply, StreamEvent
from router.backends.translate import translated
from router.config import ModelEntry, OpenAIBackendConfig
from router.errors import (
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeout,
    BackendUnavailable,
)
from router.wire import (
    ModelCard,
    UpstreamModel,
    decode_chunk,
    replace_fields,
)
from router.wire import decode_upstream_models as _decode_models

_EVENT_END = b"\n\n"
MAX_EVENT_BYTES = 16 * 2**20  # a server-sent event larger than this is cut off
MAX_MODELS_BYTES = 8 * 2**20  # and so is a model list
_ERROR_BODY_BYTES = 64 * 1024  # of an error answer, enough to read its message
_ENDPOINTS = ("chat/completions", "completions", "embeddings", "responses")


class OpenAIBackend:
    """An OpenAI-compatible upstream. See `router.backends.Backend` for the contract."""

    kind = "openai"

    def __init__(self, config: OpenAIBackendConfig) -> None:
        self.name = config.name
        self.base_url = config.base_url.rstrip("/")
        url = httpx.URL(self.base_url)
        shown_url = str(url.copy_with(userinfo=b""))  # for messages: no user:password
        self._where = f"{self.name} ({shown_url})"
        self._configured = config.model_entries()
        self._responses = config.responses  # it serves /v1/responses: passed-through requests
        self._max_answer = config.max_answer_bytes
        self._read_timeout = config.read_timeout
        headers = {"accept-encoding": "identity", "content-type": "application/json"}
        if key := config.api_key():
            headers["authorization"] = f"Bearer {key}"
        transport = HTTPTransport(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_connections=config.max_connections,
        )
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            transport=transport,
            trust_env=False,  # a proxy from the environment must not see local traffic
        )
        self._pool: Pool | None = None
        if url.scheme == "http":  # the fast path; https stays with httpx
            self._pool = transport.pool(url.host, url.port or 80)
            if url.userinfo:  # as httpx does: credentials in the URL are sent as Basic auth
                userpass = f"{url.username}:{url.password}".encode()
                headers["authorization"] = "Basic " + base64.b64encode(userpass).decode()
            agent = ("user-agent", f"router/{__version__}")
            self._head = self._pool.header_block([agent, *headers.items()])
            base = url.raw_path.decode("ascii").rstrip("/")
            self._targets = {endpoint: f"{base}/{endpoint}" for endpoint in _ENDPOINTS}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._client.aclose()

    def listed(self) -> list[ModelCard]:
        return [self._served(_card(self.name, e.id, None, e)) for e in self._configured or ()]

    def _served(self, card: ModelCard) -> ModelCard:
        """The card, with `responses` among its capabilities when the upstream serves the
        Responses API itself (routing sends it what the chat path cannot express)."""
        if self._responses and "responses" not in card.capabilities:
            card.capabilities = [*card.capabilities, "responses"]
        return card

    def warm(self, model: str) -> None:
        return None  # the upstream loads on demand (LM Studio's JIT, Ollama); nothing to ask

    async def models(self) -> list[ModelCard]:
        with translated(self._where, "model list"):
            async with self._client.stream("GET", "models") as response:
                status = response.status_code
                content = await read_whole(response, MAX_MODELS_BYTES, "model list")
            self._raise_for_status(status, content)
            found = {m.id: m for m in _decode_models(content).data}
        if self._configured is None:
            return [self._served(_card(self.name, m.id, m, None)) for m in found.values()]
        configured = self._configured
        return [
            self._served(_card(self.name, e.id, found.get(e.upstream_id or e.id), e))
            for e in configured
        ]

    def upstream_id(self, model_id: str) -> str:
        """The upstream's own name for one of this backend's models."""
        for entry in self._configured or ():
            if entry.id == model_id and entry.upstream_id:
                return entry.upstream_id
        return model_id

    def _body(self, request: BackendRequest) -> bytes:
        """The body to send: the client's, with the upstream's model name and, for streams,
        usage asked for (so tokens can be counted; the router drops it if the client did not)."""
        changes: dict[str, object] = {}
        if request.parsed.model != (upstream := self.upstream_id(request.model)):
            changes["model"] = upstream
        if request.endpoint == "responses":
            self._check_responses()
        elif getattr(request.parsed, "stream", False) and not request.parsed.wants_usage():
            changes["stream_options"] = {"include_usage": True}
        return replace_fields(request.body, **changes) if changes else request.body

    async def complete(self, request: BackendRequest) -> Reply:
        body = self._body(request)
        with translated(self._where, "answer", cap="max_answer_bytes"):
            if self._pool is not None:
                target = self._targets[request.endpoint]
                answer = await self._pool.request(
                    "POST", target, body, self._head, max_body=self._max_answer
                )
                status, headers, content = answer.status, answer.headers, answer.body
            else:
                status, headers, content = await self._post_httpx(request.endpoint, body)
            self._raise_for_status(status, content, headers)
            if request.endpoint == "responses":
                return Reply(content, response_usage(self.name, content))
            return Reply(content, answer_usage(self.name, content))

    def _check_responses(self) -> None:
        if not self._responses:
            message = f"{self.name}: not configured as serving the Responses API (responses = true)"
            raise BackendStatusError(400, message)

    async def _post_httpx(
        self, endpoint: str, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A whole answer through httpx (https upstreams), cut off past `max_answer_bytes`."""
        async with self._client.stream("POST", endpoint, content=body) as response:
            content = await read_whole(response, self._max_answer, "answer")
            return response.status_code, response.headers.raw, content

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        body = self._body(request)
        with translated(self._where, "event in the stream"):
            if self._pool is not None:
                response: _Streaming = await self._pool.stream(
                    "POST", self._targets[request.endpoint], body, self._head
                )
            else:
                outgoing = self._client.build_request("POST", request.endpoint, content=body)
                response = _HttpxStream(await self._client.send(outgoing, stream=True))
            try:
                if response.status >= 400:
                    error = await response.aread(_ERROR_BODY_BYTES)
                    self._raise_for_status(response.status, error, response.headers)
                async for event in self._events(response.read, request.endpoint == "responses"):
                    yield event
            finally:
                await response.aclose()

    async def _events(
        self, read: Callable[[], Awaitable[bytes]], responses: bool = False
    ) -> AsyncIterator[StreamEvent]:
        """The events of an SSE body (`read` gives its bytes as they come, b"" at the end).

        Linear in the body's size: each byte is scanned once for an event's end, and only
        an unfinished event's bytes are kept (in a growing buffer, up to MAX_EVENT_BYTES).
        The read timeout counts from the last event: keep-alive comments alone do not hold
        a stream open (only the time spent waiting for bytes counts, not a slow client's)."""
        rest: bytes | bytearray = b""  # the start of an event not complete yet
        cr = False  # the last piece ended in "\r": held back in case "\n" starts the next
        finished = False
        waited = 0.0  # seconds spent waiting for bytes since the last event
        while True:
            began = time.monotonic()
            piece = await read()
            waited += time.monotonic() - began
            if not piece:
                break
            if cr or b"\r" in piece:
                piece, cr = _unix_newlines(piece, cr)
            data, scan = _appended(rest, piece)
            start = 0
            while (end := data.find(_EVENT_END, scan)) >= 0:
                raw = data[start : end + 2]
                start = scan = end + 2
                event = self._event(raw if type(raw) is bytes else bytes(raw), responses)
                if event is None:
                    continue
                waited = 0.0
                yield event
                if event is DONE:
                    return
                finished = finished or any(c.finish_reason for c in event.chunk.choices)
            rest = data[start:] if start else data
            self._check_progress(len(rest), waited)
        if not finished:  # a clean end after the last choice finished is fine without [DONE]
            raise BackendUnavailable(f"{self.name}: the stream ended before the answer did")
        yield DONE

    def _check_progress(self, unfinished: int, waited: float) -> None:
        """An unfinished event within MAX_EVENT_BYTES, an event within the read timeout."""
        if unfinished > MAX_EVENT_BYTES:
            raise BackendProtocolError(
                f"{self.name}: a server-sent event larger than {MAX_EVENT_BYTES} bytes"
            )
        if waited > self._read_timeout:
            raise BackendTimeout(
                f"{self.name}: no event within {self._read_timeout:g}s (only comments)"
            )

    def _event(self, raw: bytes, responses: bool = False) -> StreamEvent | None:
        """One event's bytes (ending in a blank line) as a decoded, pass-through event (an
        upstream's own Responses event with `responses`)."""
        if raw.startswith(b"data: ") and raw.find(b"\n") == len(raw) - 2:
            payload = raw[6:-2]  # the usual shape: one data line
        else:
            payload = b"".join(
                line[5:].lstrip() for line in raw.split(b"\n") if line.startswith(b"data:")
            )
        if not payload:
            return None  # a comment or keep-alive
        if payload == b"[DONE]":
            return DONE
        if responses:
            return StreamEvent(raw, response_chunk(self.name, payload))
        chunk = decode_chunk(payload)  # a malformed one raises, translated by `stream`
        if not chunk.choices and chunk.usage is None and b'"error"' in payload:
            raise BackendError(f"{self.name}: {error_message(payload)}")
        return StreamEvent(raw, chunk)

    def _raise_for_status(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        if status >= 400:
            retry_after = next(
                (v.decode("latin-1") for k, v in headers or () if k.lower() == b"retry-after"),
                None,
            )
            message = f"{self.name}: {error_message(body) or status}"
            raise BackendStatusError(status, message, retry_after=retry_after)


def _appended(rest: bytes | bytearray, piece: bytes) -> tuple[bytes | bytearray, int]:
    """The unfinished event so far with the new piece (in a growing buffer), and where an
    event's end may begin (it may straddle the two)."""
    if not rest:
        return piece, 0
    if type(rest) is bytes:
        rest = bytearray(rest)
    scan = len(rest) - 1
    rest += piece
    return rest, scan


def _unix_newlines(piece: bytes, cr: bool) -> tuple[bytes, bool]:
    """`piece` with CRLF as LF, a CR at its end held back; `cr`: one was held back before."""
    if cr:
        piece = b"\r" + piece
    held = piece.endswith(b"\r")
    if held:
        piece = piece[:-1]
    return piece.replace(b"\r\n", b"\n"), held


class _Streaming(Protocol):
    """What `stream` reads a response through (a `router.backends.http.pool.Streamed`, or
    httpx's)."""

    status: int

    async def read(self) -> bytes: ...
    async def aread(self, limit: int) -> bytes: ...
    async def aclose(self) -> None: ...


class _HttpxStream:
    """An httpx streamed response with `router.backends.http.pool.Streamed`'s methods (https)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.headers = response.headers.raw
        self._pieces = response.aiter_raw()

    async def read(self) -> bytes:
        return await anext(self._pieces, b"")

    async def aread(self, limit: int) -> bytes:
        parts, size = [], 0
        async for piece in self._pieces:
            parts.append(piece)
            size += len(piece)
            if size >= limit:
                break
        return b"".join(parts)

    async def aclose(self) -> None:
        await self.response.aclose()


def _card(
    backend: str, model_id: str, found: UpstreamModel | None, entry: ModelEntry | None
) -> ModelCard:
    """A model's card from its config entry and the upstream's listing; owned by what the
    upstream says, else by the backend, created when the upstream says."""
    context = (entry.context_length if entry else None) or (found.context() if found else None)
    capabilities = list(entry.capabilities) if entry and entry.capabilities else []
    if not capabilities and found and found.capabilities:
        capabilities = list(found.capabilities)
    owned_by = (found.owned_by if found else None) or backend
    created = found.created if found and type(found.created) is int and found.created > 0 else 0
    return ModelCard(
        model_id,
        created=created,
        owned_by=owned_by,
        context_length=context,
        capabilities=capabilities,
    )
