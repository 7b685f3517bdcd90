"""An in-process `Backend` (router.backends.protocol), scripted per model: no sockets.

    fake = FakeBackend("mac1", {"gemma": Script("from mac one")})
    fake.scripts["gemma"].fail = "500"  # scripts may change between requests

A script answers with its chunks (by default its text's words), fails before its first event
(`fail`, a `FAILURES` kind, also for whole answers), fails after `fail_after` events (`fail_mid`),
waits `delay` before each event, or repeats `loop` after its chunks forever (a whole answer:
its first `LOOPED` pieces). `calls` counts the requests; `open` the streams not yet closed.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import msgspec

from router.backends.protocol import DONE, BackendRequest, Reply, StreamEvent
from router.errors import (
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeout,
    BackendUnavailable,
    BackendUnreachable,
    Overloaded,
)
from router.wire import Chunk, ModelCard, Usage

FAILURES: dict[str, Callable[[str, str], BackendError]] = {  # kind -> (where, retry_after)
    "400": lambda where, _: BackendStatusError(400, f"{where}: bad request"),
    "404": lambda where, _: BackendStatusError(404, f"{where}: no such model"),
    "429": lambda where, ra: BackendStatusError(429, f"{where}: rate limited", retry_after=ra),
    "500": lambda where, _: BackendStatusError(500, f"{where}: internal error"),
    "503": lambda where, ra: BackendStatusError(503, f"{where}: overloaded", retry_after=ra),
    "timeout": lambda where, _: BackendTimeout(f"{where}: timed out"),
    "refused": lambda where, _: BackendUnreachable(f"{where}: cannot connect: refused"),
    "drop": lambda where, _: BackendUnavailable(f"{where}: connection dropped"),
    "malformed": lambda where, _: BackendProtocolError(f"{where}: malformed event"),
    "busy": lambda where, _: Overloaded(f"{where}: its own queue is full"),
}
LOOPED = 64
_encode = msgspec.json.encode


@dataclass
class Script:
    text: str = "Hello from the fake backend."
    chunks: list[str] | None = None
    fail: str | None = None
    fail_mid: str | None = None
    fail_after: int = 1
    retry_after: str | None = "1"
    delay: float = 0.0
    loop: str | None = None
    calls: int = 0

    def pieces(self) -> Iterator[str]:
        """The events' texts: the chunks (or the text's words), then the loop forever."""
        yield from self.chunks if self.chunks is not None else re.findall(r"\S+\s*", self.text)
        while self.loop is not None:
            yield self.loop


@dataclass
class FakeBackend:
    name: str
    scripts: dict[str, Script]
    kind: str = "fake"
    down: bool = False  # its model list (the health check) fails
    requests: list[BackendRequest] = field(default_factory=list)
    open: int = 0

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def warm(self, model: str) -> None: ...

    def listed(self) -> list[ModelCard]:
        return [ModelCard(model) for model in self.scripts]

    async def models(self) -> list[ModelCard]:
        if self.down:
            raise FAILURES["refused"](self.name, None)
        return self.listed()

    async def _asked(self, request: BackendRequest) -> Script:
        script = self.scripts[request.model]
        script.calls += 1
        self.requests.append(request)
        await asyncio.sleep(script.delay)
        if script.fail is not None:
            raise FAILURES[script.fail](self.name, script.retry_after)
        return script

    async def complete(self, request: BackendRequest) -> Reply:
        script = await self._asked(request)
        text = "".join(itertools.islice(script.pieces(), LOOPED))
        message = {"role": "assistant", "content": text}
        finish = "length" if script.loop else "stop"
        usage = {"prompt_tokens": 1, "completion_tokens": len(text.split())}
        choice = {"index": 0, "message": message, "finish_reason": finish}
        body = _encode({"object": "chat.completion", "choices": [choice], "usage": usage})
        return Reply(body, msgspec.convert(usage, Usage))

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        script = await self._asked(request)
        self.open += 1
        try:
            for sent, piece in enumerate(script.pieces()):
                if script.fail_mid is not None and sent == script.fail_after:
                    raise FAILURES[script.fail_mid](self.name, script.retry_after)
                await asyncio.sleep(script.delay if sent else 0)
                yield _event(piece)
            yield _event(None)
            yield DONE
        finally:
            self.open -= 1


def _event(text: str | None) -> StreamEvent:
    delta = {"content": text} if text is not None else {}
    choice = {"index": 0, "delta": delta, "finish_reason": None if text is not None else "stop"}
    data = _encode({"object": "chat.completion.chunk", "choices": [choice]})
    return StreamEvent(b"data: " + data + b"\n\n", msgspec.json.decode(data, type=Chunk))
