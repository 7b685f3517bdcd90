"""Continuous batching of in-process models: the pure plan (who joins, who runs alone), then the
official SDK -> a running router -> SmolLM2, four streams decoding together.

Each batched answer is checked against the same request run alone: with a `seed` a request
never joins a batch (`batching.solo_reason`), so the reference goes through `stream_generate`
one token at a time, greedy like the batched ones. The prompts differ in length (the batch pads
them) and in content (a mix-up would show).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.backends.mlx.batching import Plan, plan, solo_reason
from router.backends.mlx.generation import Worker
from router.backends.mlx.job import Done, Job, JobStats
from router.backends.mlx.kv import KVBudget, read_per_token
from router.backends.mlx.sampling import Sampling
from tests.backends.mlx.test_backend import backend_of, client_of, in_thread, mlx_toml, wait_for
from tests.conftest import RunningRouter

TOKENS = 4
# different prompts (a mix-up would show), of different lengths (the batch pads them), with
# their own options: log-probabilities, a stop string reached on the third token
ASKED: list[tuple[str, dict[str, Any]]] = [
    ("What is the capital of France?", {}),
    ("Name a color.", {"logprobs": True, "top_logprobs": 2}),
    ("Write one sentence about the history of the river Thames.", {"stop": ["Thames"]}),
    ("Say hello in Spanish.", {}),
]


class Answer(NamedTuple):
    text: str
    finish_reason: str
    logprobs: list[str]  # each token's text, when asked
    usage: Any


@pytest.mark.parametrize(
    ("batchable", "running", "limit", "expected"),
    [
        ([], 0, 8, Plan(0, False)),  # nothing waits
        ([True, True], 0, 8, Plan(2, False)),  # both join
        ([True, True, True], 2, 4, Plan(2, False)),  # room for two more only
        ([True], 4, 4, Plan(0, False)),  # full: it waits
        ([False, True], 0, 8, Plan(0, True)),  # alone first, the other behind it
        ([False, True], 1, 8, Plan(0, False)),  # alone waits for the batch to drain...
        ([True, False, True], 1, 8, Plan(1, False)),  # ...and holds back those behind it
        ([True, False], 0, 8, Plan(1, False)),  # it runs alone once the one before is done
    ],
)
def test_plan(batchable: list[bool], running: int, limit: int, expected: Plan) -> None:
    assert plan(batchable, running, limit) == expected


KV = [
    # (name, waiting jobs' needs, members' needs, expected); allowance 100, all batchable
    ("one larger than the allowance runs, alone", [150], [], Plan(1, False)),
    ("...and the next waits for it", [150, 1], [], Plan(1, False)),
    ("two that fit join together", [40, 40], [], Plan(2, False)),
    ("exactly the allowance: joins", [50, 50], [], Plan(2, False)),
    ("the third would pass it: waits", [40, 40, 40], [], Plan(2, False)),
    ("joins the running batch while it fits", [40], [40], Plan(1, False)),
    ("rows are as long as the longest: 2 x 60 > 100", [10], [60], Plan(0, False)),
    ("nothing joins a request larger than the allowance", [1], [150], Plan(0, False)),
    ("a large one waits, and the small behind it with it", [30, 80, 10], [], Plan(1, False)),
    ("the count limit still holds", [1, 1, 1, 1, 1], [], Plan(4, False)),
]


@pytest.mark.parametrize(("needs", "held", "expected"), [c[1:] for c in KV], ids=[c[0] for c in KV])
def test_plan_by_kv(needs: list[int], held: list[int], expected: Plan) -> None:
    batchable = [True] * len(needs)
    assert plan(batchable, len(held), 4, needs=needs, held=held, allowance=100) == expected


def test_plan_without_an_allowance_counts_members_only() -> None:
    assert plan([True] * 3, 1, 4, needs=[500] * 3, held=[500]) == Plan(3, False)
    assert plan([False], 0, 4, needs=[0], allowance=0) == Plan(0, True)  # alone, as before


async def test_solo_reason() -> None:
    def job(**options: Any) -> Job:
        return Job(JobStats("id", "m"), "hi", max_tokens=1, **options)

    assert solo_reason(job()) is None
    assert solo_reason(job(top_logprobs=2, stops=["x"], sampling=Sampling(temperature=1))) is None
    assert solo_reason(job(n=2)) == "n > 1"
    assert solo_reason(job(sampling=Sampling(seed=7))) == "seed"


async def test_a_job_alone_waits_for_the_batch_and_holds_back_those_behind_it(
    embedded_model_path: Path, embedded_mlx_model: tuple[Any, Any]
) -> None:
    sizes: list[int] = []
    worker = Worker("m", embedded_model_path, lambda _: embedded_mlx_model, size=sizes.append)
    worker.start()
    await asyncio.wrap_future(worker.ready)
    ends: list[str] = []

    async def run(name: str, seed: int | None = None) -> None:
        sampling = Sampling(seed=seed)
        job = Job(JobStats(name, "m"), "Once upon a time", max_tokens=3, sampling=sampling)
        worker.submit(job)
        while not isinstance(item := await job.out.get(), Done):
            pass
        assert item.finish_reason == "length" and item.completion_tokens == 3
        ends.append(name)

    await asyncio.gather(run("a"), run("b"), run("alone", seed=1), run("after"))
    worker.stop()
    await asyncio.wrap_future(worker.closed)
    assert sorted(ends[:2]) == ["a", "b"] and ends[2:] == ["alone", "after"]
    assert 2 in sizes[:3]  # a and b decoded together
    assert sizes[-4:] == [1, 0, 1, 0]  # then the seeded job alone, then the one behind it


@pytest.mark.parametrize(("allowance", "together"), [(1, False), (10**9, True)])
async def test_two_requests_batch_only_when_their_kv_fits(
    embedded_model_path: Path,
    embedded_mlx_model: tuple[Any, Any],
    allowance: int,
    together: bool,
) -> None:
    """With an allowance smaller than one request's KV the second waits for the first (the
    batch never holds two); with room for both they decode together."""
    sizes: list[int] = []
    per_token = read_per_token(embedded_model_path)
    assert per_token
    budget = KVBudget(per_token, allowance, 8192)
    worker = Worker(
        "m", embedded_model_path, lambda _: embedded_mlx_model, size=sizes.append, kv=budget
    )
    worker.start()
    await asyncio.wrap_future(worker.ready)

    async def run(name: str) -> int:
        job = Job(JobStats(name, "m"), "Once upon a time", max_tokens=3)
        worker.submit(job)
        while not isinstance(item := await job.out.get(), Done):
            pass
        assert item.finish_reason == "length" and item.completion_tokens == 3
        return job.stats.prompt_tokens

    prompts = await asyncio.gather(run("a"), run("b"))
    worker.stop()
    await asyncio.wrap_future(worker.closed)
    assert budget.need(prompts[0], 3) > 1  # one request alone is over the tiny allowance
    assert (max(sizes) == 2) is together, sizes
    assert sizes[-1] == 0


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("batching") / "router.toml"
    path.write_text(mlx_toml(embedded_model_path, idle_ttl=0, max_concurrency=4))
    running = RunningRouter(path).start()
    yield running
    running.stop()


def stream(client: openai.OpenAI, asked: int, tokens: int = TOKENS, **extra: Any) -> Answer:
    """The streamed answer to `ASKED[asked]`."""
    prompt, options = ASKED[asked]
    chunks = list(
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=tokens,
            stream=True,
            stream_options={"include_usage": True},
            **options,
            **extra,
        )
    )
    choices = [c.choices[0] for c in chunks if c.choices]
    return Answer(
        "".join(c.delta.content or "" for c in choices),
        choices[-1].finish_reason or "",
        [t.token for c in choices if c.logprobs and c.logprobs.content for t in c.logprobs.content],
        chunks[-1].usage,
    )


@pytest.fixture(scope="module")
def alone(router: RunningRouter) -> list[Answer]:
    """Each request's answer alone (a seed keeps a request out of any batch)."""
    client = client_of(router)
    return [stream(client, i, seed=1) for i in range(len(ASKED))]


class Gauge:
    """The highest `router_batch_size` read from /metrics while the block runs."""

    def __init__(self, router: RunningRouter) -> None:
        self.url, self.highest, self._done = f"{router.root}/metrics", 0.0, threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Gauge:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join(5)

    def read(self) -> float:
        text = httpx.get(self.url).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "router_batch_size" and sample.labels.get("model") == "smollm2"
        )

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            self.highest = max(self.highest, self.read())


def test_four_streams_decode_together_with_their_own_answers(
    router: RunningRouter, alone: list[Answer]
) -> None:
    client = client_of(router)
    assert len({a.text for a in alone}) == len(ASKED)  # four different answers
    assert len(alone[1].logprobs) == TOKENS and alone[2].finish_reason == "stop"
    with Gauge(router) as gauge:
        runs = [in_thread(lambda i=i: stream(client, i)) for i in range(len(ASKED))]
        for thread, out in runs:
            thread.join(60)
            assert "error" not in out, out
    answers: list[Answer] = [out["result"] for _, out in runs]
    assert [a[:3] for a in answers] == [a[:3] for a in alone]  # text, finish, logprobs
    # each fetched its prompt from the cache the reference left, and read only the rest
    assert all(a.usage.prompt_tokens_details.cached_tokens > 0 for a in answers)
    assert gauge.highest > 1, "the four never generated together"
    wait_for(lambda: gauge.read() == 0, 5)


def test_a_cancelled_stream_leaves_the_batch_and_the_others_finish(
    router: RunningRouter, alone: list[Answer]
) -> None:
    client = client_of(router)
    long = client.chat.completions.create(
        model="smollm2",
        messages=[{"role": "user", "content": "Count from 1 to 100, one number per line."}],
        temperature=0,
        max_tokens=200,
        stream=True,
    )
    first = next(chunk for chunk in long if chunk.choices and chunk.choices[0].delta.content)
    others = [in_thread(lambda i=i: stream(client, i, TOKENS + 2)) for i in (1, 2, 3)]
    wait_for(lambda: router.metric("router_batch_size", model="smollm2") == 4, 30)
    long.close()  # while the three others decode beside it
    recent = backend_of(router).recent
    stats: JobStats = recent[first.id]
    wait_for(lambda: stats.done, 10)
    assert stats.finish_reason == "cancelled"
    assert stats.after_stop <= 2, stats
    assert stats.generated < 100, stats  # it did not go on to its max_tokens
    assert sum(not s.done for s in recent.values()) == 3  # the others go on
    for (thread, out), reference in zip(others, alone[1:], strict=True):
        thread.join(60)
        assert "error" not in out, out
        answer: Answer = out["result"]
        assert answer.text.startswith(reference.text)
        assert answer.logprobs[:TOKENS] == reference.logprobs
        if reference.finish_reason == "length":  # went on to its own max_tokens
            assert answer.usage.completion_tokens == TOKENS + 2
        else:  # the same stop string
            assert answer[:3] == reference[:3]
