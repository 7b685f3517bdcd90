"""Answers on their way out: dispatch a routed request, then hand the HTTP layer a `Whole`
answer to send, or a `Stream` whose first event has arrived, to relay event by event.

On the way, `metrics.RequestMeter` counts and times the tokens and records the request once;
a stream's events pass as the bytes they came as, except the usage chunk the client did not
ask for (the router asks every upstream for usage, to count tokens); `guards.LoopGuard` cuts a
model caught repeating itself and closes its choice with `finish_reason: content_filter`; a
failure after the first event ends the stream with an OpenAI error event; the measured speed
goes back to routing (`Decisions.observe_speed`). A whole answer runs through the answer check
its route asks for (checked escalation, in the dispatcher).

The HTTP layer decides only the bytes around these: the headers (from `Answer`'s model, task,
reason and backend) and how a body is sent (`Out`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import msgspec

from router.backends.protocol import DONE, Endpoint, Parsed, Reply, StreamEvent
from router.errors import BackendError, RouterError, ShuttingDown
from router.metrics import Metrics
from router.routing.decide import Route
from router.routing.guards import LoopGuard
from router.serving.dispatch import Check, Dispatcher, Served
from router.serving.meter import RequestMeter
from router.wire import Usage, closing_chunk

SHUTTING_DOWN = ShuttingDown("The router shut down before the answer was complete.")
_encode = msgspec.json.Encoder().encode


class Out(Protocol):
    """Where a stream goes (the HTTP layer's response): begun once, then bodies, then ended."""

    async def start(self) -> None: ...

    async def body(self, data: bytes) -> None: ...

    async def end(self) -> None: ...


class Answer:
    """Who answers a request and why: what the response's headers say."""

    __slots__ = ("meter", "note", "route", "served", "session")

    def __init__(self, route: Route, served: Served, meter: RequestMeter) -> None:
        self.route = route
        self.served = served
        self.meter = meter
        self.session: str | None = None  # the conversation's id (`x-router-session`)
        self.note: str | None = None  # what the session says first ("moved: m failed")

    @property
    def model(self) -> str:
        return self.served.model

    @property
    def task(self) -> str:
        return self.route.task

    @property
    def reason(self) -> str:
        reason = self.served.reason(self.route)
        return f"{self.note}; {reason}" if self.note else reason

    @property
    def backend(self) -> str:
        return self.served.replica.backend.name


class Whole(Answer):
    """A whole answer: send `body`, then call `sent` (the request is recorded then)."""

    __slots__ = ("body", "first_token_at", "overhead", "upstream", "usage")

    def __init__(
        self, route: Route, served: Served, meter: RequestMeter, reply: Reply, upstream: float
    ) -> None:
        super().__init__(route, served, meter)
        self.body: bytes = reply.body
        self.usage: Usage | None = reply.usage
        self.first_token_at: float | None = reply.first_token_at
        self.upstream = upstream  # seconds spent waiting on backends
        self.overhead = meter.metrics.overhead

    def sent(self) -> None:
        meter = self.meter
        meter.finish(200, self.usage, first_token_at=self.first_token_at)
        self.overhead.observe(meter.elapsed() - self.upstream)


class Stream(Answer):
    """A stream whose first event has arrived; `relay` sends it all (and always closes it)."""

    __slots__ = ("endpoint", "events", "relayed_by", "wants_usage")

    def __init__(
        self,
        route: Route,
        served: Served,
        meter: RequestMeter,
        events: AsyncIterator[StreamEvent],
        endpoint: Endpoint,
        wants_usage: bool,
        relayed_by: Relay,
    ) -> None:
        super().__init__(route, served, meter)
        self.events = events
        self.endpoint = endpoint
        self.wants_usage = wants_usage  # else the usage chunk is dropped
        self.relayed_by = relayed_by

    async def relay(self, out: Out) -> None:
        """Send the events as they come (the headers first), counting and watching them."""
        meter, wants_usage, events = self.meter, self.wants_usage, self.events
        # a passed-through Responses stream is the upstream's: no chat chunk may close it
        guarded = self.relayed_by.loop_guard and self.endpoint != "responses"
        guard = LoopGuard() if guarded else None
        status = 200
        try:  # from the headers on: whatever fails, closing the events frees the model's place
            await out.start()
            async for event in events:
                text = meter.on_event(event)
                if guard is not None and guard.feed(text):
                    await self._cut(out)
                    break
                if not wants_usage and _usage_only(event):
                    continue  # asked of the upstream for the metrics, not by the client
                await out.body(event.data)
        except BackendError as err:
            status = err.status
            await out.body(b"data: " + err.body() + b"\n\n")
        except asyncio.CancelledError:  # the client went away (nothing is sent then), or the
            # server's shutdown grace period is over: say so and end the stream properly
            await out.body(b"data: " + SHUTTING_DOWN.body() + b"\n\n")
            await out.end()
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        await out.end()
        per_token = meter.finish(status)
        if per_token is not None:
            self.relayed_by.feedback(self.served.model, per_token)

    async def _cut(self, out: Out) -> None:
        """End a looping answer: say why in a comment, finish the choice, close the stream."""
        model = self.served.model
        self.relayed_by.metrics.loop_guard.labels(model).inc()
        await out.body(b": router: the loop guard cut a repeating answer\n\n")
        closing = closing_chunk(model, self.endpoint != "completions", "content_filter")
        await out.body(b"data: " + _encode(closing) + b"\n\n" + DONE.data)


class Relay:
    """Dispatches routed requests and wraps what comes back (one per service)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        metrics: Metrics,
        loop_guard: bool,
        check: Callable[[Route, Parsed], Check | None],
        feedback: Callable[[str, float], None],
    ) -> None:
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.loop_guard = loop_guard  # `[routing] loop_guard`
        self.check = check  # the check a routed whole answer must pass (escalation), if any
        self.feedback = feedback  # a served stream's time per token, back to routing

    async def answer(
        self, route: Route, endpoint: Endpoint, parsed: Parsed, body: bytes, meter: RequestMeter
    ) -> Whole | Stream:
        """The answer to a routed request; a failure is recorded in `meter`, then raised."""
        try:
            if getattr(parsed, "stream", False):
                served, events = await self.dispatcher.open_stream(route, endpoint, parsed, body)
                self._begin(route, served, meter)
                wants_usage = parsed.wants_usage()  # type: ignore[union-attr]
                return Stream(route, served, meter, events, endpoint, wants_usage, self)
            start = time.perf_counter()
            served, reply = await self.dispatcher.complete(
                route, endpoint, parsed, body, self.check(route, parsed)
            )
            self._begin(route, served, meter)
            return Whole(route, served, meter, reply, time.perf_counter() - start)
        except RouterError as err:
            failed = isinstance(err, BackendError) and err.model is not None
            if failed:  # counted under the model that failed, with its time
                meter.labels = (err.model, route.task, err.backend or "none")  # type: ignore[assignment]
            meter.finish(err.status, timed=failed)
            raise

    def _begin(self, route: Route, served: Served, meter: RequestMeter) -> None:
        meter.labels = (served.model, route.task, served.replica.backend.name)
        self.metrics.decision(route.task, served.model, route.basis).inc()


def _usage_only(event: StreamEvent) -> bool:
    chunk = event.chunk
    return chunk is not None and chunk.usage is not None and not chunk.choices
