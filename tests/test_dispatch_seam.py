"""Dispatch at the `Backend` seam, without sockets: a `Dispatcher` over a `Catalog` of
in-process `FakeBackend`s. Fallback before the first event and none after it, checked
escalation, the attempt bound, the breakers (a failing replica skipped, one half-open probe,
a health check closes nothing, 4xx/429/our own queue never count), a 429's Retry-After, the
fallback metric counted once, and every place given back however a request ends.

The same paths over real sockets (translation of real faults, SSE framing, the pool) are in
`tests/test_faults.py` and `tests/test_breakers.py`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from router.backends.protocol import Reply, StreamEvent
from router.config import OpenAIBackendConfig
from router.errors import AllCandidatesFailed, BackendError, NoModelAvailable, Overloaded
from router.metrics import Metrics
from router.routing.decide import Route
from router.routing.guards import LoopGuard, answer_problem
from router.serving.catalog import Catalog
from router.serving.dispatch import Check, Dispatcher, Served
from router.wire import ChatRequest
from tests.fakes.backend import FakeBackend, Script

HELLO = b'{"model": "gemma", "messages": [{"role": "user", "content": "hello"}]}'
FAULTS = ["500", "503", "404", "timeout", "refused", "drop", "malformed"]
CODES = {  # the error code each fault is reported under (in the reason, and the metric)
    "500": "upstream_error",
    "503": "upstream_error",
    "404": "upstream_rejected",
    "timeout": "upstream_timeout",
    "refused": "upstream_unavailable",
    "drop": "upstream_unavailable",
    "malformed": "upstream_protocol_error",
}


class Seam:
    """A dispatcher over fake backends, with the helpers the tests share."""

    def __init__(self, backends: list[FakeBackend], max_attempts: int = 3, **settings: object):
        self.backends = backends
        self.catalog = Catalog()
        self.metrics = Metrics()
        for backend in backends:
            config = OpenAIBackendConfig(
                name=backend.name, base_url="http://127.0.0.1:9/v1", **settings
            )  # type: ignore[arg-type]
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
            return served, _content(reply)
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


def _content(reply: Reply) -> str:
    return msgspec.json.decode(reply.body)["choices"][0]["message"]["content"]


def fake(name: str, **scripts: Script) -> FakeBackend:
    return FakeBackend(name, dict(scripts))


def pair(one: str = "from mac one", two: str = "from mac two") -> list[FakeBackend]:
    """Two backends serving the same model id `gemma`, with different answers."""
    return [fake("mac1", gemma=Script(one)), fake("mac2", gemma=Script(two))]


def served_by(served: Served) -> str:
    return served.replica.backend.name


# ---------------------------------------------------------------- before and after the first event


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
async def test_a_failure_before_the_first_event_falls_back_to_the_next_replica(
    fault: str, stream: bool
) -> None:
    seam = await Seam(pair()).ready()
    one, two = seam.backends
    one.scripts["gemma"].fail = fault
    served, text = await seam.answer("gemma", stream=stream)
    assert (text, served_by(served)) == ("from mac two", "mac2")
    route = Route("none", ["gemma"], "direct", "direct")
    assert served.reason(route) == f"direct; fell back from gemma ({CODES[fault]})"
    fell = seam.metric("router_fallbacks_total", from_model="gemma", to_model="gemma")
    assert fell == 1 and seam.metric("router_fallbacks_total", reason=CODES[fault]) == 1
    assert [b.scripts["gemma"].calls for b in (one, two)] == [1, 1]
    seam.assert_settled()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_failing_model_gives_way_to_the_next_candidate(stream: bool) -> None:
    lmstudio = fake("lmstudio", small=Script("Short.", fail="500"), big=Script("Long."))
    seam = await Seam([lmstudio]).ready()
    served, text = await seam.answer("small", "big", stream=stream)
    assert (served.model, text) == ("big", "Long.")
    assert served.fallbacks == ["small (upstream_error)"]
    assert seam.metric("router_fallbacks_total", from_model="small", to_model="big") == 1
    seam.assert_settled()


@pytest.mark.parametrize(("fault", "code"), [("drop", 502), ("malformed", 502), ("timeout", 504)])
async def test_a_failure_after_the_first_event_ends_the_stream_with_no_fallback(
    fault: str, code: int
) -> None:
    seam = await Seam(pair("one two three four")).ready()
    one, two = seam.backends
    one.scripts["gemma"].fail_mid, one.scripts["gemma"].fail_after = fault, 2
    served, events = await seam.stream("gemma")
    assert served_by(served) == "mac1" and not served.fallbacks
    text, error = await read(events)
    assert text == "one two " and error is not None and error.status == code
    assert two.scripts["gemma"].calls == 0, "a started stream must not switch replicas"
    assert seam.metric("router_fallbacks_total") == 0
    seam.assert_settled()


async def test_a_stream_closed_early_gives_its_place_back() -> None:
    seam = await Seam([fake("mac1", gemma=Script(loop="again "))], max_concurrency=1).ready()
    for _ in range(3):  # one place: a place not given back would queue the next for good
        _, events = await seam.stream("gemma")
        first = [await anext(events) for _ in range(3)]
        assert [e.chunk.text() for e in first if e.chunk] == ["Hello ", "from ", "the "]
        await events.aclose()  # type: ignore[attr-defined]
    seam.assert_settled()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_request_cancelled_while_it_waits_gives_its_place_back(stream: bool) -> None:
    seam = await Seam([fake("mac1", gemma=Script(delay=10))]).ready()
    task = asyncio.create_task(seam.answer("gemma", stream=stream))
    await asyncio.sleep(0.05)
    assert seam.metric("router_requests_in_flight") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    seam.assert_settled()


# ---------------------------------------------------------------- checked escalation

JAPANESE = "会議は来週の火曜日に延期されました。資料は前日までに共有します。"
ASK_JA = msgspec.json.encode(
    {
        "model": "auto",
        "messages": [{"role": "user", "content": f"一行で要約してください：{JAPANESE}"}],
    }
)


def answer_check(task: str, body: bytes) -> Check:
    """The check the service gives a routed whole answer."""
    parsed = msgspec.json.decode(body, type=ChatRequest)
    return lambda reply: answer_problem(task, reply.body, parsed)


async def test_an_answer_that_fails_its_check_is_asked_of_the_next_model() -> None:
    lmstudio = fake("lmstudio", small=Script("Short and quick."), big=Script(JAPANESE))
    seam = await Seam([lmstudio]).ready()
    check = answer_check("summarize", ASK_JA)
    served, reply = await seam.complete("small", "big", body=ASK_JA, task="summarize", check=check)
    assert (served.model, _content(reply)) == ("big", JAPANESE)
    route = Route("summarize", ["small", "big"], "classified summarize", "balanced")
    assert served.reason(route) == "classified summarize; escalated from small (wrong_language)"
    labels = {"task": "summarize", "from_model": "small", "to_model": "big"}
    assert seam.metric("router_escalations_total", **labels) == 1
    assert seam.metric("router_fallbacks_total") == 0
    assert [s.calls for s in lmstudio.scripts.values()] == [1, 1]
    seam.assert_settled()


async def test_a_looping_answer_is_escalated() -> None:
    looper = Script("The subject line.", loop=" The subject line.")
    seam = await Seam([fake("lmstudio", looper=looper, big=Script("Dear client, ..."))]).ready()
    body = HELLO[:-1] + b', "max_tokens": 64}'
    check = answer_check("business_mail", body)
    served, _ = await seam.complete("looper", "big", body=body, task="business_mail", check=check)
    assert served.model == "big" and served.escalations == ["looper (loop)"]


async def test_when_every_answer_fails_its_check_the_last_one_is_returned() -> None:
    seam = await Seam([fake("lmstudio", small=Script("one"), big=Script("two"))]).ready()
    served, reply = await seam.complete("small", "big", check=lambda reply: "bad")
    assert (served.model, _content(reply)) == ("big", "two")
    assert served.escalations == ["small (bad)"]
    assert seam.metric("router_escalations_total") == 1


async def test_a_fallback_then_an_escalation_count_once_each() -> None:
    lmstudio = fake("lmstudio", small=Script(fail="500"), medium=Script("bad"), big=Script("good"))
    seam = await Seam([lmstudio]).ready()
    served, reply = await seam.complete(
        "small", "medium", "big", check=lambda r: "bad" if b"bad" in r.body else None
    )
    assert (served.model, _content(reply)) == ("big", "good")
    route = Route("none", ["small", "medium", "big"], "direct", "direct")
    assert served.reason(route) == (
        "direct; fell back from small (upstream_error); escalated from medium (bad)"
    )
    assert seam.metric("router_fallbacks_total") == 1
    assert seam.metric("router_fallbacks_total", from_model="small", to_model="medium") == 1
    assert seam.metric("router_escalations_total", from_model="medium", to_model="big") == 1


# ---------------------------------------------------------------- the attempt bound, all failed


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_attempts_are_bounded(stream: bool) -> None:
    backends = [fake(f"mac{i}", gemma=Script(fail="500")) for i in range(5)]
    seam = await Seam(backends, max_attempts=3).ready()
    with pytest.raises(AllCandidatesFailed) as caught:
        await seam.answer("gemma", stream=stream)
    assert [f.backend for f in caught.value.failures] == ["mac0", "mac1", "mac2"]
    assert [b.scripts["gemma"].calls for b in backends] == [1, 1, 1, 0, 0]
    assert seam.metric("router_fallbacks_total") == 2  # 1 -> 2 and 2 -> 3, each once
    seam.assert_settled()


async def test_the_bound_counts_replicas_not_models() -> None:
    backends = [fake(f"mac{i}", gemma=Script(fail="500")) for i in range(3)]
    backends.append(fake("other", small=Script("small")))
    seam = await Seam(backends, max_attempts=3).ready()
    with pytest.raises(BackendError):
        await seam.complete("gemma", "small")
    assert backends[-1].scripts["small"].calls == 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_when_every_candidate_fails_the_error_carries_each_failure(stream: bool) -> None:
    seam = await Seam(pair()).ready()
    one, two = seam.backends
    one.scripts["gemma"].fail, two.scripts["gemma"].fail = "500", "timeout"
    with pytest.raises(AllCandidatesFailed) as caught:
        await seam.answer("gemma", stream=stream)
    failures = [(f.model, f.backend, f.error.code) for f in caught.value.failures]
    assert failures == [("gemma", "mac1", "upstream_error"), ("gemma", "mac2", "upstream_timeout")]
    assert caught.value.status == 504  # the last 5xx: mac2's timeout
    assert "Every candidate failed" in caught.value.message
    assert "mac1: internal error" in caught.value.message
    assert "mac2: timed out" in caught.value.message
    assert seam.metric("router_fallbacks_total") == 1
    seam.assert_settled()


async def test_with_no_replica_at_all_the_error_says_none_serves_it() -> None:
    seam = await Seam(pair()).ready()
    with pytest.raises(NoModelAvailable):
        await seam.complete("nobody")


# ---------------------------------------------------------------- client errors


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_client_error_is_not_retried_elsewhere(stream: bool) -> None:
    seam = await Seam(pair()).ready()
    one, two = seam.backends
    one.scripts["gemma"].fail = "400"
    with pytest.raises(BackendError) as caught:
        await seam.answer("gemma", stream=stream)
    assert (caught.value.status, caught.value.code) == (400, "upstream_rejected")
    assert [one.scripts["gemma"].calls, two.scripts["gemma"].calls] == [1, 0]
    assert seam.metric("router_fallbacks_total") == 0
    seam.assert_settled()


async def test_client_errors_never_open_the_breaker() -> None:
    seam = await Seam([fake("lmstudio", m=Script(fail="400"))], failure_threshold=1).ready()
    for _ in range(3):
        with pytest.raises(BackendError) as caught:
            await seam.complete("m")
        assert caught.value.status == 400
    seam.backends[0].scripts["m"].fail = None
    assert _content((await seam.complete("m"))[1]) == "Hello from the fake backend."


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
    assert _content((await seam.complete("fast"))[1]) == "fast"
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
    assert _content((await seam.complete("fast"))[1]) == "fast"  # its neighbour still answers
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


# ---------------------------------------------------------------- spreading, queueing


async def test_requests_spread_over_idle_replicas_and_skip_a_down_one() -> None:
    dead = fake("dead", gemma=Script())
    dead.down = True  # its model list fails: the catalogue keeps its listed models, marked down
    backends = [dead, *pair()]
    for backend in backends:
        backend.scripts["gemma"].delay = 0.05
    seam = await Seam(backends).ready()
    answers = await asyncio.gather(*(seam.complete("gemma") for _ in range(4)))
    assert sorted(served_by(served) for served, _ in answers) == ["mac1", "mac1", "mac2", "mac2"]
    assert dead.scripts["gemma"].calls == 0
    assert seam.metric("router_fallbacks_total") == 0


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


# ---------------------------------------------------------------- the loop guard


async def test_the_loop_guard_catches_a_looping_stream() -> None:
    seam = await Seam(
        [fake("lmstudio", looper=Script("Subject:", loop=" The subject line."))]
    ).ready()
    _, events = await seam.stream("looper")
    guard, seen = LoopGuard(), 0
    async for event in events:
        seen += 1
        if event.chunk is not None and guard.feed(event.chunk.text()):
            break
    await events.aclose()  # type: ignore[attr-defined]
    assert seen < 60  # cut long before the 400 tokens it would send
    seam.assert_settled()
