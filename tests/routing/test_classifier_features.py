"""The classifier's features (`router.routing.classifier_features`): `view_sums`, the fast path
classifying reads, gives what training's `featurize` gives, and a turn scores alike alone or
in a conversation."""

from __future__ import annotations

import random

import numpy as np
import pytest

from router.routing.classifier_features import (
    BUCKETS,
    featurize,
    segment_sums,
    system_view,
    turn_views,
    view_sums,
)

PIECES = ["abc", " de", "\n", "「引用」", '"q"', "xyz", "あいう", "漢字", "Make ", "。", "!"]


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(n))


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((BUCKETS, 5)).astype(np.float32)


@pytest.mark.parametrize("seed", range(40))
def test_view_sums_equal_the_training_features(table: np.ndarray, seed: int) -> None:
    rng = random.Random(seed)
    sys_view = system_view(_text(rng, rng.choice([0, 3, 30])))
    turns = [turn_views(_text(rng, rng.choice([0, 1, 5, 40, 300])))[:3] for _ in range(3)]
    idx, w, starts, edge_w = featurize(sys_view, turns, edges=True)
    assert edge_w is not None
    want = segment_sums(table[:, :4].take(idx, axis=0) * w[:, None], starts)
    want_grams = segment_sums(table[:, 4].take(idx) * edge_w, starts)
    got, grams = view_sums(sys_view, turns, table, gram_column=True)
    assert np.allclose(got, want, atol=1e-4) and np.allclose(grams, want_grams, atol=1e-4)
    # a turn's sums never depend on what else is read with it: the memo is exact
    alone, alone_grams = view_sums(None, turns[1:2], table, gram_column=True)
    assert alone == got[2:3] and alone_grams == grams[2:3]
    plain, _ = view_sums(sys_view, turns, np.ascontiguousarray(table[:, :4]))
    assert np.allclose(plain, want, atol=1e-4)
