"""Asking the backends: candidates in order, fallback on failure, the first event awaited.

For a stream, the first event is awaited before anything reaches the client, so a model that
fails before its first token is replaced by the next candidate without the client seeing it
(TensorZero's rule). After that, the stream belongs to the model that started it: a later
failure ends it with an error event (the HTTP layer writes it). Attempts are bounded.

Each attempt is admitted by the replica's breakers (the model's and its backend's; a half-open
breaker lets one probe through) and skipped while an upstream's 429 holds; its end is told to
both (`router.serving.admission.settle`), and a breaker that opens or closes says so in one log
line.
A whole answer's check runs in a worker thread when the answer is large, so that the event
loop never waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator

from router.backends.protocol import BackendRequest, Endpoint, Parsed, Reply, StreamEvent
from router.errors import (
    AllCandidatesFailed,
    BackendError,
    BackendStatusError,
    Failure,
    NoModelAvailable,
    Overloaded,
)
from router.metrics import Metrics
from router.routing.decide import Route
from router.serving.admission import Breaker, Ticket, admit, busy_for, outcome, settle
from router.serving.catalog import Catalog, Replica

Check = Callable[[Reply], str | None]  # an answer's failure kind, None when it passes
OFF_LOOP_BYTES = 2048  # answers larger than this are checked in a worker thread (~10 ms)
log = logging.getLogger("router")


class Served:
    """Who answered, and what happened on the way there."""

    __slots__ = ("escalations", "fallbacks", "model", "replica")

    def __init__(
        self, model: str, replica: Replica, fallbacks: list[str], escalations: list[str]
    ) -> None:
        self.model = model
        self.replica = replica
        self.fallbacks = fallbacks  # "model (code)" for every candidate that failed first
        self.escalations = escalations  # "model (kind)" for every answer that failed its check

    def reason(self, route: Route) -> str:
        reason = route.reason
        if self.fallbacks:
            reason += f"; fell back from {', '.join(self.fallbacks)}"
        if self.escalations:
            reason += f"; escalated from {', '.join(self.escalations)}"
        return reason


class Dispatcher:
    def __init__(self, catalog: Catalog, metrics: Metrics, max_attempts: int = 3) -> None:
        self.catalog = catalog
        self.metrics = metrics
        self.max_attempts = max_attempts

    def _attempts(
        self, route: Route, skipped: list[Replica]
    ) -> Iterator[tuple[str, Replica, Ticket]]:
        """(model, replica, ticket) to try in order: bounded; a replica its breakers or a 429
        hold back is skipped (and noted in `skipped`). Admitted as it is tried, so that a
        half-open breaker's one probe is taken by the request that goes."""
        count = 0
        for model in route.candidates:
            for replica in self.catalog.replicas(model):
                if count == self.max_attempts:
                    return
                now = time.monotonic()
                ticket = admit(replica.backend_breaker, replica.breaker, replica.busy_until, now)
                if ticket is None:
                    skipped.append(replica)
                    continue
                count += 1
                yield model, replica, ticket

    def _settle(self, replica: Replica, ticket: Ticket, err: BaseException | None) -> None:
        """Tell the replica's breakers how an attempt ended; note a 429's wait."""
        result, now = outcome(err), time.monotonic()
        if result == "busy" and isinstance(err, BackendStatusError):
            replica.busy_until = now + busy_for(err.retry_after)
        cause = err.message if isinstance(err, BackendError) else ""
        for breaker in settle(replica.backend_breaker, replica.breaker, ticket, result, now, cause):
            _log_flip(breaker)
            if breaker is replica.backend_breaker:
                name = replica.backend.name
                self.metrics.backend_up.labels(name).set(int(self.catalog.backend_up(name)))

    def _failed(self, failures: list[Failure], model: str, counted: int) -> int:
        """Count the fallback to `model` when the attempt before it failed; returns how many
        failures are counted now (an escalation after a fallback is not a second one)."""
        if len(failures) > counted:
            last = failures[-1]
            self.metrics.fallbacks.labels(last.model, model, last.error.code or "error").inc()
        return len(failures)

    async def complete(
        self,
        route: Route,
        endpoint: Endpoint,
        parsed: Parsed,
        body: bytes,
        check: Check | None = None,
    ) -> tuple[Served, Reply]:
        """The first whole answer any candidate gives; raises `AllCandidatesFailed` otherwise
        (or a candidate's failure that another cannot mend: the client's 4xx).

        With `check`, an answer that fails it is asked again of the next candidate (checked
        escalation); when every candidate's answer fails, the last one is returned."""
        failures: list[Failure] = []
        rejected: list[tuple[str, str]] = []
        skipped: list[Replica] = []
        kept: tuple[Served, Reply] | None = None
        counted = 0
        for model, replica, ticket in self._attempts(route, skipped):
            counted = self._failed(failures, model, counted)
            self._escalated(route, rejected, model)
            request = BackendRequest(endpoint, replica.name, body, parsed, route.max_tokens)
            reply = await self._complete_once(model, replica, ticket, request, failures)
            if reply is None:
                continue
            escalations = [f"{m} ({kind})" for m, kind in rejected]
            kept = Served(model, replica, _described(failures), escalations), reply
            problem = await _checked(check, reply) if check is not None else None
            if problem is None:
                return kept
            rejected.append((model, problem))
        if kept is not None:
            return kept
        raise _exhausted(route, failures, skipped)

    async def _admitted(
        self, model: str, replica: Replica, ticket: Ticket, failures: list[Failure]
    ) -> bool:
        """A place at the replica's gate; False, with the failure noted, when none is given."""
        try:
            await self._acquire(model, replica)
        except BaseException as err:
            self._settle(replica, ticket, err)
            if not isinstance(err, BackendError):
                raise
            failures.append(Failure(model, replica.backend.name, _blame(err, model, replica)))
            return False
        return True

    async def _complete_once(
        self,
        model: str,
        replica: Replica,
        ticket: Ticket,
        request: BackendRequest,
        failures: list[Failure],
    ) -> Reply | None:
        """One attempt: the answer, or None with the retryable failure noted in `failures`."""
        if not await self._admitted(model, replica, ticket, failures):
            return None
        try:
            reply = await replica.backend.complete(request)
        except BaseException as err:
            self._settle(replica, ticket, err)
            if not isinstance(err, BackendError) or not _blame(err, model, replica).retryable:
                raise
            failures.append(Failure(model, replica.backend.name, err))
            return None
        finally:
            self._release(model, replica)
        self._settle(replica, ticket, None)
        return reply

    def _escalated(self, route: Route, rejected: list[tuple[str, str]], model: str) -> None:
        if rejected and rejected[-1][0] != model:
            self.metrics.escalations.labels(route.task, rejected[-1][0], model).inc()

    async def open_stream(
        self, route: Route, endpoint: Endpoint, parsed: Parsed, body: bytes
    ) -> tuple[Served, AsyncIterator[StreamEvent]]:
        """A stream whose first event has arrived; iterating it yields that event first."""
        failures: list[Failure] = []
        skipped: list[Replica] = []
        counted = 0
        for model, replica, ticket in self._attempts(route, skipped):
            counted = self._failed(failures, model, counted)
            request = BackendRequest(endpoint, replica.name, body, parsed, route.max_tokens)
            opened = await self._open_once(model, replica, ticket, request, failures)
            if opened is None:
                continue
            first, events = opened
            served = Served(model, replica, _described(failures), [])
            leased = self._leased(model, replica, first, events)
            await anext(leased)  # into its try: closing it unread now also gives the place back
            return served, leased  # type: ignore[return-value]
        raise _exhausted(route, failures, skipped)

    async def _open_once(
        self,
        model: str,
        replica: Replica,
        ticket: Ticket,
        request: BackendRequest,
        failures: list[Failure],
    ) -> tuple[StreamEvent, AsyncIterator[StreamEvent]] | None:
        """One attempt: the stream and its first event, or None with the retryable failure
        noted in `failures`."""
        if not await self._admitted(model, replica, ticket, failures):
            return None
        events = replica.backend.stream(request)
        try:
            first = await anext(aiter(events))
        except BaseException as err:
            self._release(model, replica)
            await events.aclose()  # type: ignore[attr-defined]
            if not isinstance(err, BackendError | StopAsyncIteration):
                self._settle(replica, ticket, err)
                raise
            failure = _blame(_as_backend_error(err, model), model, replica)
            self._settle(replica, ticket, failure)
            if not failure.retryable:
                raise failure from None
            failures.append(Failure(model, replica.backend.name, failure))
            return None
        self._settle(replica, ticket, None)
        return first, events

    async def _acquire(self, model: str, replica: Replica) -> None:
        """Take a place on the replica (waiting in its queue if it has a limit), and count
        the request on it (for balancing) and in flight (for the metrics)."""
        backend = replica.backend.name
        replica.backend.warm(replica.name)  # a cold model starts loading while we wait for a place
        replica.outstanding += 1
        gate = replica.gate
        if gate is not None and not gate.try_acquire():  # no free place: wait in line
            depth = self.metrics.queue_depth.labels(model, backend)
            depth.inc()
            try:
                await gate.acquire(f"{model} on {backend}")
            except BaseException:
                replica.outstanding -= 1
                raise
            finally:
                depth.dec()
        self.metrics.in_flight_of(model, backend).inc()

    def _release(self, model: str, replica: Replica) -> None:
        replica.outstanding -= 1
        if replica.gate is not None:
            replica.gate.release()
        self.metrics.in_flight_of(model, replica.backend.name).dec()

    async def _leased(
        self,
        model: str,
        replica: Replica,
        first: StreamEvent,
        events: AsyncIterator[StreamEvent],
    ) -> AsyncIterator[StreamEvent | None]:
        """The stream, first event included; the request is released when it ends or closes
        (a generator closed before its first step would skip its `finally`: hence the None,
        the step `open_stream` takes)."""
        try:
            yield None
            yield first
            async for event in events:
                yield event
        finally:
            self._release(model, replica)
            await events.aclose()  # type: ignore[attr-defined]


async def _checked(check: Check, reply: Reply) -> str | None:
    """The check's verdict; for a large answer, from a worker thread (the loop goes on)."""
    if len(reply.body) <= OFF_LOOP_BYTES:
        return check(reply)
    return await asyncio.to_thread(check, reply)


def _log_flip(breaker: Breaker) -> None:
    """One line when a breaker opens or closes, with the cause."""
    if breaker.failures:
        log.warning(
            "circuit breaker for %s opened for %gs after %d failures in a row: %s",
            breaker.name,
            breaker.cooldown,
            breaker.failures,
            breaker.cause,
        )
    else:
        log.info("circuit breaker for %s closed: a request succeeded", breaker.name)


def _blame(err: BackendError, model: str, replica: Replica) -> BackendError:
    """Note on the error which model and backend failed (for the metrics' labels)."""
    err.model, err.backend = model, replica.backend.name
    return err


def _as_backend_error(err: BaseException, model: str) -> BackendError:
    if isinstance(err, BackendError):
        return err
    return BackendError(f"{model}: the stream ended before its first event")


def _described(failures: list[Failure]) -> list[str]:
    return [f"{f.model} ({f.error.code})" for f in failures]


def _exhausted(route: Route, failures: list[Failure], skipped: list[Replica]) -> BackendError:
    if not failures:
        names = ", ".join(route.candidates)
        now = time.monotonic()
        if skipped and all(r.busy_until > now for r in skipped):
            wait = min(r.busy_until for r in skipped) - now
            return Overloaded(
                f"{names} busy: the upstream asked for {wait:.1f}s more (429 Retry-After).",
                retry_after=max(1, math.ceil(wait)),
            )
        return NoModelAvailable(
            f"No backend serves {names} now (none configured, or each is cooling down after "
            "repeated failures)."
        )
    return AllCandidatesFailed(failures)
