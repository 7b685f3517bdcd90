"""Admission: per-model concurrency with a bounded queue, and the per-backend circuit breaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from router.admission import Breaker, Gate
from router.errors import Overloaded, QueueTimeout
from tests.conftest import RunningRouter, backend_toml
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


@pytest.mark.parametrize(
    ("events", "allows"),
    [
        ([], True),
        (["fail", "fail"], True),
        (["fail", "fail", "fail"], False),
        (["fail", "fail", "ok", "fail"], True),
        (["fail", "fail", "fail", "wait"], True),
        (["fail", "fail", "fail", "wait", "fail"], False),
        (["fail", "fail", "fail", "wait", "ok"], True),
    ],
)
def test_breaker(events: list[str], allows: bool) -> None:
    breaker = Breaker(threshold=3, cooldown=10)
    now = 100.0
    for event in events:
        if event == "fail":
            breaker.failure(now)
        elif event == "ok":
            breaker.success()
        else:
            now += 11
    assert breaker.allows(now) is allows


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


def test_the_breaker_skips_a_failing_backend_then_probes_it(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(backend_toml(
        "lmstudio", fake.base_url, "failure_threshold = 2\ncooldown = 0.5"))  # fmt: skip
    fake.model("slow-model").failure = "500"
    assert [_post(router).status_code for _ in range(2)] == [502, 502]
    fake.reset()
    cooling = _post(router)
    assert cooling.status_code == 503 and cooling.headers["retry-after"]
    assert "cooling down" in cooling.json()["error"]["message"]
    assert not [r for r in fake.requests if r.path == "/v1/chat/completions"]
    assert httpx.get(router.root + "/readyz").status_code == 503
    fake.model("slow-model").failure = None
    time.sleep(0.6)
    assert _post(router).status_code == 200
    assert httpx.get(router.root + "/readyz").status_code == 200
