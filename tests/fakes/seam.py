"""A `Dispatcher` over a `Catalog` of in-process `FakeBackend`s, and what the seam tests share
(`tests/serving/test_dispatch.py`, `tests/serving/test_breakers_seam.py`): no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from router.backends.protocol import Reply, StreamEvent
from router.config import BackendConfig
from router.errors import BackendError
from router.metrics import Metrics
from router.routing.decide import Route
from router.serving.catalog import Catalog
from router.serving.dispatch import Check, Dispatcher, Served
from router.wire import ChatRequest
from tests.fakes.backend import FakeBackend, Script

HELLO = b'{"model": "gemma", "messages": [{"role": "user", "content": "hello"}]}'


class Seam:
    """A dispatcher over fake backends, with the helpers the tests share."""

    def __init__(self, backends: list[FakeBackend], max_attempts: int = 3, **settings: object):
        self.backends = backends
        self.catalog = Catalog()
        self.metrics = Metrics()
        for backend in backends:
            entry = {"name": backend.name, "kind": "openai", "base_url": "http://127.0.0.1:9/v1"}
            config = msgspec.convert({**entry, **settings}, BackendConfig)  # as a file has it
            self.catalog.add(backend, config)  # type: ignore[arg-type]
        self.dispatcher = Dispatcher(self.catalog, self.metrics, max_attempts)

    async def ready(self) -> Seam:
        await self.catalog.refresh()
        return self

    def metric(self, name: str, **labels: str) -> float:
        return sum(
            sample.value
            for family in self.metrics.registry.collect()
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    async def complete(
        self, *models: str, body: bytes = HELLO, task: str = "none", check: Check | None = None
    ) -> tuple[Served, Reply]:
        parsed = msgspec.json.decode(body, type=ChatRequest)
        route = Route(task, list(models), "direct", "direct")
        return await self.dispatcher.complete(route, "chat/completions", parsed, body, check)

    async def stream(
        self, *models: str, body: bytes = HELLO
    ) -> tuple[Served, AsyncIterator[StreamEvent]]:
        parsed = msgspec.json.decode(body, type=ChatRequest)
        route = Route("none", list(models), "direct", "direct")
        return await self.dispatcher.open_stream(route, "chat/completions", parsed, body)

    async def answer(self, *models: str, stream: bool) -> tuple[Served, str]:
        """Who answered, and the answer's text (a stream read to its end)."""
        if not stream:
            served, reply = await self.complete(*models)
            return served, content(reply)
        served, events = await self.stream(*models)
        text, error = await read(events)
        assert error is None, error
        return served, text

    def assert_settled(self) -> None:
        """Nothing held: no place on a replica, nothing in flight, every stream closed."""
        for model in self.catalog.ids():
            for replica in self.catalog.replicas(model):
                assert replica.outstanding == 0, replica.name
                assert replica.gate is None or replica.gate.active == 0
        assert self.metric("router_requests_in_flight") == 0
        assert self.metric("router_queue_depth") == 0
        assert [b.open for b in self.backends] == [0] * len(self.backends)


async def read(events: AsyncIterator[StreamEvent]) -> tuple[str, BackendError | None]:
    """A stream's text, and the error that ended it (None when it ended well)."""
    text = []
    try:
        async for event in events:
            if event.chunk is not None:
                text.append(event.chunk.text())
    except BackendError as err:
        return "".join(text), err
    return "".join(text), None


def content(reply: Reply) -> str:
    return msgspec.json.decode(reply.body)["choices"][0]["message"]["content"]


def fake(name: str, **scripts: Script) -> FakeBackend:
    return FakeBackend(name, dict(scripts))


def pair(one: str = "from mac one", two: str = "from mac two") -> list[FakeBackend]:
    """Two backends serving the same model id `gemma`, with different answers."""
    return [fake("mac1", gemma=Script(one)), fake("mac2", gemma=Script(two))]


def served_by(served: Served) -> str:
    return served.replica.backend.name
