"""Eviction weighs the cost of losing a model: its measured load time, its warm prompt cache,
how long it has been idle (`keep_value`); a busy model is never chosen. Then the scheduler's
side: the card's prompt-cache figures (`Residency.record`), zeroed when the model unloads, and a
tight budget keeping the slow-to-load model with the warm cache over a quick, cold one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.backends.mlx.prompt_cache import CacheUse
from router.backends.mlx.residency import (
    RECENCY_S,
    Residency,
    ResidentInfo,
    choose_evictions,
    keep_value,
)
from router.wire import ModelCard
from tests.backends.mlx.test_residency import FakeWorker, use, worker  # noqa: F401

MB = 1_000_000
NOW = 10_000.0


def info(
    model_id: str,
    idle_s: float,
    load_s: float = 0.0,
    warm_s: float = 0.0,
    busy: bool = False,
    size_mb: int = 400,
) -> ResidentInfo:
    return ResidentInfo(
        model_id, size_mb * MB, NOW - idle_s, busy, load_seconds=load_s, warm_seconds=warm_s
    )


KEEP = [
    # (name, model, expected keep_value)
    ("just used, cold, free to load", info("a", 0), 0.0),
    ("just used: its load time", info("a", 0, load_s=8), 8.0),
    ("load and warm cache add up", info("a", 0, load_s=8, warm_s=4), 12.0),
    ("a minute idle halves it", info("a", RECENCY_S, load_s=8, warm_s=4), 6.0),
    ("ten minutes: an eleventh", info("a", 10 * RECENCY_S, load_s=11), 1.0),
]


@pytest.mark.parametrize(("model", "expected"), [c[1:] for c in KEEP], ids=[c[0] for c in KEEP])
def test_keep_value(model: ResidentInfo, expected: float) -> None:
    assert keep_value(model, NOW) == pytest.approx(expected)


CASES = [
    # (name, resident models, need MB, budget MB, expected evictions); models are 400 MB
    (
        "same idle time: the quick one to load goes, the slow one stays",
        [info("slow", 30, load_s=20), info("quick", 30, load_s=1)],
        300,
        1000,
        ["quick"],
    ),
    (
        "same load time: the cold cache goes, the warm one stays",
        [info("warm", 30, load_s=5, warm_s=30), info("cold", 30, load_s=5)],
        300,
        1000,
        ["cold"],
    ),
    (
        "the slow one goes when it has been idle for long (1 s vs 20 s / 61)",
        [info("recent", 5, load_s=1.2), info("old", 3600, load_s=20)],
        300,
        1000,
        ["old"],
    ),
    (
        "not least recently used: the older, slow model stays (2/1.17 vs 20/1.33)",
        [info("recent", 10, load_s=2), info("older", 20, load_s=20)],
        300,
        1000,
        ["recent"],
    ),
    (
        "a busy model is never chosen, however cheap",
        [info("busy", 500, busy=True), info("dear", 0, load_s=60, warm_s=60)],
        300,
        1000,
        ["dear"],
    ),
    (
        "all unknown costs: least recently used first, as before",
        [info("b", 10), info("a", 20), info("c", 5)],
        700,
        1200,
        ["a", "b"],
    ),
    (
        "as many as needed, cheapest first",
        [info("x", 0, load_s=3), info("y", 0, load_s=1), info("z", 0, load_s=2)],
        700,
        1200,
        ["y", "z"],
    ),
]


@pytest.mark.parametrize(
    ("models", "need", "budget", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_choose_evictions_weighs_cost(
    models: list[ResidentInfo], need: int, budget: int, expected: list[str]
) -> None:
    assert choose_evictions(models, need * MB, budget * MB, NOW) == expected


def _residency(factory: object, budget_mb: int, cache_mb: int = 100) -> Residency:
    r = Residency("local", budget_bytes=budget_mb * MB, factory=factory, cache_bytes=cache_mb * MB)  # type: ignore[arg-type]
    for model_id in ("a", "b", "c"):
        r.add(model_id, Path(f"/models/{model_id}"), 300 * MB, ModelCard(model_id))
    return r


async def test_the_card_shows_the_cache_and_an_unload_empties_it(
    worker: type[FakeWorker],  # noqa: F811
) -> None:
    r = _residency(worker, budget_mb=2000)
    card = r.slots["a"].card
    assert card.prompt_cache is not None and card.prompt_cache.bytes == 0
    await use(r, "a")
    r.record("a", CacheUse(100, 0, 5 * MB, 1, 130))
    r.record("a", CacheUse(150, 120, 7 * MB, 1, 190))
    info = card.prompt_cache
    assert (info.bytes, info.entries, info.longest) == (7 * MB, 1, 190)
    assert (info.hit_tokens, info.prompt_tokens, info.hit_rate) == (120, 250, 0.48)
    await r.unload("a")
    assert (info.bytes, info.entries, info.longest) == (0, 0, 0)
    assert (info.hit_tokens, info.prompt_tokens) == (120, 250)  # since start, not since load
    await r.close()


async def test_a_tight_budget_keeps_the_warm_slow_model(worker: type[FakeWorker]) -> None:  # noqa: F811
    """a and b resident, c needs one's room: b was used last, but a is slow to load and warm,
    so b goes (least recently used alone would evict a)."""
    r = _residency(worker, budget_mb=800)
    await use(r, "a")
    await use(r, "b")
    r.slots["a"].card.load_seconds = 30.0
    r.record("a", CacheUse(2000, 0, 50 * MB, 1, 2100))
    await use(r, "c")
    states = {m: s.state for m, s in r.slots.items()}
    assert states == {"a": "loaded", "b": "on disk", "c": "loaded"}
    await r.close()


async def test_a_generating_model_is_kept_however_cheap(worker: type[FakeWorker]) -> None:  # noqa: F811
    r = _residency(worker, budget_mb=800)
    await use(r, "a")
    await use(r, "b")
    r.slots["b"].card.load_seconds = 30.0
    async with r.lease("a"):  # a generates: b goes although a is the cheaper to lose
        await use(r, "c")
        states = {m: s.state for m, s in r.slots.items()}
    assert states == {"a": "loaded", "b": "on disk", "c": "loaded"}
    await r.close()


async def test_the_generating_kv_allowance_is_reserved_with_the_weights(
    worker: type[FakeWorker],  # noqa: F811
) -> None:
    """300 MB of weights and a 100 MB prompt cache: two fit 800 MB; with a 100 MB allowance for
    the KV of their generating requests each holds 500 MB, so loading b evicts a."""
    options: Any = {"budget_bytes": 800 * MB, "factory": worker, "cache_bytes": 100 * MB}
    r, counted = Residency("local", **options), Residency("local", **options, kv_bytes=100 * MB)
    for each in (r, counted):
        for model_id in ("a", "b"):
            each.add(model_id, Path(f"/m/{model_id}"), 300 * MB, ModelCard(model_id), 20_000)
        await use(each, "a")
        await use(each, "b")
    assert [s.state for s in r.slots.values()] == ["loaded", "loaded"]
    assert [s.state for s in counted.slots.values()] == ["on disk", "loaded"]
    kv = counted.slots["a"].card.generation_kv
    assert kv is not None and (kv.bytes, kv.per_token, kv.tokens) == (100 * MB, 20_000, 5000)
    await r.close()
    await counted.close()


def test_the_allowance_shrinks_to_what_the_budget_leaves() -> None:
    """A model that fits its weights and prompt cache but not a whole allowance gets the rest;
    one whose KV per token is unknown is reserved for but not counted (`kv_budget` None)."""
    r = Residency("local", budget_bytes=1000 * MB, cache_bytes=100 * MB, kv_bytes=300 * MB)
    r.add("big", Path("/m/big"), 800 * MB, ModelCard("big", context_length=4096), 10_000)
    r.add("odd", Path("/m/odd"), 100 * MB, ModelCard("odd"))
    assert r.slots["big"].kv_bytes == 100 * MB
    budget = r.kv_budget("big")
    assert budget is not None and budget.allowance == 100 * MB
    assert budget.need(4000, 512) == 4096 * 10_000  # capped at the model's context
    assert r.slots["odd"].kv_bytes == 300 * MB and r.kv_budget("odd") is None
