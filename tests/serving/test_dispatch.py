"""Dispatch at the `Backend` seam, without sockets (`tests/fakes/seam.py`): fallback before the
first event and none after it, checked escalation, the attempt bound, every candidate's failure
carried, client errors not retried, requests spread over replicas, every place given back however
a request ends, the fallback and escalation metrics counted once each.

The same paths over real sockets (translation of real faults, SSE framing, the pool) are in
`tests/serving/test_faults.py`; the breakers and queues at the seam in
`tests/serving/test_breakers_seam.py`."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from router.errors import AllCandidatesFailed, BackendError, NoModelAvailable
from router.routing.decide import Route
from router.routing.guards import LoopGuard, answer_problem
from router.serving.dispatch import Check
from router.wire import ChatRequest
from tests.fakes.backend import Script
from tests.fakes.seam import HELLO, Seam, content, fake, pair, read, served_by

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
    assert (served.model, content(reply)) == ("big", JAPANESE)
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
    assert (served.model, content(reply)) == ("big", "two")
    assert served.escalations == ["small (bad)"]
    assert seam.metric("router_escalations_total") == 1


async def test_a_fallback_then_an_escalation_count_once_each() -> None:
    lmstudio = fake("lmstudio", small=Script(fail="500"), medium=Script("bad"), big=Script("good"))
    seam = await Seam([lmstudio]).ready()
    served, reply = await seam.complete(
        "small", "medium", "big", check=lambda r: "bad" if b"bad" in r.body else None
    )
    assert (served.model, content(reply)) == ("big", "good")
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
