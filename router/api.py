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

from router.backends.protocol import DONE, Endpoint, Parsed, StreamEvent
from router.edges import CORS, allowed_origins, unserved
from router.errors import (
    BackendError,
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    PayloadTooLarge,
    RequestError,
    RouterError,
    ShuttingDown,
    split_validation,
)
from router.metrics import RequestMeter
from router.routing.decide import Hints, Route, virtual_ids
from router.routing.guards import LoopGuard
from router.serving.dispatch import Served
from router.serving.service import Service
from router.wire import (
    ModelCard,
    ModelList,
    decode_chat,
    decode_completion,
    decode_embedding,
    model_object,
)

log = logging.getLogger("router")
JSON = b"application/json"
CLIENT_CLOSED = 499  # nginx's status for a client that went away; a metrics label only

_MODELS_PREFIX = b"/v1/models/"
_encode = msgspec.json.Encoder().encode
_SHUTDOWN = ShuttingDown("The router shut down before the answer was complete.")


def create_app(
    service: Service,
    host: str | None = None,
    *,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
) -> Litestar:
    """The litestar application serving `service`, listening on `host` (default: the config's;
    it decides which web pages may call the router, see `router.edges`). Starting and stopping
    the service is the caller's (`router.app`), through the two hooks."""
    generation = _generation_handlers(service)
    app = Litestar(
        route_handlers=[*generation, *_plain_handlers(service)],
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


def _generation_handlers(service: Service) -> list[Any]:
    endpoints: list[tuple[str, Endpoint, Callable[[bytes], Parsed]]] = [
        ("/v1/chat/completions", "chat/completions", decode_chat),
        ("/v1/completions", "completions", decode_completion),
        ("/v1/embeddings", "embeddings", decode_embedding),
    ]
    handlers = []
    for path, endpoint, decode in endpoints:
        generation = Generation(service, endpoint, decode)
        handlers.append(asgi(path, copy_scope=False)(generation.handle))
    return handlers


class Generation:
    """One generation endpoint: decode, route, dispatch, answer (whole or streamed)."""

    def __init__(self, service: Service, endpoint: Endpoint, decode: Callable[[bytes], Parsed]):
        self.service = service
        self.endpoint = endpoint
        self.decode = decode

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        meter = RequestMeter(self.service.metrics, time.perf_counter())
        try:
            if scope["method"] != "POST":
                served = f"The router serves {scope['path']} with POST, not {scope['method']}."
                raise MethodNotAllowed(served, allow="POST")
            authorization, hints = _read_headers(scope)
            self.service.authorize(authorization)
            body = await _read_body(receive, self.service.config.server.max_body_bytes)
            parsed = _decode(self.decode, body)
            route = self.service.route(parsed.model, hints, parsed)
        except RouterError as err:
            meter.finish(err.status, timed=False)
            await _send_error(send, err)
            return
        work = self._answer(route, parsed, body, meter, send)
        await _until_disconnect(receive, work, meter, send)

    async def _answer(
        self, route: Route, parsed: Parsed, body: bytes, meter: RequestMeter, send: Send
    ) -> None:
        try:
            if getattr(parsed, "stream", False):
                served, events = await self.service.dispatcher.open_stream(
                    route, self.endpoint, parsed, body
                )
                self._begin(route, served, meter)
                relay = _Relay(send, meter, self.service, self.endpoint)
                per_token = await relay.run(served, route, events, parsed)
                if per_token is not None:
                    self.service.observe_speed(served.model, per_token)
            else:
                start = time.perf_counter()
                check = self.service.answer_check(route, parsed)
                served, reply = await self.service.dispatcher.complete(
                    route, self.endpoint, parsed, body, check
                )
                self._begin(route, served, meter)
                upstream = time.perf_counter() - start
                await _send(send, 200, reply.body, _route_headers(served, route))
                meter.finish(200, reply.usage, first_token_at=reply.first_token_at)
                self.service.metrics.overhead.observe(meter.elapsed() - upstream)
        except RouterError as err:
            failed = isinstance(err, BackendError) and err.model is not None
            if failed:  # counted under the model that failed, with its time
                meter.labels = (err.model, route.task, err.backend or "none")  # type: ignore[attr-defined]
            meter.finish(err.status, timed=failed)
            await _send_error(send, err)

    def _begin(self, route: Route, served: Served, meter: RequestMeter) -> None:
        meter.labels = (served.model, route.task, served.replica.backend.name)
        self.service.metrics.decision(route.task, served.model, route.basis).inc()


async def _until_disconnect(
    receive: Receive, work: Awaitable[None], meter: RequestMeter, send: Send
) -> None:
    """Run `work` in this task, cancelling it (and so the upstream request) if the client goes
    away. One watcher task per request, and no other: the work itself runs here.

    Cancelled from outside, the server's shutdown grace period is over: a stream has been ended
    with an error event by `_Relay`; an answer not begun gets a 503."""
    watch = _Watch(asyncio.current_task())  # type: ignore[arg-type]
    watcher = asyncio.get_running_loop().create_task(watch.run(receive))
    try:
        await work
    except asyncio.CancelledError:
        watch.task.uncancel()
        if watch.fired:
            meter.finish(CLIENT_CLOSED, timed=False)
            return
        meter.finish(_SHUTDOWN.status, timed=False)
        with contextlib.suppress(RuntimeError):  # uvicorn: the response had begun (and ended)
            await _send_error(send, _SHUTDOWN)
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


class _Relay:
    """Passes a stream's events to the client as they come, counting and watching them."""

    def __init__(self, send: Send, meter: RequestMeter, service: Service, endpoint: Endpoint):
        self.send = send
        self.meter = meter
        self.service = service
        self.endpoint = endpoint

    async def run(self, served: Served, route: Route, events: Any, parsed: Parsed) -> float | None:
        """Stream the events to the client; returns the time per token, when measured."""
        headers = _route_headers(served, route)
        headers.append((b"cache-control", b"no-cache"))
        wants_usage = parsed.wants_usage()  # type: ignore[union-attr]
        guard = LoopGuard() if self.service.config.routing.loop_guard else None
        status = 200
        try:  # from the headers on: whatever fails, closing the events frees the model's place
            start = [(b"content-type", b"text/event-stream"), *headers]
            await self.send({"type": "http.response.start", "status": 200, "headers": start})
            async for event in events:
                text = self.meter.on_event(event)
                if guard is not None and guard.feed(text):
                    await self._cut(served.model)
                    break
                if not wants_usage and _usage_only(event):
                    continue  # asked of the upstream for the metrics, not by the client
                await self._body(event.data)
        except BackendError as err:
            status = err.status
            await self._body(b"data: " + err.body() + b"\n\n")
        except asyncio.CancelledError:  # the client went away (nothing is sent then), or the
            # server's shutdown grace period is over: say so and end the stream properly
            await self._body(b"data: " + _SHUTDOWN.body() + b"\n\n")
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
            raise
        finally:
            await events.aclose()
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        return self.meter.finish(status)

    async def _body(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def _cut(self, model: str) -> None:
        """End a looping answer: say why in a comment, finish the choice, close the stream."""
        self.service.metrics.loop_guard.labels(model).inc()
        await self._body(b": router: the loop guard cut a repeating answer\n\n")
        await self._body(b"data: " + _finish_chunk(model, self.endpoint) + b"\n\n" + DONE.data)


def _finish_chunk(model: str, endpoint: Endpoint) -> bytes:
    """A last chunk closing choice 0 with finish_reason `content_filter` (the router's filter)."""
    now = int(time.time())
    if endpoint == "completions":
        choice: dict[str, Any] = {"index": 0, "text": "", "finish_reason": "content_filter"}
        kind = "text_completion"
    else:
        choice = {"index": 0, "delta": {}, "finish_reason": "content_filter"}
        kind = "chat.completion.chunk"
    chunk = {
        "id": f"router-{now}",
        "object": kind,
        "created": now,
        "model": model,
        "choices": [choice],
    }
    return _encode(chunk)


def _usage_only(event: StreamEvent) -> bool:
    chunk = event.chunk
    return chunk is not None and chunk.usage is not None and not chunk.choices


def _route_headers(served: Served, route: Route) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-router-model", _ascii(served.model)),
        (b"x-router-task", _ascii(route.task)),
        (b"x-router-reason", _ascii(served.reason(route))),
        (b"x-router-backend", _ascii(served.replica.backend.name)),
    ]


def _ascii(value: str) -> bytes:
    """A header value: printable ASCII, anything else escaped (a model id from an upstream, a
    reason naming one: no control character may break or split the header)."""
    if value.isascii() and value.isprintable():
        return value.encode("ascii")
    return value.encode("unicode_escape").replace(b"\x7f", b"\\x7f")


_NO_HINTS = Hints()


def _read_headers(scope: Scope) -> tuple[str | None, Hints]:
    """The `Authorization` header and the routing hints: the only headers the router reads
    (names come lower-cased from the server; the last of repeated ones counts)."""
    authorization = task = policy = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name[:9] == b"x-router-":
            if name == b"x-router-task":
                task = value.decode("latin-1")
            elif name == b"x-router-policy":
                policy = value.decode("latin-1")
    if task is None and policy is None:
        return authorization, _NO_HINTS
    return authorization, Hints(task.strip() if task else None, policy.strip() if policy else None)


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


def _plain_handlers(service: Service) -> list[Any]:
    started = int(time.time())  # `created` of the router's own names and of undated models

    def models_list() -> list[dict[str, object]]:
        """Every model once (the catalogue holds no router name: see `Catalog.reserved`)."""
        routed = [ModelCard(v, owned_by="router") for v in virtual_ids(service.tasks)]
        return [model_object(c, started) for c in (*service.catalog.cards(), *routed)]

    @get("/v1/models", sync_to_thread=False)
    def list_models(request: Request[Any, Any, Any]) -> Response[bytes]:
        service.authorize(request.headers.get("authorization"))
        return Response(_encode(ModelList(models_list())), media_type="application/json")

    @get("/v1/models/{model_id:path}", sync_to_thread=False)
    def get_model(request: Request[Any, Any, Any], model_id: FromPath[str]) -> Response[bytes]:
        service.authorize(request.headers.get("authorization"))
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
            for s in service.catalog.states.values()
        }
        body = {"status": "ready" if ready else "not ready", "detail": detail, "backends": states}
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
