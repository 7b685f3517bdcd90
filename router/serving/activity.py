"""Whether clients are using the router: requests in flight, and when the last one came or went.

The HTTP layer calls `begin` when a generation request arrives and `end` when it is over
(answered, failed or abandoned). Only background work reads it: the idle continuation of
calibration waits for `idle_for(seconds)` before a step and stops the step on `arrival()`.
Health checks, `/readyz`, `/metrics` and `/v1/models` do not count: a Prometheus scrape every
few seconds would otherwise keep the router busy for ever.

No lock: every call runs on the event loop's thread. Waiters are woken on each change, and
there is nothing to wake on the hot path while nobody waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class Activity:
    """Requests in flight, the last arrival and the last end, and awaitables on them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.in_flight = 0
        self.arrivals = 0  # requests that arrived so far
        self.last_arrival = clock()  # start-up counts as activity
        self.last_end = self.last_arrival
        self._waiters: list[asyncio.Future[None]] = []

    def begin(self) -> None:
        """A request arrived."""
        self.in_flight += 1
        self.arrivals += 1
        self.last_arrival = self.clock()
        self._wake()

    def end(self) -> None:
        """A request is over."""
        self.in_flight -= 1
        self.last_end = self.clock()
        self._wake()

    def quiet_for(self) -> float:
        """Seconds since the last request came or went; 0 while one is in flight."""
        if self.in_flight:
            return 0.0
        return self.clock() - max(self.last_arrival, self.last_end)

    async def idle_for(self, seconds: float) -> None:
        """Return once no request is in flight and none has come or gone for `seconds`."""
        while (quiet := self.quiet_for()) < seconds:
            wait = None if self.in_flight else seconds - quiet
            await self._change(wait)

    async def arrival(self) -> None:
        """Return when the next request arrives."""
        seen = self.arrivals
        while self.arrivals == seen:
            await self._change(None)

    async def _change(self, timeout: float | None) -> None:
        """Wait for the next `begin` or `end`, or `timeout` seconds."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait((waiter,), timeout=timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def _wake(self) -> None:
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
