"""Admission: how many requests a model takes at once, how many may wait, and for how long;
and the circuit breakers that stop sending requests where they keep failing.

`Gate` (one per replica with a concurrency limit): up to `limit` requests run, up to
`max_queue` wait in arrival order, the rest are refused at once with `Overloaded` (429 with
Retry-After); a request that waits longer than `queue_timeout` gets `QueueTimeout` (503). It is
the only queue in front of a model, whatever its backend (an in-process model's gate lets one
request through at a time: its generation thread runs one), so a waiting request is counted once
(`router_queue_depth`, by the dispatcher); a backend behind it only loads, never queues.

`Breaker`: closed while requests succeed; after `threshold` failures in a row it opens for
`cooldown` seconds and admits nothing; then it is half-open and admits exactly one request, the
probe, whose outcome closes it or opens it again; the others go elsewhere meanwhile. Only a
request closes it: a passing health check (`/v1/models`) says the server answers, not that
the model does.

Two breakers guard each replica (a model on a backend): the model's own, for failures of its
answers (5xx, read timeouts, malformed or error answers), so one broken model does not take
its neighbours down; and the backend's, shared by its replicas, for failures of the connection
itself (refused, reset, connect timeout). What is not the backend's fault never counts
(`outcome`): an upstream 4xx is the request's; a 429 means busy, and the replica is skipped
for its Retry-After (`busy_for`); a request refused by the router's own queue never reached it.

`admit`, `outcome` and `settle` are the decisions: pure, table-tested in
`tests/test_admission.py`; the dispatcher calls them and logs the transitions they return.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Literal

from router.errors import (
    BackendError,
    BackendStatusError,
    BackendUnreachable,
    NoModelAvailable,
    Overloaded,
    QueueTimeout,
    retry_after_seconds,
)


class Gate:
    """A concurrency limit with a bounded, timed FIFO queue."""

    __slots__ = ("_waiters", "active", "limit", "max_queue", "queue_timeout")

    def __init__(self, limit: int, max_queue: int, queue_timeout: float | None) -> None:
        self.limit = limit
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a free place at once, if there is one and nobody waits for it."""
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return True
        return False

    async def acquire(self, what: str) -> None:
        """Take a place, waiting in line if needed; raises Overloaded or QueueTimeout."""
        if self.try_acquire():
            return
        if len(self._waiters) >= self.max_queue:
            raise Overloaded(
                f"{what} is busy: {self.active} running, {self.waiting} waiting "
                f"(max_queue = {self.max_queue}); try again shortly."
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout)
        except TimeoutError:
            if waiter.done():  # handed a place just as the wait ran out: give it back
                self.release()
            raise QueueTimeout(
                f"{what}: waited {self.queue_timeout or 0:.0f}s in the queue without a turn."
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
    """Closed, open (cooling down) or half-open (one probe at a time); see the module doc."""

    __slots__ = ("cause", "cooldown", "failures", "name", "open_until", "probing", "threshold")

    def __init__(self, threshold: int = 3, cooldown: float = 10.0, name: str = "") -> None:
        self.name = name  # for the log: "backend lmstudio", "gemma on lmstudio"
        self.threshold = threshold
        self.cooldown = cooldown
        self.failures = 0  # in a row
        self.open_until = 0.0
        self.probing = False  # half-open, and its probe is out
        self.cause = ""  # the last failure's message

    def allows(self, now: float | None = None) -> bool:
        """Would a request be let through now: closed, or half-open with no probe out."""
        if self.failures < self.threshold:
            return True
        return not self.probing and (time.monotonic() if now is None else now) >= self.open_until

    def is_open(self, now: float | None = None) -> bool:
        return not self.allows(now)

    def cooling(self, now: float) -> bool:
        """Open and inside its cool-down (half-open with a probe out is not cooling)."""
        return self.failures >= self.threshold and now < self.open_until

    def take(self) -> bool:
        """Let a request through (after `allows`); True when it is the half-open probe."""
        if self.failures < self.threshold:
            return False
        self.probing = True
        return True

    def success(self) -> bool:
        """A request went well: closed. True when that ends an open spell."""
        was_open = self.failures >= self.threshold
        self.failures, self.probing, self.cause = 0, False, ""
        return was_open

    def failure(self, now: float, cause: str = "", probe: bool = False) -> bool:
        """A request failed. True when that opens the breaker; a failed probe opens it again
        for another cool-down (False: it was open already)."""
        self.failures += 1
        self.cause = cause
        if probe:
            self.probing = False
            self.open_until = now + self.cooldown
        elif self.failures == self.threshold:
            self.open_until = now + self.cooldown
            return True
        return False

    def abandon(self, probe: bool) -> None:
        """A request ended saying nothing of the backend (cancelled, refused, a 4xx)."""
        if probe:
            self.probing = False


# ---------------------------------------------------------------- the decisions

Outcome = Literal["ok", "answered", "busy", "model", "connection", "none"]
Verdict = Literal["success", "failure", "none"]
Ticket = tuple[bool, bool]  # whether the request is the probe of (the backend's, the model's)

VERDICTS: dict[Outcome, tuple[Verdict, Verdict]] = {  # outcome -> (backend's, model's)
    "ok": ("success", "success"),
    "answered": ("success", "none"),  # an upstream 4xx: the request's fault
    "busy": ("success", "none"),  # an upstream 429: busy, not broken
    "model": ("success", "failure"),  # 5xx, timeout, malformed: the connection did work
    "connection": ("failure", "none"),  # refused, reset, connect timeout
    "none": ("none", "none"),  # never reached it (our own queue), or cancelled
}
MAX_BUSY = 60.0  # the longest Retry-After honoured, in seconds
DEFAULT_BUSY = 1.0  # a 429 without a readable Retry-After


def outcome(err: BaseException | None) -> Outcome:
    """What a request's end says of where it went (None: it succeeded)."""
    if err is None:
        return "ok"
    if isinstance(err, BackendUnreachable):
        return "connection"
    if isinstance(err, Overloaded | QueueTimeout | NoModelAvailable):
        return "none"
    if isinstance(err, BackendStatusError):
        if err.upstream_status == 429:
            return "busy"
        return "answered" if err.upstream_status < 500 else "model"
    if isinstance(err, BackendError):
        return "model"
    return "none"


def admit(backend: Breaker, model: Breaker, busy_until: float, now: float) -> Ticket | None:
    """May a request go to a replica now (None: skip it)? Takes the half-open probes."""
    if now < busy_until or not (backend.allows(now) and model.allows(now)):
        return None
    return backend.take(), model.take()


def settle(
    backend: Breaker, model: Breaker, ticket: Ticket, result: Outcome, now: float, cause: str
) -> list[Breaker]:
    """Tell both breakers how a request admitted with `ticket` ended; returns the breakers
    that opened or closed because of it (for the log)."""
    flipped = []
    for breaker, verdict, probe in zip((backend, model), VERDICTS[result], ticket, strict=True):
        if verdict == "success":
            changed = breaker.success()
        elif verdict == "failure":
            changed = breaker.failure(now, cause, probe)
        else:
            breaker.abandon(probe)
            changed = False
        if changed:
            flipped.append(breaker)
    return flipped


def busy_for(retry_after: str | None, wall_now: float | None = None) -> float:
    """Seconds an upstream's 429 asks to wait (seconds or an HTTP date), within MAX_BUSY."""
    seconds = retry_after_seconds(retry_after, wall_now)
    if not math.isfinite(seconds):
        seconds = DEFAULT_BUSY
    return min(max(seconds, 0.0), MAX_BUSY)
