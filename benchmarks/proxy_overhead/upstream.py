"""A mock OpenAI upstream that costs next to nothing: the baseline "direct" is measured on.

An asyncio protocol with the `httptools` parser and canned answers (on uvloop when it is
installed); it records nothing, so it neither grows nor pauses for garbage collection under
load (`tests/fakes/upstream.py`, which scripts failures and records every request, is the
one for tests). It answers:

- `GET /v1/models`: the models given with `--models`;
- `POST /v1/chat/completions` and `/v1/completions`: a short answer of `--tokens` words; with
  `"stream": true`, one server-sent event per word (each its own write), the finishing chunk,
  the usage chunk when `stream_options.include_usage` asks for it, and `[DONE]`, chunked.

    python -m benchmarks.proxy_overhead.upstream --port 9000 [--models fast] [--tokens 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httptools
import msgspec


class _Options(msgspec.Struct):
    include_usage: bool = False


class _Request(msgspec.Struct):
    model: str = ""
    stream: bool = False
    stream_options: _Options | None = None


_decode = msgspec.json.Decoder(_Request).decode
_encode = msgspec.json.encode


class Answers:
    """The canned bodies, built once per model."""

    def __init__(self, models: list[str], tokens: int) -> None:
        self.models = models
        self.words = [f"w{i} " for i in range(tokens)]
        listed = {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "bench"} for m in models
            ],
        }
        self.model_list = _encode(listed)
        self._whole: dict[tuple[str, bool], bytes] = {}
        self._events: dict[tuple[str, bool, bool], list[bytes]] = {}

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": 5,
            "completion_tokens": len(self.words),
            "total_tokens": 5 + len(self.words),
        }

    def whole(self, model: str, chat: bool) -> bytes:
        found = self._whole.get((model, chat))
        if found is None:
            text = "".join(self.words)
            choice: dict[str, object] = {"index": 0, "finish_reason": "stop", "logprobs": None}
            choice.update(
                {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            )
            body = {
                "id": "bench-1",
                "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()),
                "model": model,
                "choices": [choice],
                "usage": self.usage(),
            }
            found = self._whole[(model, chat)] = _encode(body)
        return found

    def events(self, model: str, chat: bool, usage: bool) -> list[bytes]:
        found = self._events.get((model, chat, usage))
        if found is None:
            head = {
                "id": "bench-1",
                "object": "chat.completion.chunk" if chat else "text_completion",
                "created": int(time.time()),
                "model": model,
            }

            def event(piece: str | None, finish: str | None = None) -> bytes:
                choice: dict[str, object] = {"index": 0, "finish_reason": finish}
                if chat:
                    choice["delta"] = {} if piece is None else {"content": piece}
                else:
                    choice["text"] = piece or ""
                return b"data: " + _encode({**head, "choices": [choice]}) + b"\n\n"

            found = [event(word) for word in self.words] + [event(None, "stop")]
            if usage:
                tail = {**head, "choices": [], "usage": self.usage()}
                found.append(b"data: " + _encode(tail) + b"\n\n")
            found.append(b"data: [DONE]\n\n")
            found = [b"%x\r\n%s\r\n" % (len(e), e) for e in found] + [b"0\r\n\r\n"]
            self._events[(model, chat, usage)] = found
        return found


_JSON_HEAD = b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


class _Protocol(asyncio.Protocol):
    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()  # type: ignore[union-attr]

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        url, body = self.url, b"".join(self.body)
        self.url, self.body = b"", []
        method = self.parser.get_method()
        if method == b"GET" and url.startswith(b"/v1/models"):
            self._json(200, self.answers.model_list)
        elif method == b"POST" and url in (b"/v1/chat/completions", b"/v1/completions"):
            try:
                request = _decode(body)
            except msgspec.DecodeError:
                self._json(400, b'{"error": {"message": "bad JSON", "type": "invalid_request"}}')
                return
            chat = url == b"/v1/chat/completions"
            if request.stream:
                usage = request.stream_options is not None and request.stream_options.include_usage
                events = self.answers.events(request.model, chat, usage)
                asyncio.get_running_loop().create_task(self._stream(events))
            else:
                self._json(200, self.answers.whole(request.model, chat))
        else:
            self._json(404, b'{"error": {"message": "no such route", "type": "not_found"}}')
        if not self.parser.should_keep_alive():
            self.transport.close()  # type: ignore[union-attr]

    def _json(self, status: int, body: bytes) -> None:
        self.transport.write(_JSON_HEAD % (status, len(body)) + body)  # type: ignore[union-attr]

    async def _stream(self, events: list[bytes]) -> None:
        transport = self.transport
        assert transport is not None
        transport.write(_SSE_HEAD + events[0])
        for event in events[1:]:
            await asyncio.sleep(0)  # one write per event, as a generating server does
            if transport.is_closing():
                return
            transport.write(event)


async def serve(host: str, port: int, answers: Answers) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: _Protocol(answers), host, port, backlog=2048)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.proxy_overhead.upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", default="fast", help="comma-separated model ids")
    parser.add_argument("--tokens", type=int, default=8, help="words in each answer")
    args = parser.parse_args(argv)
    answers = Answers(args.models.split(","), args.tokens)

    async def run() -> None:
        server = await serve(args.host, args.port, answers)
        print(f"http://{args.host}:{args.port}/v1", flush=True)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:  # pragma: no cover - Windows
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
