"""The generation endpoints as raw ASGI handlers (the hot path: the body is read once and
forwarded as it came, chunks pass through as bytes), and what writing a response takes: headers
read, the body read within its limit and decoded, JSON and server-sent events written, the
request cancelled when its client goes away. `router.api` mounts them; `router.api_anthropic`
builds Anthropic's routes on `Generation`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar.types import Receive, Scope, Send

from router.auth import Keys
from router.backends.protocol import Endpoint, Parsed
from router.errors import (
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouterError,
    split_validation,
)
from router.routing.decide import Hints
from router.routing.sessions import SESSION_HEADERS
from router.serving.meter import RequestMeter
from router.serving.relay import SHUTTING_DOWN, Answer, Stream
from router.serving.service import Service

JSON = b"application/json"
_API: dict[Endpoint, str] = {
    "responses": "responses",
    "chat/completions": "chat",
    "completions": "completions",
    "embeddings": "embeddings",
}
CLIENT_CLOSED = 499  # nginx's status for a client that went away; a metrics label only


class Generation:
    """One generation endpoint: decode, ask the service, write what it answers."""

    def __init__(
        self, service: Service, keys: Keys, endpoint: Endpoint, decode: Callable[[bytes], Parsed]
    ):
        self.service = service
        self.keys = keys
        self.endpoint = endpoint
        self.api = _API[endpoint]  # the metrics' `api` label; a subclass names its own protocol
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
        meter = RequestMeter(self.service.metrics, time.perf_counter(), self.api)
        try:
            if scope["method"] != "POST":
                served = f"The router serves {scope['path']} with POST, not {scope['method']}."
                raise MethodNotAllowed(served, allow="POST")
            credentials, hints = _read_headers(scope)
            self.keys.check(*credentials)
            parsed, body = await self._prepare(await _read_body(receive, self.max_body))
        except RouterError as err:
            meter.finish(err.status, timed=False)
            await self.send_error(send, err)
            return
        work = self._answer(parsed, body, hints, meter, send)
        await _until_disconnect(receive, work, meter, send, self.send_error)

    async def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        """The decoded request and the body to send on (async: a subclass may read a store)."""
        return decode_body(self.decode, body), body

    async def _generated(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> Answer | None:
        """The service's answer; None once its error has been sent (the service records it)."""
        try:
            return await self.service.generate(self.endpoint, parsed, body, hints, meter)
        except RouterError as err:
            await self.send_error(send, err)
            return None

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        if (answer := await self._generated(parsed, body, hints, meter, send)) is None:
            return
        if type(answer) is Stream:
            await answer.relay(EventResponse(send, answer))
        else:
            await send_json(send, 200, answer.body, route_headers(answer))  # type: ignore[union-attr]
            answer.sent()  # type: ignore[union-attr]


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


class EventResponse:
    """A stream's response, as the service's relay writes it (`relay.Out`): server-sent events
    under the answer's headers."""

    __slots__ = ("answer", "send")

    def __init__(self, send: Send, answer: Answer) -> None:
        self.send = send
        self.answer = answer

    async def start(self) -> None:
        headers = [(b"content-type", b"text/event-stream"), *route_headers(self.answer)]
        headers.append((b"cache-control", b"no-cache"))
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})

    async def body(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


def route_headers(answer: Answer) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-router-model", header_value(answer.model)),
        (b"x-router-task", header_value(answer.task)),
        (b"x-router-reason", header_value(answer.reason)),
        (b"x-router-backend", header_value(answer.backend)),
        *([(b"x-router-session", header_value(answer.session))] if answer.session else []),
    ]


def header_value(value: str) -> bytes:
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


def decode_body(decode: Callable[[bytes], Parsed], body: bytes) -> Parsed:
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


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [(b"content-type", JSON), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(send: Send, err: RouterError) -> None:
    # an upstream's Retry-After among them
    extra = [(k.encode(), header_value(v)) for k, v in err.headers().items()]
    await send_json(send, err.status, err.body(), extra)
