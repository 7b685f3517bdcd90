"""The prompt cache: the pure choice of an entry and of evictions (tables), then `PromptCache`
over real mlx-lm KV caches filled with small arrays (no model)."""

from __future__ import annotations

from typing import Any

import pytest

from router.backends.mlx.prompt_cache import (
    Candidate,
    Pick,
    PromptCache,
    cached_tokens,
    choose,
    common_prefix,
    evictions,
)


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ((), (), 0),
        ((1, 2, 3), (1, 2, 3), 3),
        ((1, 2, 3), (1, 2), 2),
        ((1, 2), (1, 2, 3, 4), 2),
        ((1, 2, 3), (4, 2, 3), 0),
        ((1, 2, 3, 4, 5, 6, 7), (1, 2, 3, 4, 5, 9, 7), 5),
        ((1, 2, 3), [1, 2, 9], 2),  # a list against a tuple
        (tuple(range(1000)), (*range(999), -1), 999),
    ],
)
def test_common_prefix(a: Any, b: Any, shared: int) -> None:
    assert common_prefix(a, b) == shared


T, F = True, False
REQ = (1, 2, 3, 4, 5, 6)


@pytest.mark.parametrize(
    ("entries", "request_", "keep", "pick"),
    [
        ([], REQ, 1, None),
        # the request extends an entry: used as it is
        ([((1, 2, 3), T)], REQ, 1, Pick((1, 2, 3), 3, 0)),
        ([((1, 2, 3), F)], REQ, 1, Pick((1, 2, 3), 3, 0)),
        # a longer entry (the last turn's answer went further): trimmed back, if it can be
        ([((1, 2, 3, 4, 9, 9), T)], REQ, 1, Pick((1, 2, 3, 4, 9, 9), 4, 2)),
        ([((1, 2, 3, 4, 9, 9), F)], REQ, 1, None),
        # the same prompt again: one token is left to read (the model needs an input)
        ([(REQ, T)], REQ, 1, Pick(REQ, 5, 1)),
        ([(REQ, F)], REQ, 1, None),
        ([((*REQ, 7, 8), T)], REQ, 1, Pick((*REQ, 7, 8), 5, 3)),
        # penalties read the recent tokens: `keep` of them are read, not taken from the cache
        ([((1, 2, 3, 4, 5), T)], REQ, 3, Pick((1, 2, 3, 4, 5), 3, 2)),
        ([((1, 2, 3, 4, 5), F)], REQ, 3, None),
        ([((1, 2), F)], REQ, 3, Pick((1, 2), 2, 0)),
        # nothing shared: no entry
        ([((9, 9, 9), T)], REQ, 1, None),
        # the longest shared prefix wins, whatever the order
        ([((1, 2), T), ((1, 2, 3, 4), T), ((1, 2, 3), T)], REQ, 1, Pick((1, 2, 3, 4), 4, 0)),
        ([((1, 2, 3, 4, 8, 8, 8), T), ((1, 2, 3), T)], REQ, 1, Pick((1, 2, 3, 4, 8, 8, 8), 4, 3)),
        # a tie on what is saved: less trimming, then the most recently used (last)
        ([((1, 2, 3, 9), T), ((1, 2, 3), T)], REQ, 1, Pick((1, 2, 3), 3, 0)),
        ([((1, 2, 3, 9), T), ((1, 2, 3, 8), T)], REQ, 1, Pick((1, 2, 3, 8), 3, 1)),
        # a one-token request cannot use any cache
        ([((1,), T)], (1,), 1, None),
    ],
)
def test_choose(
    entries: list[tuple[tuple[int, ...], bool]],
    request_: tuple[int, ...],
    keep: int,
    pick: Pick | None,
) -> None:
    candidates = [Candidate(tokens, trimmable) for tokens, trimmable in entries]
    assert choose(candidates, list(request_), keep) == pick


@pytest.mark.parametrize(
    ("sizes", "limit", "out"),
    [
        ([], 10, []),
        ([((1,), 4), ((2,), 4)], 8, []),
        ([((1,), 4), ((2,), 4), ((3,), 4)], 8, [(1,)]),  # least recently used first
        ([((1,), 1), ((2,), 9), ((3,), 4)], 8, [(1,), (2,)]),
        ([((1,), 4), ((2,), 4)], 0, [(1,), (2,)]),
    ],
)
def test_evictions(sizes: list[tuple[tuple[int, ...], int]], limit: int, out: list[Any]) -> None:
    assert evictions(sizes, limit) == out


# --- PromptCache over real KV caches -------------------------------------------------------


class TwoLayers:
    """Stands in for a model: `make_prompt_cache` asks it for its layers only."""

    layers = (None, None)


def filled(tokens: int) -> list[Any]:
    """Two layers of mlx-lm KV cache holding `tokens` tokens (1 head, dim 4)."""
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(TwoLayers())
    for layer in cache:
        layer.update_and_fetch(mx.ones((1, 1, tokens, 4)), mx.ones((1, 1, tokens, 4)))
    return cache


def test_a_turn_that_extends_an_entry_takes_it_over() -> None:
    store = PromptCache(10**9)
    first = filled(5)
    store.insert([1, 2, 3, 4, 5], first)
    assert len(store) == 1 and store.nbytes == sum(c.nbytes for c in first) > 0
    cache, reused = store.fetch(TwoLayers(), [1, 2, 3, 4, 5, 6, 7])
    assert (reused, cache) == (5, first)  # handed over, not copied: it will come back longer
    assert (len(store), store.nbytes) == (0, 0)


def test_a_diverging_request_gets_a_trimmed_copy() -> None:
    store = PromptCache(10**9)
    kept = filled(6)
    store.insert([1, 2, 3, 4, 5, 6], kept)
    cache, reused = store.fetch(TwoLayers(), [1, 2, 3, 9])
    assert reused == 3 and cached_tokens(cache) == 3
    assert cache is not kept and cached_tokens(kept) == 6  # the entry is left whole
    assert len(store) == 1


def test_a_miss_gives_a_fresh_cache() -> None:
    store = PromptCache(10**9)
    store.insert([1, 2, 3], filled(3))
    cache, reused = store.fetch(TwoLayers(), [7, 8, 9])
    assert reused == 0 and cached_tokens(cache) == 0 and len(store) == 1


def test_inserting_drops_the_entries_it_serves_and_evicts_by_bytes() -> None:
    one = sum(c.nbytes for c in filled(3))  # mlx-lm allocates in steps: 3 and 4 tokens cost alike
    store = PromptCache(2 * one)
    store.insert([1, 2, 3], filled(3))
    store.insert([1, 2, 3, 4], filled(4))  # serves [1, 2, 3] too
    assert len(store) == 1
    store.insert([7, 8, 9], filled(3))
    store.insert([4, 5, 6], filled(3))  # over the bound: the least recently used goes
    _, reused = store.fetch(TwoLayers(), [1, 2, 3, 4, 5])
    assert reused == 0 and len(store) == 2 and store.nbytes == 2 * one
    store.clear()
    assert (len(store), store.nbytes) == (0, 0)


def test_a_cache_larger_than_the_bound_is_not_kept() -> None:
    store = PromptCache(10)
    store.insert([1, 2, 3], filled(3))
    assert (len(store), store.nbytes) == (0, 0)
