"""Continuous batching of in-process models: the pure plan (who joins, who runs alone), then the
official SDK -> a running router -> SmolLM2, four streams decoding together.

Each batched answer is checked against the same request run alone: with a `seed` a request
never joins a batch (`batching.solo_reason`), so the reference goes through `stream_generate`
one token at a time, greedy like the batched ones. The prompts differ in length (the batch pads
them) and in content (a mix-up would show).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.backends.mlx.batching import Plan, plan, solo_reason
from router.backends.mlx.job import Job, JobStats
from router.backends.mlx.sampling import Sampling
from tests.backends.mlx.test_backend import backend_of, client_of, in_thread, mlx_toml, wait_for
from tests.conftest import RunningRouter

TOKENS = 4
PROMPTS = [
    "What is the capital of France?",
    "Name a color.",
    "Write one short sentence about the history of the river Thames in London.",
    "Say hello in Spanish.",
]


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


async def test_solo_reason() -> None:
    def job(**options: Any) -> Job:
        return Job(JobStats("id", "m"), "hi", max_tokens=1, **options)

    assert solo_reason(job()) is None
    assert solo_reason(job(top_logprobs=2, stops=["x"], sampling=Sampling(temperature=1))) is None
    assert solo_reason(job(n=2)) == "n > 1"
    assert solo_reason(job(sampling=Sampling(seed=7))) == "seed"


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("batching") / "router.toml"
    path.write_text(mlx_toml(embedded_model_path, idle_ttl=0, max_concurrency=4))
    running = RunningRouter(path).start()
    yield running
    running.stop()


def stream(
    client: openai.OpenAI, prompt: str, tokens: int = TOKENS, **options: Any
) -> tuple[str, Any]:
    """A streamed answer's text and its usage."""
    chunks = list(
        client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=tokens,
            stream=True,
            stream_options={"include_usage": True},
            **options,
        )
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks[-1].usage


@pytest.fixture(scope="module")
def alone(router: RunningRouter) -> list[str]:
    """Each prompt's answer alone (a seed keeps a request out of any batch)."""
    client = client_of(router)
    return [stream(client, prompt, seed=1)[0] for prompt in PROMPTS]


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
    router: RunningRouter, alone: list[str]
) -> None:
    client = client_of(router)
    assert len(set(alone)) == len(PROMPTS)  # four different answers: a mix-up would show
    with Gauge(router) as gauge:
        runs = [in_thread(lambda p=p: stream(client, p)) for p in PROMPTS]
        for thread, out in runs:
            thread.join(60)
            assert "error" not in out, out
    answers = [out["result"] for _, out in runs]
    assert [text for text, _ in answers] == alone
    assert all(usage.completion_tokens == TOKENS for _, usage in answers)
    # each fetched its prompt from the cache the reference left, and read only the rest
    assert all(usage.prompt_tokens_details.cached_tokens > 0 for _, usage in answers)
    assert gauge.highest > 1, "the four never generated together"
    wait_for(lambda: gauge.read() == 0, 5)


def test_a_cancelled_stream_leaves_the_batch_and_the_others_finish(
    router: RunningRouter, alone: list[str]
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
    others = [in_thread(lambda p=p: stream(client, p, TOKENS + 2)) for p in PROMPTS[1:]]
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
        text, usage = out["result"]
        assert text.startswith(reference) and usage.completion_tokens == TOKENS + 2
