"""The HTTP layer: OpenAI's API over a `Service`, and nothing else.

It translates: bytes and headers in, a decoded request and hints to the service, answers and
`RouterError`s back out in OpenAI's shape. The generation endpoints are raw ASGI handlers (the
hot path: the body is read once and forwarded as it came, chunks pass through as bytes); the
rest are ordinary litestar handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Litestar, Request, Response, asgi, get
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.types import Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST

from router.auth import Keys
from router.backends.protocol import Endpoint, Parsed
from router.edges import CORS, allowed_origins, unserved
from router.errors import (
    BackendProtocolError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    PayloadTooLarge,
    RequestError,
    RouterError,
    split_validation,
)
from router.metrics import RequestMeter
from router.routing.decide import Hints
from router.routing.sessions import SESSION_HEADERS
from router.serving.relay import SHUTTING_DOWN, Answer, Stream
from router.serving.service import Service
from router.serving.tokens import count_tokens
from router.wire import (
    ModelList,
    decode_chat,
    decode_completion,
    decode_embedding,
    encode,
    model_object,
)
from router.wire.anthropic import TokensCount, decode_count, decode_messages
from router.wire.anthropic import error_body as anthropic_error
from router.wire.anthropic_chat import MessageStream, chat_body, to_message

log = logging.getLogger("router")
JSON = b"application/json"
CLIENT_CLOSED = 499  # nginx's status for a client that went away; a metrics label only

_MODELS_PREFIX = b"/v1/models/"
_encode = msgspec.json.Encoder().encode


def create_app(
    service: Service,
    host: str | None = None,
    *,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
    calibration: Callable[[], dict[str, Any] | None] = lambda: None,
) -> Litestar:
    """The litestar application serving `service`, listening on `host` (default: the config's;
    it decides which web pages may call the router, see `router.edges`). Starting and stopping
    the service is the caller's (`router.app`), through the two hooks; `calibration` says how
    far background calibration got, for `/readyz` (None: there is none)."""
    keys = Keys(service.config.server)
    generation = _generation_handlers(service, keys)
    app = Litestar(
        route_handlers=[*generation, *_plain_handlers(service, keys, calibration)],
        on_startup=list(on_startup),
        on_shutdown=list(on_shutdown),
        exception_handlers={
            RouterError: _router_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        logging_config=None,  # litestar's default would send every httpx log line through a queue
        openapi_config=None,
        debug=False,
    )
    origins = allowed_origins(service.config.server, host)
    app.asgi_handler = CORS(app.asgi_handler, origins)  # around everything, unknown paths too
    return app


def _generation_handlers(service: Service, keys: Keys) -> list[Any]:
    endpoints: list[tuple[str, Endpoint, Callable[[bytes], Parsed]]] = [
        ("/v1/chat/completions", "chat/completions", decode_chat),
        ("/v1/completions", "completions", decode_completion),
        ("/v1/embeddings", "embeddings", decode_embedding),
    ]
    handlers = []
    for path, endpoint, decode in endpoints:
        generation = Generation(service, keys, endpoint, decode)
        handlers.append(asgi(path, copy_scope=False)(generation.handle))
    for path, cls in (("/v1/messages", Messages), ("/v1/messages/count_tokens", CountTokens)):
        handlers.append(asgi(path, copy_scope=False)(cls(service, keys).handle))
    return handlers


class Generation:
    """One generation endpoint: decode, ask the service, write what it answers."""

    def __init__(
        self, service: Service, keys: Keys, endpoint: Endpoint, decode: Callable[[bytes], Parsed]
    ):
        self.service = service
        self.keys = keys
        self.endpoint = endpoint
        self.decode = decode
        self.max_body = service.config.server.max_body_bytes
        self.send_error = _send_error  # errors in OpenAI's shape

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        activity = self.service.activity  # background work waits while clients are served
        activity.begin()
        try:
            await self._handle(scope, receive, send)
        finally:
            activity.end()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        meter = RequestMeter(self.service.metrics, time.perf_counter())
        try:
            if scope["method"] != "POST":
                served = f"The router serves {scope['path']} with POST, not {scope['method']}."
                raise MethodNotAllowed(served, allow="POST")
            credentials, hints = _read_headers(scope)
            self.keys.check(*credentials)
            parsed, body = self._prepare(await _read_body(receive, self.max_body))
        except RouterError as err:
            meter.finish(err.status, timed=False)
            await self.send_error(send, err)
            return
        work = self._answer(parsed, body, hints, meter, send)
        await _until_disconnect(receive, work, meter, send, self.send_error)

    def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        """The decoded request and the body to send on."""
        return _decode(self.decode, body), body

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        try:
            answer = await self.service.generate(self.endpoint, parsed, body, hints, meter)
        except RouterError as err:  # recorded by the service
            await self.send_error(send, err)
            return
        if type(answer) is Stream:
            await answer.relay(_Response(send, answer))
        else:
            await _send(send, 200, answer.body, _route_headers(answer))  # type: ignore[union-attr]
            answer.sent()  # type: ignore[union-attr]


class Messages(Generation):
    """`POST /v1/messages`: Anthropic's request asked of the chat path, its answer and events
    translated back (`wire.anthropic_chat`); errors in Anthropic's shape."""

    def __init__(self, service: Service, keys: Keys) -> None:
        super().__init__(service, keys, "chat/completions", decode_chat)
        self.send_error = _send_anthropic_error

    def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        request = _decode(decode_messages, body)
        chat = encode(chat_body(request, stream=bool(getattr(request, "stream", False))))
        return _decode(decode_chat, chat), chat

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        try:
            answer = await self.service.generate(self.endpoint, parsed, body, hints, meter)
        except RouterError as err:  # recorded by the service
            await self.send_error(send, err)
            return
        stops = parsed.stop_list()  # type: ignore[union-attr]
        if type(answer) is Stream:
            events = MessageStream(answer.model, stops)
            await answer.relay(_MessageEvents(send, answer, events))
            return
        try:
            message = to_message(answer.body, answer.model, stops)  # type: ignore[union-attr]
        except msgspec.DecodeError:
            wrong = BackendProtocolError(f"{answer.model} answered something that is not JSON.")
            await self.send_error(send, wrong)
            return
        await _send(send, 200, message, _route_headers(answer))
        answer.sent()  # type: ignore[union-attr]


class CountTokens(Messages):
    """`POST /v1/messages/count_tokens`: the prompt's tokens for the model it routes to, exact
    for in-process models (`x-router-token-count: exact`), else an estimate (`estimate`)."""

    def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        chat = encode(chat_body(_decode(decode_count, body)))
        return _decode(decode_chat, chat), chat

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        try:
            count = await count_tokens(self.service, parsed, body, hints)  # type: ignore[arg-type]
        except RouterError as err:
            await self.send_error(send, err)
            return
        how = b"exact" if count.exact else b"estimate"
        headers = [(b"x-router-model", _ascii(count.model)), (b"x-router-token-count", how)]
        await _send(send, 200, encode(TokensCount(count.tokens)), headers)


class _MessageEvents:
    """A stream's response as Anthropic's events: each chat event translated on its way."""

    __slots__ = ("events", "response")

    def __init__(self, send: Send, answer: Answer, events: MessageStream) -> None:
        self.response = _Response(send, answer)
        self.events = events

    async def start(self) -> None:
        await self.response.start()
        await self.response.body(self.events.start())

    async def body(self, data: bytes) -> None:
        if out := self.events.feed(data):
            await self.response.body(out)

    async def end(self) -> None:
        if out := self.events.end():
            await self.response.body(out)
        await self.response.end()


async def _send_anthropic_error(send: Send, err: RouterError) -> None:
    status, body = anthropic_error(err.status, err.message)
    extra = [(k.encode(), _ascii(v)) for k, v in err.headers().items()]
    await _send(send, status, body, extra)


async def _until_disconnect(
    receive: Receive,
    work: Awaitable[None],
    meter: RequestMeter,
    send: Send,
    send_error: Callable[[Send, RouterError], Awaitable[None]],
) -> None:
    """Run `work` in this task, cancelling it (and so the upstream request) if the client goes
    away. One watcher task per request, and no other: the work itself runs here.

    Cancelled from outside, the server's shutdown grace period is over: a stream has been ended
    with an error event by its relay; an answer not begun gets a 503."""
    watch = _Watch(asyncio.current_task())  # type: ignore[arg-type]
    watcher = asyncio.get_running_loop().create_task(watch.run(receive))
    try:
        await work
    except asyncio.CancelledError:
        watch.task.uncancel()
        if watch.fired:
            meter.finish(CLIENT_CLOSED, timed=False)
            return
        meter.finish(SHUTTING_DOWN.status, timed=False)
        with contextlib.suppress(RuntimeError):  # uvicorn: the response had begun (and ended)
            await send_error(send, SHUTTING_DOWN)
    finally:
        watch.over = True
        watcher.cancel()


class _Watch:
    """Waits for the client to go away, then cancels the request's task (unless it is over:
    uvicorn also says `http.disconnect` once the response is complete)."""

    __slots__ = ("fired", "over", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.fired = False
        self.over = False

    async def run(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.over:
            self.fired = True
            self.task.cancel()


class _Response:
    """A stream's response, as the service's relay writes it (`relay.Out`): server-sent events
    under the answer's headers."""

    __slots__ = ("answer", "send")

    def __init__(self, send: Send, answer: Answer) -> None:
        self.send = send
        self.answer = answer

    async def start(self) -> None:
        headers = [(b"content-type", b"text/event-stream"), *_route_headers(self.answer)]
        headers.append((b"cache-control", b"no-cache"))
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})

    async def body(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


def _route_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-router-model", _ascii(answer.model)),
        (b"x-router-task", _ascii(answer.task)),
        (b"x-router-reason", _ascii(answer.reason)),
        (b"x-router-backend", _ascii(answer.backend)),
        *([(b"x-router-session", _ascii(answer.session))] if answer.session else []),
    ]


def _ascii(value: str) -> bytes:
    """A header value: printable ASCII, anything else escaped (a model id from an upstream, a
    reason naming one: no control character may break or split the header)."""
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return value.encode("unicode_escape").replace(b"\x7f", b"\\x7f")


_NO_HINTS = Hints()
_SESSION_HEADERS = frozenset(h.encode() for h in SESSION_HEADERS)


Credentials = tuple[str | None, str | None]  # the `Authorization` and `x-api-key` headers


def _read_headers(scope: Scope) -> tuple[Credentials, Hints]:
    """The credentials and the routing hints (with a conversation's name): the only headers
    the router reads (names come lower-cased from the server; the last of repeated ones
    counts)."""
    authorization = api_key = task = policy = None
    session: tuple[tuple[str, str], ...] = ()
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"x-api-key":
            api_key = value.decode("latin-1")
        elif name[:9] == b"x-router-":
            if name == b"x-router-task":
                task = value.decode("latin-1")
            elif name == b"x-router-policy":
                policy = value.decode("latin-1")
        elif name in _SESSION_HEADERS:
            session = (*session, (name.decode(), value.decode("latin-1")))
    if task is None and policy is None and not session:
        return (authorization, api_key), _NO_HINTS
    task, policy = task.strip() if task else None, policy.strip() if policy else None
    return (authorization, api_key), Hints(task, policy, session)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidRequest("The client closed the connection before sending the body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _decode(decode: Callable[[bytes], Parsed], body: bytes) -> Parsed:
    try:
        return decode(body)
    except msgspec.ValidationError as err:
        message, path = split_validation(err)
        where = f" (at {path})" if path else ""
        raise InvalidRequest(f"{message}{where}", param=path or None) from None
    except msgspec.DecodeError as err:
        raise InvalidRequest(f"The body is not valid JSON: {err}") from None
    except UnicodeDecodeError:
        raise InvalidRequest("The body holds a string that is not valid UTF-8.") from None
    except RecursionError:
        raise InvalidRequest("The body's JSON is nested too deeply.") from None


async def _send(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(send: Send, err: RouterError) -> None:
    extra = [(k.encode(), _ascii(v)) for k, v in err.headers().items()]  # an upstream Retry-After
    await _send(send, err.status, err.body(), extra)


def _plain_handlers(
    service: Service, keys: Keys, calibration: Callable[[], dict[str, Any] | None]
) -> list[Any]:
    started = int(time.time())  # `created` of the router's own names and of undated models

    def models_list() -> list[dict[str, object]]:
        return [model_object(c, started) for c in service.models()]

    @get("/v1/models", sync_to_thread=False)
    def list_models(request: Request[Any, Any, Any]) -> Response[bytes]:
        keys.check(request.headers.get("authorization"))
        return Response(_encode(ModelList(models_list())), media_type="application/json")

    @get("/v1/models/{model_id:path}", sync_to_thread=False)
    def get_model(request: Request[Any, Any, Any], model_id: FromPath[str]) -> Response[bytes]:
        keys.check(request.headers.get("authorization"))
        wanted = _raw_model_id(request) or model_id.removeprefix("/")
        for card in models_list():
            if card["id"] == wanted:
                return Response(_encode(card), media_type="application/json")
        raise ModelNotFound(f"The model '{wanted}' does not exist here.", param="model")

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=False)
    def readyz() -> Response[dict[str, Any]]:
        ready, detail = service.ready()
        states = {
            s.name: {"up": s.up, "models": s.models, "error": s.error}
            for s in service.backend_states()
        }
        body = {"status": "ready" if ready else "not ready", "detail": detail, "backends": states}
        if (progress := calibration()) is not None:
            body["calibration"] = progress
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics", sync_to_thread=False)
    def metrics() -> Response[bytes]:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [list_models, get_model, healthz, readyz, metrics]


def _raw_model_id(request: Request[Any, Any, Any]) -> str | None:
    """The id in `GET /v1/models/{id}` as the client sent it. litestar's path collapses '//',
    which would lose the leading '/' of ids that are absolute paths (mlx_lm.server's); the raw
    path keeps it, with '%2F' and raw slashes alike."""
    raw = request.scope.get("raw_path") or b""
    if not raw.startswith(_MODELS_PREFIX):
        return None
    return unquote_to_bytes(raw[len(_MODELS_PREFIX) :]).decode("utf-8", "replace")


def _router_error(_: Request[Any, Any, Any], err: RouterError) -> Response[bytes]:
    return Response(
        err.body(), status_code=err.status, media_type="application/json", headers=err.headers()
    )


def _http_error(request: Request[Any, Any, Any], err: HTTPException) -> Response[bytes]:
    if (unknown := unserved(request, err)) is not None:
        return _router_error(request, unknown)
    wrapped = RequestError(str(err.detail))
    wrapped.status = err.status_code
    if err.status_code == 404:
        wrapped.code = "not_found"
    return _router_error(request, wrapped)


def _internal_error(_: Request[Any, Any, Any], err: Exception) -> Response[bytes]:
    log.error("unexpected error: %r", err, exc_info=err)
    wrapped = RouterError("The router failed unexpectedly; its log says why.")
    return _router_error(_, wrapped)
