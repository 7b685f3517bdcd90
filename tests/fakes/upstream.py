"""A scripted OpenAI-compatible upstream (stands in for LM Studio, Ollama, llama.cpp, vLLM).

A real HTTP server on loopback (uvicorn + httptools, a raw ASGI app) in a background thread with
its own event loop, so sync and async tests both use it. Each `FakeModel` scripts its answer,
speed and failure, and may be changed between requests::

    with FakeUpstream([FakeModel("m", ttft=0.1)]) as up:
        httpx.post(f"{up.base_url}/chat/completions", json={...})
        up.model("m").failure = "503"

A token is a word plus its following whitespace; prompt tokens are the prompt's words.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import re
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

FAILURES = (
    "500",
    "503",
    "429",
    "400",
    "hang",
    "hang_after_headers",
    "drop",
    "malformed",
    "loop",
    "keepalive",
)
_STATUS_ERRORS = {
    "400": ("invalid_request_error", "bad_request", "fake upstream: bad request"),
    "429": ("rate_limit_error", "rate_limit_exceeded", "fake upstream: rate limited"),
    "500": ("server_error", "internal_error", "fake upstream: internal error"),
    "503": ("server_error", "service_unavailable", "fake upstream: overloaded"),
}
_TOKEN_RE = re.compile(r"\S+\s*")
_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]*\s*")
_TRANSPORT_KEY = "fake_upstream.transport"
_JSON = (b"content-type", b"application/json")
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_DONE = b"data: [DONE]\n\n"
_MALFORMED = b"data: {not json\n\n"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass
class FakeModel:
    """One model the fake plays; attributes may be changed between requests."""

    id: str
    answer: str | Callable[[dict], str] = "Hello from the fake model."
    ttft: float = 0.0
    tokens_per_s: float | None = None
    failure: str | None = None
    fail_after_tokens: int = 0
    fail_times: int | None = None
    capabilities: list[str] = field(default_factory=list)
    retry_after: str = "1"  # Retry-After sent with "503" and "429"
    body: bytes | None = None  # a prepared whole answer, sent as is (status 200, 1 MiB pieces)
    declared_length: int | None = None  # the Content-Length announced for `body` (0: none)
    # chat tool calls to answer with after the text ([{"id", "type", "function"}], or a function
    # of the request's body giving them; None or []: none), whole or streamed, finish tool_calls
    tool_calls: list[dict] | Callable[[dict], list[dict] | None] | None = None

    def card(self) -> dict[str, Any]:
        """This model's entry in /v1/models."""
        card: dict[str, Any] = {"id": self.id, "object": "model", "created": 0, "owned_by": "fake"}
        if self.capabilities:
            card["capabilities"] = list(self.capabilities)
        return card


_NO_MODEL = FakeModel("")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the fake received it."""

    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float  # time.monotonic()


@lru_cache(maxsize=512)
def tokenize(text: str) -> tuple[str, ...]:
    """The fake's tokens: each word with the whitespace after it."""
    return tuple(_TOKEN_RE.findall(text))


def count_words(value: Any) -> int:
    """Whitespace-separated words in a prompt, a message list or content parts."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(1 if isinstance(v, int) else count_words(v) for v in value)
    if isinstance(value, dict):
        return count_words(value.get("content")) + count_words(value.get("text"))
    return 0


def _looping(text: str, limit: int) -> list[str]:
    """The answer, then its last sentence over and over, `limit` tokens in all."""
    base = list(tokenize(text))
    sentences = _SENTENCE_RE.findall(text.strip())
    if not base or not sentences:
        return base[:limit]
    base[-1] = base[-1].rstrip() + " "
    again = tokenize(sentences[-1].rstrip() + " ")
    while len(base) < limit:
        base.extend(again)
    return base[:limit]


def _cut_at_stop(tokens: list[str] | tuple[str, ...], stops: list[str]) -> list[str] | None:
    """The tokens before the earliest stop string, or None when no stop string occurs."""
    text = "".join(tokens)
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    if not hits:
        return None
    cut, out, pos = min(hits), [], 0
    for token in tokens:
        if pos + len(token) > cut:
            if cut > pos:
                out.append(token[: cut - pos])
            break
        out.append(token)
        pos += len(token)
    return out


def plan_tokens(model: FakeModel, text: str, body: dict) -> tuple[list[str], str]:
    """The pieces to send and the finish_reason, after loop, stop and max_tokens."""
    limit = body.get("max_completion_tokens")
    limit = body.get("max_tokens") if limit is None else limit
    looping = model.failure == "loop"
    tokens: list[str] | tuple[str, ...] = (
        _looping(text, 256 if limit is None else limit) if looping else tokenize(text)
    )
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = _cut_at_stop(tokens, stops) if stops else None
    pieces = list(tokens if cut is None else cut)
    if limit is not None and len(pieces) > limit:
        return pieces[:limit], "length"
    return pieces, "length" if looping and cut is None else "stop"


def embedding_vector(text: str, dims: int = 8) -> list[float]:
    """A deterministic unit vector derived from a hash of the text."""
    raw = hashlib.shake_256(text.encode()).digest(2 * dims)
    values = [n / 32767.5 - 1.0 for n in struct.unpack(f"<{dims}H", raw)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [round(v / norm, 6) for v in values]


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """An error in OpenAI's shape."""
    return _encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, without access logs, exposing the transport to the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.scope.setdefault("extensions", {})[_TRANSPORT_KEY] = self.transport  # type: ignore[index]


class _Ctx:
    """One request in flight."""

    __slots__ = ("body", "model", "receive", "send", "stream", "transport")

    def __init__(self, scope: Scope, receive: Receive, send: Send, body: dict) -> None:
        self.receive, self.send, self.body = receive, send, body
        self.model: FakeModel = _NO_MODEL
        self.transport: asyncio.Transport | None = scope.get("extensions", {}).get(_TRANSPORT_KEY)
        self.stream = bool(body.get("stream"))

    @property
    def gone(self) -> bool:
        return self.transport is not None and self.transport.is_closing()

    async def respond(self, status: int, payload: bytes, headers: list | None = None) -> None:
        head = [_JSON, (b"content-length", b"%d" % len(payload)), *(headers or [])]
        await self.start(head, status)
        await self.send({"type": "http.response.body", "body": payload})

    async def error(self, status: int, message: str, code: str, **kw: Any) -> None:
        """Answer `status` with an OpenAI-shaped error; kw: param, type_, headers."""
        body = error_body(message, kw.get("type_", "invalid_request_error"), code, kw.get("param"))
        await self.respond(status, body, kw.get("headers"))

    async def start(self, headers: list, status: int = 200) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def chunk(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def until_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def drop(self) -> None:
        """Close the connection without finishing the response."""
        if self.transport is None:
            raise ConnectionAbortedError("fake upstream: drop")  # uvicorn closes the socket
        self.transport.close()
        await self.until_disconnect()


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


async def _sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


class _App:
    """The raw ASGI application behind `FakeUpstream`."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self.up = upstream
        self.ids = itertools.count(1)
        self.routes = {
            "/v1/chat/completions": partial(self.generate, chat=True),
            "/v1/completions": partial(self.generate, chat=False),
            "/v1/embeddings": self.embeddings,
            "/v1/responses": self.responses,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        up = self.up
        up.in_flight += 1
        up.peak_in_flight = max(up.peak_in_flight, up.in_flight)
        try:
            await self.dispatch(scope, receive, send)
        except asyncio.CancelledError:  # stop() cancels whatever is still in flight
            pass
        finally:
            up.in_flight -= 1

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method, body = scope["path"], scope["method"], await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            parsed = _decode(body) if body else None
        except msgspec.DecodeError:
            parsed = None
        self.up._record(RecordedRequest(path, method, headers, body, parsed, time.monotonic()))
        ctx = _Ctx(scope, receive, send, parsed if isinstance(parsed, dict) else {})
        key = self.up.api_key
        if key is not None and headers.get("authorization") != f"Bearer {key}":
            return await ctx.error(401, "fake upstream: incorrect API key", "invalid_api_key")
        if method == "GET" and path.rstrip("/") == "/v1/models":
            return await self.models(ctx)
        handler = self.routes.get(path) if method == "POST" else None
        if handler is None:
            return await ctx.error(404, f"fake upstream: no route {method} {path}", "not_found")
        if not isinstance(parsed, dict):
            return await ctx.error(400, "fake upstream: body is not a JSON object", "invalid_json")
        model = self.up._models.get(parsed.get("model"))  # type: ignore[arg-type]
        if model is None:
            msg = f"The model `{parsed.get('model')}` does not exist."
            return await ctx.error(404, msg, "model_not_found", param="model")
        ctx.model = model
        failure = self.up._take_failure(model)
        if failure is None or not await self.fail(ctx, failure):
            await handler(ctx, failure)

    async def responses(self, ctx: _Ctx, failure: str | None) -> None:
        from tests.fakes.responses_api import answer  # it reads this module's helpers

        await answer(ctx, failure)

    async def models(self, ctx: _Ctx) -> None:
        cards = [m.card() for m in list(self.up._models.values())]
        await ctx.respond(200, _encode({"object": "list", "data": cards}))

    async def fail(self, ctx: _Ctx, failure: str) -> bool:
        """Play the failures that end before any generation; False for the others."""
        if failure in _STATUS_ERRORS:
            type_, code, msg = _STATUS_ERRORS[failure]
            retry = [(b"retry-after", ctx.model.retry_after.encode())]
            retry = retry if failure in ("503", "429") else []
            await ctx.error(int(failure), msg, code, type_=type_, headers=retry)
        elif failure == "hang":
            await ctx.until_disconnect()
        elif failure == "hang_after_headers":
            await ctx.start(_SSE_HEADERS if ctx.stream else [_JSON])
            await ctx.until_disconnect()
        elif failure == "keepalive":  # SSE comments every 50 ms, never an event
            await ctx.start(_SSE_HEADERS)
            while not ctx.gone:
                await ctx.chunk(b": keep-alive\n\n")
                await asyncio.sleep(0.05)
        elif failure in ("drop", "malformed") and not ctx.stream:
            await asyncio.sleep(ctx.model.ttft)
            await (ctx.drop() if failure == "drop" else ctx.respond(200, b"{not json"))
        elif failure not in FAILURES:
            await ctx.error(500, f"fake upstream: unknown failure {failure!r}", "bad_script")
        else:
            return False
        return True

    async def generate(self, ctx: _Ctx, failure: str | None, *, chat: bool) -> None:
        model, body = ctx.model, ctx.body
        if model.body is not None and not ctx.stream:
            return await self.prepared(ctx, model.body, model.declared_length)
        text = model.answer(body) if callable(model.answer) else model.answer
        pieces, finish = plan_tokens(model, text, body)
        calls = model.tool_calls(body) if callable(model.tool_calls) else model.tool_calls
        finish = "tool_calls" if chat and calls else finish
        prompt = count_words(body.get("messages") if chat else body.get("prompt"))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": len(pieces),
            "total_tokens": prompt + len(pieces),
        }
        head = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-fake{next(self.ids)}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": model.id,
            "system_fingerprint": "fake",
        }
        if ctx.stream:
            script = (pieces, finish, calls or [])
            return await self.stream(ctx, failure, head, script, usage, chat)
        loop = asyncio.get_running_loop()
        await _sleep_until(loop, loop.time() + model.ttft + self._gap(model) * (len(pieces) - 1))
        text = "".join(pieces)
        choice = {"index": 0, "logprobs": None, "finish_reason": finish}
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message.update(content=text or None, tool_calls=calls)
        choice.update({"message": message} if chat else {"text": text})
        await ctx.respond(200, _encode({**head, "choices": [choice], "usage": usage}))

    @staticmethod
    async def prepared(ctx: _Ctx, payload: bytes, declared: int | None) -> None:
        """Send a prepared body in 1 MiB pieces (chunked when `declared` is 0); when it
        announced more, wait for the close."""
        length = len(payload) if declared is None else declared
        await ctx.start([_JSON, (b"content-length", b"%d" % length)] if length else [_JSON])
        view = memoryview(payload)
        for start in range(0, len(payload), 2**20):
            if ctx.gone:
                return
            await ctx.chunk(bytes(view[start : start + 2**20]))
        if length > len(payload):
            return await ctx.until_disconnect()
        await ctx.chunk(b"", more=False)

    @staticmethod
    def _gap(model: FakeModel) -> float:
        return 1.0 / model.tokens_per_s if model.tokens_per_s else 0.0

    async def stream(
        self,
        ctx: _Ctx,
        failure: str | None,
        head: dict,
        script: tuple[list[str], str, list[dict]],
        usage: dict,
        chat: bool,
    ) -> None:
        """Send SSE chunks, paced, then the tool calls, the ending (or the scripted failure)."""
        pieces, finish, calls = script
        head["object"] = "chat.completion.chunk" if chat else "text_completion"
        with_usage = bool((ctx.body.get("stream_options") or {}).get("include_usage"))
        if with_usage:
            head["usage"] = None

        def frame(delta: dict | None, text: str = "", reason: str | None = None) -> bytes:
            choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": reason}
            choice.update({"delta": delta or {}} if chat else {"text": text})
            return b"data: " + _encode({**head, "choices": [choice]}) + b"\n\n"

        await ctx.start(_SSE_HEADERS)
        loop, gap = asyncio.get_running_loop(), self._gap(ctx.model)
        first = loop.time() + ctx.model.ttft
        limit = ctx.model.fail_after_tokens if failure in ("drop", "malformed") else None
        for i, piece in enumerate((pieces or [""])[:limit]):
            await _sleep_until(loop, first + gap * i)
            if ctx.gone:
                return
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            await ctx.chunk(frame(delta, piece))
        if failure == "drop":
            return await ctx.drop()
        if failure == "malformed":
            return await ctx.chunk(_MALFORMED + _DONE, more=False)
        tail = b"".join(frame({"tool_calls": [d]}) for d in _call_deltas(calls))
        tail += frame(None, "", finish)
        if with_usage:
            tail += b"data: " + _encode({**head, "choices": [], "usage": usage}) + b"\n\n"
        await ctx.chunk(tail + _DONE, more=False)

    async def embeddings(self, ctx: _Ctx, failure: str | None) -> None:
        raw = ctx.body.get("input")
        inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else raw or []
        dims = ctx.body.get("dimensions") or 8
        as_base64 = ctx.body.get("encoding_format") == "base64"
        data = []
        for i, item in enumerate(inputs):
            vector: Any = embedding_vector(item if isinstance(item, str) else str(item), dims)
            if as_base64:
                vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vector})
        await asyncio.sleep(ctx.model.ttft)
        words = count_words(inputs)
        usage = {"prompt_tokens": words, "total_tokens": words}
        payload = {"object": "list", "data": data, "model": ctx.model.id, "usage": usage}
        await ctx.respond(200, _encode(payload))


def _call_deltas(calls: list[dict]) -> list[dict]:
    """Tool calls as streamed deltas: each opened with its id and name, then its arguments in
    two pieces."""
    out = []
    for i, call in enumerate(calls):
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        opened = {"name": name, "arguments": ""}
        out.append({"index": i, "id": call["id"], "type": "function", "function": opened})
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            out.append({"index": i, "function": {"arguments": piece}})
    return out


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class FakeUpstream:
    """An OpenAI-compatible server on loopback playing `models`; also a context manager."""

    def __init__(
        self,
        models: list[FakeModel],
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._models = {m.id: m for m in models}
        self.api_key, self.host, self.port = api_key, host, port
        self.requests: list[RecordedRequest] = []
        self.in_flight = self.peak_in_flight = 0
        self._lock = threading.Lock()
        self._failed: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.asgi_app = _App(self)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    def model(self, id: str) -> FakeModel:
        return self._models[id]

    def add_model(self, model: FakeModel) -> None:
        self._models[model.id] = model

    def reset(self) -> None:
        """Forget recorded requests and re-arm every `fail_times`."""
        with self._lock:
            self.requests.clear()
            self._failed.clear()
            self.peak_in_flight = self.in_flight

    def start(self) -> FakeUpstream:
        """Serve in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family, backlog=1024)
        self.port = sock.getsockname()[1]
        ready, failed = threading.Event(), []
        self._thread = threading.Thread(target=self._run, args=(sock, ready, failed), daemon=True)
        self._thread.start()
        if not ready.wait(10) or failed:
            self.stop()
            raise RuntimeError(f"fake upstream did not start: {failed or 'timeout'}")
        return self

    def stop(self) -> None:
        """Stop serving; requests still in flight (even hanging ones) are cut off."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        self._thread = None
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=10)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, sock: socket.socket, ready: threading.Event, failed: list) -> None:
        loop = self._loop = _new_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock, ready))
        except BaseException as exc:  # reported to start()
            failed.append(exc)
            ready.set()
        finally:
            sock.close()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        config = uvicorn.Config(self.asgi_app, http=_Protocol, lifespan="off", log_config=None)
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        self._stopping = asyncio.Event()
        await server.startup(sockets=[sock])
        ready.set()
        await self._stopping.wait()
        for listener in server.servers:
            listener.close()
        for conn in list(server.server_state.connections):
            conn.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(0)
        tasks = list(server.server_state.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_failure(self, model: FakeModel) -> str | None:
        """The failure this request plays, counting down `fail_times`."""
        if model.failure is None:
            return None
        with self._lock:
            done = self._failed.get(model.id, 0)
            if model.fail_times is not None and done >= model.fail_times:
                return None
            self._failed[model.id] = done + 1
        return model.failure


def main(argv: list[str] | None = None) -> None:
    """Serve fake models from the command line, e.g. for a benchmark in its own process."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.upstream", description=main.__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--models", default="fake-model", help="comma-separated model ids")
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--tokens-per-s", type=float, default=None)
    args = parser.parse_args(argv)
    models = [
        FakeModel(m, ttft=args.ttft, tokens_per_s=args.tokens_per_s) for m in args.models.split(",")
    ]
    with FakeUpstream(models, host=args.host, port=args.port) as upstream:
        print(upstream.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
