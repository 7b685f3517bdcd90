"""Anthropic's Messages API over the chat path: `POST /v1/messages` and
`POST /v1/messages/count_tokens`, `Generation`s that translate the request before and the answer
or events after (`wire.anthropic_chat`), with errors in Anthropic's shape."""

from __future__ import annotations

import msgspec
from litestar.types import Send

from router.api_generation import (
    EventResponse,
    Generation,
    decode_body,
    header_value,
    route_headers,
    send_json,
)
from router.auth import Keys
from router.backends.protocol import Parsed
from router.errors import BackendProtocolError, RouterError
from router.routing.decide import Hints
from router.serving.meter import RequestMeter
from router.serving.relay import Answer, Stream
from router.serving.service import Service
from router.serving.tokens import count_tokens
from router.wire import decode_chat, encode
from router.wire.anthropic import TokensCount, decode_count, decode_messages
from router.wire.anthropic import error_body as anthropic_error
from router.wire.anthropic_chat import chat_body, to_message
from router.wire.anthropic_stream import MessageStream


class Messages(Generation):
    """`POST /v1/messages`: Anthropic's request asked of the chat path, its answer and events
    translated back (`wire.anthropic_chat`); errors in Anthropic's shape."""

    def __init__(self, service: Service, keys: Keys) -> None:
        super().__init__(service, keys, "chat/completions", decode_chat)
        self.send_error = _send_anthropic_error
        self.api = "messages"

    async def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        request = decode_body(decode_messages, body)
        chat = encode(chat_body(request, stream=bool(getattr(request, "stream", False))))
        return decode_body(decode_chat, chat), chat

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        if (answer := await self._generated(parsed, body, hints, meter, send)) is None:
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
        await send_json(send, 200, message, route_headers(answer))
        answer.sent()  # type: ignore[union-attr]


class CountTokens(Messages):
    """`POST /v1/messages/count_tokens`: the prompt's tokens for the model it routes to, exact
    for in-process models (`x-router-token-count: exact`), else an estimate (`estimate`)."""

    async def _prepare(self, body: bytes) -> tuple[Parsed, bytes]:
        chat = encode(chat_body(decode_body(decode_count, body)))
        return decode_body(decode_chat, chat), chat

    async def _answer(
        self, parsed: Parsed, body: bytes, hints: Hints, meter: RequestMeter, send: Send
    ) -> None:
        try:
            count = await count_tokens(self.service, parsed, body, hints)  # type: ignore[arg-type]
        except RouterError as err:
            await self.send_error(send, err)
            return
        how = b"exact" if count.exact else b"estimate"
        headers = [(b"x-router-model", header_value(count.model)), (b"x-router-token-count", how)]
        await send_json(send, 200, encode(TokensCount(count.tokens)), headers)


class _MessageEvents:
    """A stream's response as Anthropic's events: each chat event translated on its way."""

    __slots__ = ("events", "response")

    def __init__(self, send: Send, answer: Answer, events: MessageStream) -> None:
        self.response = EventResponse(send, answer)
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
    extra = [(k.encode(), header_value(v)) for k, v in err.headers().items()]
    await send_json(send, status, body, extra)
