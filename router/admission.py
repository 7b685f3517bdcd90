"""Admission: how many requests a model takes at once, how many may wait, and for how long;
and the circuit breaker that stops sending requests to a backend that keeps failing.

`Gate` (one per replica with a concurrency limit): up to `limit` requests run, up to
`max_queue` wait in arrival order, the rest are refused at once with `Overloaded` (429 with
Retry-After); a request that waits longer than `queue_timeout` gets `QueueTimeout` (503).

`Breaker` (one per backend): closed while requests succeed; after `threshold` failures in a
row it opens for `cooldown` seconds, during which the backend is skipped; then one request (or
the catalogue's health check) probes it, and its outcome closes or re-opens it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from router.errors import Overloaded, QueueTimeout


class Gate:
    """A concurrency limit with a bounded, timed FIFO queue."""

    __slots__ = ("_waiters", "active", "limit", "max_queue", "queue_timeout")

    def __init__(self, limit: int, max_queue: int, queue_timeout: float) -> None:
        self.limit = limit
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, what: str) -> None:
        """Take a place, waiting in line if needed; raises Overloaded or QueueTimeout."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise Overloaded(f"{what} is busy: {self.active} running, {self.waiting} waiting.")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout)
        except TimeoutError:
            if waiter.done():  # handed a place just as the wait ran out: give it back
                self.release()
            raise QueueTimeout(
                f"{what}: waited {self.queue_timeout:.0f}s in the queue without a turn."
            ) from None
        except BaseException:
            if waiter.done():
                self.release()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        """Give a place back: to the first in line, else to the pool."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place passes on; `active` stays the same
                return
        self.active -= 1


class Breaker:
    """Per backend: skip it for a while after repeated failures, then probe it."""

    __slots__ = ("cooldown", "failures", "open_until", "threshold")

    def __init__(self, threshold: int = 3, cooldown: float = 10.0) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0
        self.open_until = 0.0

    def allows(self, now: float | None = None) -> bool:
        """Closed, or open past its cool-down (half-open: the next request probes it)."""
        return self.failures < self.threshold or (now or time.monotonic()) >= self.open_until

    def is_open(self, now: float | None = None) -> bool:
        return not self.allows(now)

    def success(self) -> None:
        self.failures = 0
        self.open_until = 0.0

    def failure(self, now: float | None = None) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = (now or time.monotonic()) + self.cooldown
