"""The breakers and queues at the `Backend` seam, without sockets (`tests/fakes/seam.py`): a
failing replica skipped, one model's failures spare its neighbours, connection failures open the
backend-wide breaker, one half-open probe, a health check closes nothing, and what never counts
(an upstream 4xx or 429, the router's own queue); a 429's Retry-After honoured; a full queue
refused, a long wait timed out. Over real sockets: `tests/serving/test_breakers.py`."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from router.errors import AllCandidatesFailed, BackendError, NoModelAvailable, Overloaded
from tests.fakes.backend import FakeBackend, Script
from tests.fakes.seam import Seam, content, fake, pair, served_by


async def test_client_errors_never_open_the_breaker() -> None:
    seam = await Seam([fake("lmstudio", m=Script(fail="400"))], failure_threshold=1).ready()
    for _ in range(3):
        with pytest.raises(BackendError) as caught:
            await seam.complete("m")
        assert caught.value.status == 400
    seam.backends[0].scripts["m"].fail = None
    assert content((await seam.complete("m"))[1]) == "Hello from the fake backend."


# ---------------------------------------------------------------- the breakers


async def test_a_replica_whose_breaker_is_open_is_skipped_without_a_fallback() -> None:
    seam = await Seam(pair(), failure_threshold=1, cooldown=30).ready()
    one, _ = seam.backends
    one.scripts["gemma"].fail = "500"
    served, _ = await seam.complete("gemma")
    assert served_by(served) == "mac2" and served.fallbacks
    for _ in range(3):
        served, _ = await seam.complete("gemma")
        assert served_by(served) == "mac2" and not served.fallbacks
    assert one.scripts["gemma"].calls == 1
    assert seam.metric("router_fallbacks_total") == 1


async def test_one_models_failures_spare_its_neighbour_on_the_same_backend() -> None:
    lmstudio = fake("lmstudio", slow=Script(fail="503"), fast=Script("fast"))
    seam = await Seam([lmstudio], failure_threshold=2).ready()
    statuses = []
    for _ in range(3):
        with pytest.raises(BackendError) as caught:
            await seam.complete("slow")
        statuses.append(caught.value.status)
    assert statuses == [502, 502, 503]
    assert "cooling down" in caught.value.message
    assert content((await seam.complete("fast"))[1]) == "fast"
    assert lmstudio.scripts["slow"].calls == 2  # the third was not sent: its breaker is open
    assert seam.catalog.backend_up("lmstudio")


async def test_a_breaker_opens_then_a_probe_closes_it_each_said_once_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="router")
    lmstudio = fake("lmstudio", slow=Script(fail="500"), fast=Script("fast"))
    seam = await Seam([lmstudio], failure_threshold=2, cooldown=0.3).ready()
    for _ in range(2):
        with pytest.raises(BackendError):
            await seam.complete("slow")
    with pytest.raises(NoModelAvailable, match="cooling down") as cooling:
        await seam.complete("slow")
    assert cooling.value.headers()["retry-after"] and lmstudio.scripts["slow"].calls == 2
    assert content((await seam.complete("fast"))[1]) == "fast"  # its neighbour still answers
    assert seam.catalog.usable()
    lmstudio.scripts["slow"].fail = None
    await asyncio.sleep(0.35)
    await seam.complete("slow")
    assert [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()] == [
        "circuit breaker for slow on lmstudio opened for 0.3s after 2 failures in a row: "
        "lmstudio: internal error",
        "circuit breaker for slow on lmstudio closed: a request succeeded",
    ]


async def test_connection_failures_open_the_backend_wide_breaker() -> None:
    lmstudio = fake("lmstudio", a=Script(fail="refused"), b=Script(fail="refused"))
    seam = await Seam([lmstudio], failure_threshold=2, cooldown=30).ready()
    for model in ("a", "b"):
        with pytest.raises(BackendError) as caught:
            await seam.complete(model)
        assert caught.value.status == 502
    for model in ("a", "b"):  # whichever model is asked: the backend is cooling down
        with pytest.raises(NoModelAvailable, match="cooling down"):
            await seam.complete(model)
    assert [s.calls for s in lmstudio.scripts.values()] == [1, 1]
    assert not seam.catalog.backend_up("lmstudio") and not seam.catalog.usable()
    assert seam.metric("router_backend_up", backend="lmstudio") == 0


async def test_half_open_lets_exactly_one_probe_through() -> None:
    lmstudio = fake("lmstudio", m=Script(fail="500"))
    seam = await Seam([lmstudio], failure_threshold=1, cooldown=0.1).ready()
    script = lmstudio.scripts["m"]
    with pytest.raises(BackendError):
        await seam.complete("m")
    script.fail, script.delay, script.calls = None, 0.2, 0
    await asyncio.sleep(0.15)
    results = await asyncio.gather(*(seam.complete("m") for _ in range(4)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, NoModelAvailable)]
    assert len(refused) == 3 and all(r.status == 503 for r in refused)  # told to come back
    assert script.calls == 1  # the probe
    await seam.complete("m")  # closed by the probe
    assert script.calls == 2


async def test_a_passing_health_check_does_not_close_a_breaker_a_request_opened() -> None:
    seam = await Seam([fake("lmstudio", m=Script(fail="500"))], failure_threshold=1).ready()
    with pytest.raises(BackendError):
        await seam.complete("m")
    seam.backends[0].scripts["m"].fail = None
    for _ in range(3):  # several model lists read, each answered
        await seam.catalog.refresh()
    assert seam.catalog.states["lmstudio"].up
    with pytest.raises(NoModelAvailable):
        await seam.complete("m")
    assert seam.backends[0].scripts["m"].calls == 1


async def test_a_full_in_process_queue_is_not_a_failure() -> None:
    local = FakeBackend("local", {"m": Script(fail="busy")}, kind="mlx")
    seam = await Seam([local], failure_threshold=1).ready()
    for _ in range(3):
        with pytest.raises(AllCandidatesFailed) as caught:
            await seam.complete("m")
        assert caught.value.status == 429
        assert [type(f.error) for f in caught.value.failures] == [Overloaded]
    assert local.scripts["m"].calls == 3  # never skipped: neither breaker opened
    assert seam.catalog.usable()


# ---------------------------------------------------------------- an upstream's 429


async def test_a_429_is_busy_not_broken_and_its_retry_after_is_honoured() -> None:
    seam = await Seam(pair("one", "two"), failure_threshold=1).ready()
    one, _ = seam.backends
    busy = one.scripts["gemma"]
    busy.fail, busy.retry_after = "429", "0.3"
    backends = [served_by((await seam.complete("gemma"))[0]) for _ in range(4)]
    assert backends == ["mac2"] * 4  # the first after mac1's 429, the rest without asking
    assert busy.calls == 1
    busy.fail = None
    await asyncio.sleep(0.35)  # its Retry-After is over; no breaker was opened
    assert served_by((await seam.complete("gemma"))[0]) == "mac1"
    assert busy.calls == 2


async def test_with_every_replica_busy_the_client_is_told_when_to_come_back() -> None:
    seam = await Seam([fake("mac1", gemma=Script(fail="429", retry_after="3"))]).ready()
    with pytest.raises(BackendError) as caught:
        await seam.complete("gemma")
    assert (caught.value.status, caught.value.headers()) == (429, {"retry-after": "3"})
    with pytest.raises(Overloaded) as held:  # not asked again while its Retry-After holds
        await seam.complete("gemma")
    assert held.value.retry_after == 3 and held.value.status == 429
    assert seam.backends[0].scripts["gemma"].calls == 1


async def test_a_full_queue_is_refused_with_a_retry_after() -> None:
    slow = fake("lmstudio", m=Script(delay=0.3))
    seam = await Seam([slow], max_concurrency=1, max_queue=1).ready()
    start = time.monotonic()
    results = await asyncio.gather(*(seam.complete("m") for _ in range(3)), return_exceptions=True)
    assert time.monotonic() - start >= 0.55  # one at a time: 2 x 0.3 s
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], AllCandidatesFailed)
    assert [type(f.error) for f in refused[0].failures] == [Overloaded]
    assert (refused[0].status, refused[0].type) == (429, "rate_limit_exceeded")
    assert refused[0].headers() == {"retry-after": "1"}
    assert slow.scripts["m"].calls == 2  # one at a time: the queued one went after the first
    seam.assert_settled()


async def test_a_long_wait_in_the_queue_is_a_503() -> None:
    slow = fake("lmstudio", m=Script(delay=0.3))
    seam = await Seam([slow], max_concurrency=1, max_queue=4, queue_timeout=0.1).ready()
    results = await asyncio.gather(*(seam.complete("m") for _ in range(2)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], BackendError)
    assert (refused[0].status, refused[0].code) == (503, "queue_timeout")
    assert slow.scripts["m"].calls == 1
    seam.assert_settled()
