"""OpenAI's Responses API over the chat path: `POST /v1/responses`, a `Generation` that
translates the request before and the answer or events after (`wire.responses_chat`,
`wire.responses_stream`), so routing, sessions, fallback, decision headers and metrics are
chat's. `previous_response_id` continues a stored conversation; a complete answer is stored
(`store`, default true) when the router has a store (`serving.response_store`)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar.types import Send

from router.api_generation import EventResponse, Generation, decode_body, route_headers, send_json
from router.auth import Keys
from router.errors import (
    BackendProtocolError,
    InvalidRequest,
    ResponseNotFound,
    RouterError,
    StoreFailed,
)
from router.routing.decide import Hints
from router.serving.meter import RequestMeter
from router.serving.relay import Answer, Stream
from router.serving.response_store import ResponseStore, StoredResponse
from router.serving.service import Service
from router.wire import ChatRequest, decode_chat
from router.wire.responses import Response, ResponsesRequest, decode_request, untranslatable_at
from router.wire.responses import encode as encode_json
from router.wire.responses_chat import (
    assistant_message,
    chat_body,
    chat_messages,
    input_items,
    new_id,
    skeleton,
    stored_items,
    to_response,
)
from router.wire.responses_stream import ResponseStream
from router.wire.responses_view import routing_view

log = logging.getLogger("router")
_decode_messages = msgspec.json.Decoder(list[dict[str, Any]]).decode


class Turn:
    """What a Responses request brings to its answer: the chat request asked (or, passed
    through, routed by), the request itself, the conversation's chat messages (earlier turns
    and this input), and for a request chat cannot express, what it cannot (param, message)."""

    __slots__ = ("chat", "messages", "passthrough", "request")

    def __init__(
        self,
        chat: ChatRequest,
        request: ResponsesRequest,
        messages: list[dict[str, Any]],
        passthrough: tuple[str, str] | None = None,
    ) -> None:
        self.chat = chat
        self.request = request
        self.messages = messages
        self.passthrough = passthrough


class Responses(Generation):
    """`POST /v1/responses`: the request asked of the chat path, its answer and events
    translated back; errors in OpenAI's shape."""

    def __init__(self, service: Service, keys: Keys, store: ResponseStore | None) -> None:
        super().__init__(service, keys, "chat/completions", decode_chat)
        self.api = "responses"
        self.store = store

    async def _prepare(self, body: bytes) -> tuple[Turn, bytes]:  # type: ignore[override]
        request = decode_body(decode_request, body)
        if (problem := untranslatable_at(request)) is not None:  # to an upstream, as it is
            view = decode_body(decode_chat, encode_json(routing_view(request)))
            return Turn(view, request, [], problem), body  # type: ignore[arg-type]
        messages = await self._earlier(request)
        messages.extend(chat_messages(input_items(request)))
        if not messages:
            raise InvalidRequest("The input holds no message to answer.", param="input")
        chat = encode_json(chat_body(request, messages, stream=bool(request.stream)))
        return Turn(decode_body(decode_chat, chat), request, messages), chat  # type: ignore[arg-type]

    async def _earlier(self, request: ResponsesRequest) -> list[dict[str, Any]]:
        """The chat messages of the conversation `previous_response_id` continues."""
        earlier = request.previous_response_id
        if earlier is None:
            return []
        stored = None if self.store is None else await self.store.get(earlier)
        if stored is None:
            message = f"Previous response with id '{earlier}' not found."
            raise ResponseNotFound(message, param="previous_response_id")
        try:
            return _decode_messages(stored.messages)
        except msgspec.DecodeError as err:
            raise StoreFailed(f"The stored conversation of '{earlier}' is unreadable.") from err

    async def _answer(  # type: ignore[override]
        self, turn: Turn, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        if turn.passthrough is not None:
            await pass_through(self, turn.chat, turn.passthrough, body, hints, meter, send)
            return
        if (answer := await self._generated(turn.chat, body, hints, meter, send)) is None:
            return
        response = skeleton(turn.request, new_id("resp"), answer.model)
        if type(answer) is Stream:
            events = _ResponseEvents(send, answer, ResponseStream(response), self, turn)
            await answer.relay(events)
            return
        try:
            response = to_response(answer.body, response)  # type: ignore[union-attr]
        except msgspec.DecodeError:
            wrong = BackendProtocolError(f"{answer.model} answered something that is not JSON.")
            await self.send_error(send, wrong)
            return
        out = encode_json(response)
        await self.keep(turn, response, out)
        await send_json(send, 200, out, route_headers(answer))
        answer.sent()  # type: ignore[union-attr]

    async def keep(self, turn: Turn, response: Response, sent: bytes) -> None:
        """Store a finished response (unless `store` is false or there is no store): what it
        answered, its input items, and the conversation so far for `previous_response_id`."""
        if self.store is None or not turn.request.stored():
            return
        messages = turn.messages
        if (said := assistant_message(response)) is not None:
            messages = [*messages, said]
        item = StoredResponse(
            id=response.id,
            created_at=response.created_at,
            model=response.model,
            response=sent,
            input_items=encode_json(stored_items(turn.request)),
            messages=encode_json(messages),
        )
        await self.store.put(item)


class _ResponseEvents:
    """A stream's response as the Responses API's events: each chat event translated on its
    way; the finished response stored before its last event is sent, so a client that reads
    `response.completed` can continue from it at once."""

    __slots__ = ("endpoint", "events", "kept", "response", "turn")

    def __init__(
        self, send: Send, answer: Answer, events: ResponseStream, endpoint: Responses, turn: Turn
    ) -> None:
        self.response = EventResponse(send, answer)
        self.events = events
        self.endpoint = endpoint
        self.turn = turn
        self.kept = False

    async def start(self) -> None:
        await self.response.start()
        await self.response.body(self.events.start())

    async def body(self, data: bytes) -> None:
        if out := self.events.feed(data):
            await self._send(out)

    async def end(self) -> None:
        if out := self.events.end():
            await self._send(out)
        await self.response.end()

    async def _send(self, out: bytes) -> None:
        done = self.events.done
        if done is not None and not self.kept:
            self.kept = True
            await self.endpoint.keep(self.turn, done, encode_json(done))
        await self.response.body(out)


async def pass_through(
    endpoint: Responses,
    view: ChatRequest,
    problem: tuple[str, str],
    body: bytes,
    hints: Hints,
    meter: RequestMeter,
    send: Send,
) -> None:
    """A request chat cannot express, sent as it came to a model whose upstream serves the
    Responses API itself (`[[backends]] responses = true`), routed by its expressible part;
    its answer or events come back as the upstream wrote them. Not stored by the router: the
    upstream keeps it (`store`), so a later `previous_response_id` of it goes there too."""
    needs = msgspec.structs.replace(hints, needs=("responses",))
    try:
        answer = await endpoint.service.generate("responses", view, body, needs, meter)
    except RouterError as err:  # recorded by the service
        if err.status == 400:  # no model that can take it, or one named that cannot
            param, message = problem
            served = "a model whose upstream serves the Responses API itself"
            err = InvalidRequest(
                f"{message} Passing it through needs {served}: {err.message}", param=param
            )
        await endpoint.send_error(send, err)
        return
    if type(answer) is Stream:
        await answer.relay(_Passed(send, answer))
        return
    await send_json(send, 200, answer.body, route_headers(answer))  # type: ignore[union-attr]
    answer.sent()  # type: ignore[union-attr]


class _Passed(EventResponse):
    """An upstream's Responses events as they came; the chat stream's closing `[DONE]`, which
    the relay adds and the Responses API does not send, left out."""

    async def body(self, data: bytes) -> None:
        if data != b"data: [DONE]\n\n":
            await super().body(data)
