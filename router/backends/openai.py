"""The `openai` backend: any OpenAI-compatible server (LM Studio, Ollama, llama.cpp, vLLM,
mlx_lm.server) over one pooled `httpx.AsyncClient`.

Bodies go out as the client sent them; streamed answers come back as server-sent events, split
and decoded into typed chunks here so that the router can count and time tokens, while the
bytes of each event pass through unchanged. httpx's errors are translated into the router's
error tree in `_translate`, and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec

from router.backends import DONE, BackendRequest, Reply, StreamEvent
from router.config import BackendConfig, ModelEntry
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
    decode_reply_head,
    replace_fields,
)
from router.wire import decode_upstream_models as _decode_models

_EVENT_END = b"\n\n"


class _UpstreamErrorDetail(msgspec.Struct):
    message: str | None = None


class _UpstreamError(msgspec.Struct):
    error: _UpstreamErrorDetail | str | None = None
    detail: str | None = None


_decode_error = msgspec.json.Decoder(_UpstreamError).decode


class OpenAIBackend:
    """An OpenAI-compatible upstream. See `router.backends.Backend` for the contract."""

    kind = "openai"

    def __init__(self, config: BackendConfig) -> None:
        assert config.base_url is not None  # checked by BackendConfig
        self.name = config.name
        self.base_url = config.base_url.rstrip("/")
        self._configured = config.model_entries()
        headers = {"accept-encoding": "identity", "content-type": "application/json"}
        if key := config.api_key():
            headers["authorization"] = f"Bearer {key}"
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            trust_env=False,  # a proxy from the environment must not see local traffic
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._client.aclose()

    def listed(self) -> list[ModelCard]:
        return [_card(e.id, None, e) for e in self._configured or ()]

    def warm(self, model: str) -> None:
        return None  # the upstream loads on demand (LM Studio's JIT, Ollama); nothing to ask

    async def models(self) -> list[ModelCard]:
        try:
            response = await self._client.get("models")
        except httpx.HTTPError as err:
            raise self._translate(err) from None
        self._raise_for_status(response.status_code, response.content)
        try:
            found = {m.id: m for m in _decode_models(response.content).data}
        except msgspec.DecodeError as err:
            raise BackendProtocolError(f"{self.name}: unreadable model list: {err}") from None
        if self._configured is None:
            return [_card(m.id, m, None) for m in found.values()]
        return [_card(e.id, found.get(e.upstream_id or e.id), e) for e in self._configured]

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
        if getattr(request.parsed, "stream", False) and not request.parsed.wants_usage():
            changes["stream_options"] = {"include_usage": True}
        return replace_fields(request.body, **changes) if changes else request.body

    async def complete(self, request: BackendRequest) -> Reply:
        try:
            response = await self._client.post(request.endpoint, content=self._body(request))
        except httpx.HTTPError as err:
            raise self._translate(err) from None
        self._raise_for_status(response.status_code, response.content)
        try:
            usage = decode_reply_head(response.content).usage
        except msgspec.DecodeError:
            raise BackendProtocolError(f"{self.name}: the answer is not JSON") from None
        return Reply(response.content, usage)

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        body = self._body(request)
        outgoing = self._client.build_request("POST", request.endpoint, content=body)
        try:
            response = await self._client.send(outgoing, stream=True)
        except httpx.HTTPError as err:
            raise self._translate(err) from None
        try:
            if response.status_code >= 400:
                self._raise_for_status(response.status_code, await response.aread())
            async for event in self._events(response):
                yield event
        except httpx.HTTPError as err:
            raise self._translate(err) from None
        finally:
            await response.aclose()

    async def _events(self, response: httpx.Response) -> AsyncIterator[StreamEvent]:
        buffer = b""
        finished = False
        async for piece in response.aiter_raw():
            buffer += piece.replace(b"\r\n", b"\n") if b"\r" in piece else piece
            while (end := buffer.find(_EVENT_END)) >= 0:
                raw, buffer = buffer[:end], buffer[end + 2 :]
                event = self._event(raw)
                if event is None:
                    continue
                yield event
                if event is DONE:
                    return
                finished = finished or any(c.finish_reason for c in event.chunk.choices)
        if not finished:  # a clean end after the last choice finished is fine without [DONE]
            raise BackendUnavailable(f"{self.name}: the stream ended before the answer did")
        yield DONE

    def _event(self, raw: bytes) -> StreamEvent | None:
        payload = b"".join(
            line[5:].lstrip() for line in raw.split(b"\n") if line.startswith(b"data:")
        )
        if not payload:
            return None  # a comment or keep-alive
        if payload == b"[DONE]":
            return DONE
        try:
            chunk = decode_chunk(payload)
        except msgspec.DecodeError:
            raise BackendProtocolError(f"{self.name}: malformed event in the stream") from None
        if not chunk.choices and chunk.usage is None and b'"error"' in payload:
            raise BackendError(f"{self.name}: {_error_message(payload)}")
        return StreamEvent(raw + _EVENT_END, chunk)

    def _raise_for_status(self, status: int, body: bytes) -> None:
        if status >= 400:
            raise BackendStatusError(status, f"{self.name}: {_error_message(body) or status}")

    def _translate(self, err: httpx.HTTPError) -> BackendError:
        where = f"{self.name} ({self.base_url})"
        if isinstance(err, httpx.TimeoutException):
            return BackendTimeout(f"{where}: timed out ({type(err).__name__})")
        if isinstance(err, httpx.ConnectError):
            return BackendUnavailable(f"{where}: cannot connect: {err or 'refused'}")
        if isinstance(err, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return BackendUnavailable(f"{where}: connection dropped: {err or type(err).__name__}")
        return BackendUnavailable(f"{where}: {type(err).__name__}: {err}")


def _error_message(body: bytes) -> str:
    """The message an upstream put in its error body, whatever its shape."""
    try:
        parsed = _decode_error(body)
    except msgspec.DecodeError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(parsed.error, _UpstreamErrorDetail):
        return parsed.error.message or ""
    return parsed.error or parsed.detail or ""


def _card(model_id: str, found: UpstreamModel | None, entry: ModelEntry | None) -> ModelCard:
    context = (entry.context_length if entry else None) or (found.context() if found else None)
    capabilities = list(entry.capabilities) if entry and entry.capabilities else []
    if not capabilities and found and found.capabilities:
        capabilities = list(found.capabilities)
    owned_by = (found.owned_by if found else None) or "upstream"
    return ModelCard(model_id, owned_by=owned_by, context_length=context, capabilities=capabilities)
