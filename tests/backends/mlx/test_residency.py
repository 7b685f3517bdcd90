"""Residency: the pure eviction choice (table-driven), then the scheduler with fake workers.

The fake workers load at once (or fail, or take a while) in place of mlx, so these tests check
the bookkeeping alone: one load per model however many requests race for it, idle models
evicted least recently used first, busy ones never, a load that waits for room and gives up
with a 503 after `load_wait`, the queue bound (429), the idle TTL.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from router.backends.mlx.residency import Residency, ResidentInfo, choose_evictions
from router.errors import ModelLoadFailed, NoModelAvailable
from router.metrics import Metrics
from router.wire import ModelCard

MB = 1_000_000
NOW = 1_000.0


def info(
    model_id: str, size_mb: int, last_used: float, busy: bool = False, ttl: float = 0.0
) -> ResidentInfo:
    return ResidentInfo(model_id, size_mb * MB, last_used, busy, ttl)


CASES = [
    # (name, resident models, need MB, budget MB, expected evictions)
    ("nothing resident", [], 100, 1000, []),
    ("fits already", [info("a", 300, 10)], 100, 1000, []),
    ("fits exactly", [info("a", 900, 10)], 100, 1000, []),
    ("one idle model makes room", [info("a", 600, 10)], 500, 1000, ["a"]),
    ("least recently used goes first", [info("b", 400, 20), info("a", 400, 10)], 300, 1000, ["a"]),
    (
        "as many as needed, oldest first",
        [info("c", 300, 30), info("a", 300, 10), info("b", 300, 20)],
        700,
        1000,
        ["a", "b"],
    ),
    (
        "a busy model is never chosen, however old",
        [info("a", 400, 1, busy=True), info("b", 400, 50)],
        300,
        1000,
        ["b"],
    ),
    (
        "every model busy: nothing to evict",
        [info("a", 500, 1, busy=True), info("b", 400, 2, busy=True)],
        300,
        1000,
        [],
    ),
    (
        "evicting every idle model would not be enough: keep them",
        [info("a", 700, 1, busy=True), info("b", 200, 2)],
        400,
        1000,
        [],
    ),
    ("bigger than the budget: evict nothing", [info("a", 100, 1)], 1200, 1000, []),
    (
        "expired models go even when there is room",
        [info("a", 100, NOW - 61, ttl=60), info("b", 100, NOW - 59, ttl=60)],
        0,
        1000,
        ["a"],
    ),
    (
        "expired first, then least recently used",
        [
            info("x", 300, NOW - 10, ttl=60),
            info("y", 300, NOW - 20, ttl=60),
            info("z", 300, NOW - 100, ttl=60),
        ],
        500,
        1000,
        ["z", "y"],
    ),
    ("expired but busy stays", [info("a", 100, NOW - 1000, busy=True, ttl=60)], 0, 1000, []),
    (
        "expired ones go even when no room can be made",
        [info("a", 100, NOW - 100, ttl=60), info("b", 800, 1, busy=True)],
        500,
        1000,
        ["a"],
    ),
    ("no ttl: idle forever is fine", [info("a", 100, 0.0)], 0, 1000, []),
    ("ties go by id", [info("b", 500, 5), info("a", 500, 5)], 500, 1000, ["a"]),
]


@pytest.mark.parametrize(
    ("models", "need", "budget", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_choose_evictions(
    models: list[ResidentInfo], need: int, budget: int, expected: list[str]
) -> None:
    assert choose_evictions(models, need * MB, budget * MB, NOW) == expected


def test_choose_evictions_leaves_its_input_alone() -> None:
    models = [info("b", 400, 20), info("a", 400, 10)]
    before = list(models)
    choose_evictions(models, 900 * MB, 1000 * MB, NOW)
    assert models == before


# --- the scheduler, with fake workers -------------------------------------------------------


class FakeWorker:
    """Stands in for `router.backends.mlx.generation.Worker`: loads after `delay`, or fails."""

    created: list[str]
    delay = 0.0
    fail = False

    def __init__(self, model_id: str, path: Path) -> None:
        self.model_id = model_id
        self.ready: Future[float] = Future()
        self.closed: Future[None] = Future()
        type(self).created.append(model_id)

    def start(self) -> None:
        def load() -> None:
            if self.fail:
                self.ready.set_exception(OSError("no such file\nsecond line"))
                self.closed.set_result(None)
            else:
                self.ready.set_result(0.01)

        threading.Timer(self.delay, load).start()

    def stop(self, *, cancel: bool = False) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@pytest.fixture
def worker() -> type[FakeWorker]:
    class Fake(FakeWorker):
        created: list[str] = []  # noqa: RUF012 - reset for every test

    return Fake


def residency(
    factory: Any, *, budget_mb: int = 1000, sizes: dict[str, int] | None = None, **options: Any
) -> Residency:
    r = Residency(
        "local", budget_bytes=budget_mb * MB, factory=factory, metrics=Metrics(), **options
    )
    for model_id, size in (sizes or {"a": 400, "b": 400}).items():
        r.add(model_id, Path(f"/models/{model_id}"), size * MB, ModelCard(model_id))
    return r


def loaded(r: Residency, model_id: str) -> float:
    assert r.metrics is not None
    return r.metrics.model_loaded.labels(model_id, "local")._value.get()


async def use(r: Residency, model_id: str, hold: float = 0.0) -> None:
    async with r.lease(model_id):
        await asyncio.sleep(hold)


async def test_racing_requests_load_a_model_once(worker: type[FakeWorker]) -> None:
    worker.delay = 0.05
    r = residency(worker)
    await asyncio.gather(*(use(r, "a") for _ in range(5)))
    assert worker.created == ["a"]
    assert r.slots["a"].state == "loaded" and r.slots["a"].card.state == "loaded"
    assert r.slots["a"].card.load_seconds == 0.01
    assert loaded(r, "a") == 1
    await r.close()


async def test_an_idle_model_is_evicted_to_make_room(worker: type[FakeWorker]) -> None:
    r = residency(worker, budget_mb=600)
    await use(r, "a")
    await use(r, "b")
    assert (r.slots["a"].state, r.slots["b"].state) == ("on disk", "loaded")
    assert (loaded(r, "a"), loaded(r, "b")) == (0, 1)
    assert r.slots["a"].card.state == "on disk"
    await r.close()


async def test_a_busy_model_is_kept_and_the_load_waits(worker: type[FakeWorker]) -> None:
    r = residency(worker, budget_mb=600)
    first = asyncio.create_task(use(r, "a", hold=0.3))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(use(r, "b"))
    await asyncio.sleep(0.1)
    assert r.slots["a"].state == "loaded" and r.slots["b"].state == "on disk"
    await asyncio.gather(first, second)
    assert (r.slots["a"].state, r.slots["b"].state) == ("on disk", "loaded")
    await r.close()


async def test_a_load_gives_up_after_load_wait(worker: type[FakeWorker]) -> None:
    r = residency(worker, budget_mb=600, load_wait=0.1)
    first = asyncio.create_task(use(r, "a", hold=0.5))
    await asyncio.sleep(0.05)
    with pytest.raises(NoModelAvailable, match=r"busy models hold it: a \(400 MB\)") as err:
        await use(r, "b")
    assert err.value.status == 503 and err.value.retryable
    await first
    assert r.slots["a"].state == "loaded" and r.slots["b"].pending == 0
    await r.close()


async def test_a_model_bigger_than_the_budget_fails_at_once(worker: type[FakeWorker]) -> None:
    r = residency(worker, budget_mb=300)
    with pytest.raises(NoModelAvailable, match="more than the whole memory budget"):
        await use(r, "a")
    assert worker.created == []


async def test_a_lease_never_queues_nor_refuses(worker: type[FakeWorker]) -> None:
    """The replica's gate in front of residency is the only queue (router.serving.admission):
    residency takes every lease, keeps the model while any is held, and writes no queue depth."""
    r = residency(worker)
    running = [asyncio.create_task(use(r, "a", hold=0.1)) for _ in range(20)]
    await asyncio.sleep(0.05)
    assert r.slots["a"].pending == 20 and r.slots["a"].state == "loaded"
    await asyncio.gather(*running)
    assert r.slots["a"].pending == 0 and worker.created == ["a"]
    assert r.metrics is not None
    assert not r.metrics.queue_depth._metrics  # no series: the dispatcher counts the queue
    await r.close()


async def test_a_failed_load_is_reported_and_retried(worker: type[FakeWorker]) -> None:
    worker.fail = True
    r = residency(worker)
    with pytest.raises(
        ModelLoadFailed, match="cannot load a from /models/a: OSError: no such"
    ) as err:
        await use(r, "a")
    assert "\n" not in err.value.message and err.value.retryable
    assert r.slots["a"].state == "on disk"
    worker.fail = False
    await use(r, "a")
    assert worker.created == ["a", "a"] and r.slots["a"].state == "loaded"
    await r.close()


async def test_idle_models_are_unloaded_after_the_ttl(worker: type[FakeWorker]) -> None:
    r = residency(worker, idle_ttl=0.2)
    r.start()
    await use(r, "a")
    assert r.slots["a"].state == "loaded"
    for _ in range(50):
        await asyncio.sleep(0.02)
        if r.slots["a"].state == "on disk":
            break
    assert r.slots["a"].state == "on disk" and loaded(r, "a") == 0
    await r.close()


async def test_warm_starts_the_load_and_the_request_then_reuses_it(
    worker: type[FakeWorker],
) -> None:
    worker.delay = 0.1
    r = residency(worker)
    r.warm("a")
    await asyncio.sleep(0.02)
    assert r.slots["a"].state == "loading"
    r.warm("a")  # a second hint while loading starts nothing new
    await use(r, "a")
    assert worker.created == ["a"] and r.slots["a"].state == "loaded"
    await r.close()
