"""Admission: per-model concurrency with a bounded queue, and the per-backend circuit breaker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from router.config import MLXBackendConfig
from router.errors import (
    AllCandidatesFailed,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeout,
    BackendUnavailable,
    BackendUnreachable,
    Overloaded,
    QueueTimeout,
)
from router.metrics import Metrics
from router.routing.decide import Route
from router.serving.admission import Breaker, Gate, Outcome, admit, busy_for, outcome, settle
from router.serving.catalog import Catalog
from router.serving.dispatch import Dispatcher
from router.wire import decode_chat
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.backend import FakeBackend, Script
from tests.fakes.upstream import FakeUpstream

BODY = {"model": "slow-model", "messages": [{"role": "user", "content": "hi"}]}


async def test_gate_runs_up_to_its_limit_then_queues_in_order() -> None:
    gate = Gate(limit=1, max_queue=2, queue_timeout=5)
    order: list[int] = []
    await gate.acquire("m")

    async def wait(i: int) -> None:
        await gate.acquire("m")
        order.append(i)

    waiters = [asyncio.create_task(wait(i)) for i in (1, 2)]
    await asyncio.sleep(0.01)
    assert gate.waiting == 2
    with pytest.raises(Overloaded):
        await gate.acquire("m")
    gate.release()
    await asyncio.sleep(0.01)
    assert order == [1] and gate.active == 1
    gate.release()
    await asyncio.gather(*waiters)
    assert order == [1, 2]
    gate.release()
    assert gate.active == 0


async def test_gate_wait_has_a_time_limit_and_cancellation_frees_the_line() -> None:
    gate = Gate(limit=1, max_queue=4, queue_timeout=0.05)
    await gate.acquire("m")
    with pytest.raises(QueueTimeout):
        await gate.acquire("m")
    cancelled = asyncio.create_task(gate.acquire("m"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert gate.waiting == 0
    gate.release()
    assert gate.active == 0


async def test_gate_without_a_time_limit_waits_for_its_turn() -> None:
    gate = Gate(limit=1, max_queue=1, queue_timeout=None)
    await gate.acquire("m")
    waiter = asyncio.create_task(gate.acquire("m"))
    await asyncio.sleep(0.1)
    assert not waiter.done() and gate.waiting == 1
    gate.release()
    await waiter
    assert gate.active == 1


async def test_an_in_process_models_one_queue_is_its_gate() -> None:
    """An mlx replica's gate lets `max_concurrency` requests through (its generation thread's
    batch; 1 here), keeps `max_queue` waiting, counted once in router_queue_depth, and refuses
    the rest with a 429 naming the setting."""
    fake = FakeBackend("local", {"m": Script(delay=0.2)})
    catalog, metrics = Catalog(), Metrics()
    config = MLXBackendConfig(name="local", max_concurrency=1, max_queue=1)
    catalog.add(fake, config)  # type: ignore[arg-type]
    await catalog.refresh()
    dispatcher = Dispatcher(catalog, metrics)
    route = Route("qa", ["m"], "direct", "direct")
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'

    def ask() -> asyncio.Task[object]:
        return asyncio.create_task(
            dispatcher.complete(route, "chat/completions", decode_chat(body), body)
        )

    running = [ask(), ask()]
    await asyncio.sleep(0.05)
    depth = metrics.queue_depth.labels("m", "local")
    assert fake.scripts["m"].calls == 1 and depth._value.get() == 1
    with pytest.raises(AllCandidatesFailed, match=r"max_queue = 1") as caught:
        await ask()
    assert caught.value.status == 429 and caught.value.headers() == {"retry-after": "1"}
    await asyncio.gather(*running)
    assert fake.scripts["m"].calls == 2 and depth._value.get() == 0


@pytest.mark.parametrize(
    ("events", "allows"),
    [
        ([], True),
        (["fail", "fail"], True),
        (["fail", "fail", "fail"], False),
        (["fail", "fail", "ok", "fail"], True),
        (["fail", "fail", "fail", "wait"], True),  # half-open: a probe may go
        (["fail", "fail", "fail", "wait", "probe"], False),  # the one probe is out
        (["fail", "fail", "fail", "wait", "probe", "probe_fails"], False),  # open again
        (["fail", "fail", "fail", "wait", "probe", "probe_fails", "wait"], True),
        (["fail", "fail", "fail", "wait", "probe", "ok"], True),
        (["fail", "fail", "fail", "wait", "probe", "abandon"], True),  # the next may probe
        (["fail", "fail", "fail", "wait", "probe", "fail"], False),  # an older request's
    ],
)
def test_breaker(events: list[str], allows: bool) -> None:
    breaker = Breaker(threshold=3, cooldown=10)
    now = 100.0
    probe = False
    for event in events:
        if event == "fail":
            breaker.failure(now)
        elif event == "ok":
            breaker.success()
        elif event == "probe":
            assert breaker.allows(now)
            probe = breaker.take()
            assert probe
        elif event == "probe_fails":
            breaker.failure(now, "boom", probe)
        elif event == "abandon":
            breaker.abandon(probe)
        else:
            now += 11
    assert breaker.allows(now) is allows


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (None, "ok"),
        (BackendStatusError(400, "bad request"), "answered"),
        (BackendStatusError(401, "no key"), "answered"),
        (BackendStatusError(404, "no such endpoint"), "answered"),
        (BackendStatusError(422, "unprocessable"), "answered"),
        (BackendStatusError(429, "slow down", retry_after="3"), "busy"),
        (BackendStatusError(500, "internal"), "model"),
        (BackendStatusError(503, "overloaded"), "model"),
        (BackendTimeout("no byte within 600s"), "model"),
        (BackendProtocolError("malformed"), "model"),
        (BackendUnavailable("connection dropped"), "model"),
        (BackendError("an error event"), "model"),
        (BackendUnreachable("refused"), "connection"),
        (Overloaded("our queue is full"), "none"),
        (QueueTimeout("waited in our queue"), "none"),
        (asyncio.CancelledError(), "none"),
    ],
)
def test_what_an_ending_says_of_the_backend(err: BaseException | None, expected: str) -> None:
    assert outcome(err) == expected


@pytest.mark.parametrize(
    ("result", "backend_opens", "model_opens"),
    [
        ("ok", False, False),
        ("answered", False, False),
        ("busy", False, False),
        ("none", False, False),
        ("model", False, True),
        ("connection", True, False),
    ],
)
def test_three_endings_in_a_row_open_the_breaker_they_concern(
    result: Outcome, backend_opens: bool, model_opens: bool
) -> None:
    backend, model = Breaker(3, 10, "backend b"), Breaker(3, 10, "m on b")
    flipped: list[Breaker] = []
    for _ in range(3):
        ticket = admit(backend, model, 0.0, 100.0)
        assert ticket == (False, False)
        flipped += settle(backend, model, ticket, result, 100.0, "why")
    assert backend.is_open(100.0) is backend_opens
    assert model.is_open(100.0) is model_opens
    assert flipped == [b for b, opens in ((backend, backend_opens), (model, model_opens)) if opens]


def test_half_open_admits_exactly_one_probe_and_its_success_closes() -> None:
    backend, model = Breaker(1, 10, "backend b"), Breaker(1, 10, "m on b")
    settle(backend, model, admit(backend, model, 0, 0.0), "model", 0.0, "500")  # type: ignore[arg-type]
    assert admit(backend, model, 0, 5.0) is None  # cooling down
    probe = admit(backend, model, 0, 11.0)
    assert probe == (False, True)
    assert admit(backend, model, 0, 11.0) is None  # the others go elsewhere
    assert settle(backend, model, probe, "ok", 12.0, "") == [model]
    assert admit(backend, model, 0, 12.0) == (False, False)


def test_a_probe_that_ends_saying_nothing_lets_the_next_one_probe() -> None:
    backend, model = Breaker(1, 10), Breaker(1, 10)
    settle(backend, model, (False, False), "connection", 0.0, "refused")
    probe = admit(backend, model, 0, 11.0)
    assert probe == (True, False)
    assert settle(backend, model, probe, "none", 11.0, "") == []  # cancelled
    assert admit(backend, model, 0, 11.0) == (True, False)


def test_a_429_holds_the_replica_for_its_retry_after() -> None:
    backend, model = Breaker(), Breaker()
    assert admit(backend, model, busy_until=105.0, now=104.0) is None
    assert admit(backend, model, busy_until=105.0, now=105.0) == (False, False)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (None, 1.0),
        ("soon", 1.0),
        ("-4", 0.0),
        ("86400", 60.0),
        ("nan", 1.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 5.0),
    ],
)
def test_busy_for_reads_retry_after(value: str | None, seconds: float) -> None:
    assert busy_for(value, wall_now=5.0) == seconds


def _post(router: RunningRouter) -> httpx.Response:
    return httpx.post(router.base_url + "/chat/completions", json=BODY, timeout=10)


def test_a_full_queue_gets_429_with_retry_after(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    fake.model("slow-model").ttft = 0.5
    router = start_router(
        backend_toml("lmstudio", fake.base_url, "max_concurrency = 1\nmax_queue = 1")
    )
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda _: _post(router), range(3)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["type"] == "rate_limit_exceeded"
    assert fake.peak_in_flight == 1
    assert router.metric("router_queue_depth") == 0


def test_a_long_wait_in_the_queue_gets_503(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    fake.model("slow-model").ttft = 0.6
    limits = "max_concurrency = 1\nmax_queue = 4\nqueue_timeout = 0.2"
    router = start_router(backend_toml("lmstudio", fake.base_url, limits))
    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: _post(router), range(2)))
    assert statuses == [200, 503]


def test_the_breaker_skips_a_failing_model_then_probes_it_and_spares_its_neighbours(
    fake: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="router")
    router = start_router(
        backend_toml("lmstudio", fake.base_url, "failure_threshold = 2\ncooldown = 0.5")
    )
    fake.model("slow-model").failure = "500"
    assert [_post(router).status_code for _ in range(2)] == [502, 502]
    fake.reset()
    cooling = _post(router)
    assert cooling.status_code == 503 and cooling.headers["retry-after"]
    assert "cooling down" in cooling.json()["error"]["message"]
    assert not [r for r in fake.requests if r.path == "/v1/chat/completions"]
    neighbour = httpx.post(
        router.base_url + "/chat/completions", json={**BODY, "model": "fast-model"}
    )
    assert neighbour.status_code == 200  # the same backend's other models still answer
    assert httpx.get(router.root + "/readyz").status_code == 200
    fake.model("slow-model").failure = None
    time.sleep(0.6)
    assert _post(router).status_code == 200
    lines = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert lines == [
        "circuit breaker for slow-model on lmstudio opened for 0.5s after 2 failures in a row: "
        "lmstudio: fake upstream: internal error",
        "circuit breaker for slow-model on lmstudio closed: a request succeeded",
    ]
