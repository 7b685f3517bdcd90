"""The prior and the shrinkage toward it (`router.routing.priors`): table tests, no I/O beyond
reading the shipped example profile once."""

from __future__ import annotations

import pytest

from router.profiles import Profile, TaskScore, shipped_examples
from router.routing.priors import (
    STRENGTH,
    Prior,
    example_quality,
    prior_for,
    shrink,
    size_prior,
    wilson,
)

EXAMPLE = Prior(0.9, "example", STRENGTH["example"])
SIZE = Prior(0.6, "size", STRENGTH["size"])
TWO = Profile(
    schema_version=1,
    tasks={"qa": [TaskScore("a", 0.7), TaskScore("b", 0.4)], "story": [TaskScore("b", 0.2)]},
)
LATER = Profile(schema_version=1, tasks={"qa": [TaskScore("a", 0.1), TaskScore("c", 0.3)]})


@pytest.mark.parametrize(
    ("size_bytes", "expected"),
    [(None, 0.632), (1_000_000_000, 0.5), (2_000_000_000, 0.558), (10**12, 0.8), (0, 0.632)],
)
def test_size_prior(size_bytes: int | None, expected: float) -> None:
    assert size_prior(size_bytes) == expected


@pytest.mark.parametrize(
    ("task", "model", "expected"),
    [
        ("qa", "a", 0.7),
        ("qa", "b", 0.4),
        ("story", "b", 0.2),
        ("story", "a", None),  # the example does not score it on this task
        ("qa", "c", 0.3),  # from the next example
        ("qa", "A", None),  # ids match exactly, as profiles.covers matches them
        ("code", "a", None),
    ],
)
def test_example_quality_first_example_that_scores_the_id(
    task: str, model: str, expected: float | None
) -> None:
    assert example_quality([TWO, LATER], task, model) == expected


@pytest.mark.parametrize(
    ("task", "model", "size_bytes", "expected"),
    [
        ("business_mail", "google/gemma-3-12b", None, Prior(0.9, "example", 4.0)),
        ("business_mail", "liquid/lfm2.5-1.2b", 10**12, Prior(0.45, "example", 4.0)),
        ("summarize", "liquid/lfm2.5-1.2b", None, Prior(0.7, "example", 4.0)),
        ("summarize", "gemma-3-12b", None, Prior(0.632, "size", 1.0)),  # not the example's id
        ("summarize", "unknown", 1_000_000_000, Prior(0.5, "size", 1.0)),
    ],
)
def test_prior_is_the_shipped_example_else_the_size_prior(
    task: str, model: str, size_bytes: int | None, expected: Prior
) -> None:
    assert prior_for(task, model, size_bytes, shipped_examples()) == expected


@pytest.mark.parametrize(
    ("measured", "n", "prior", "expected"),
    [
        (0.0, 0, EXAMPLE, 0.9),  # nothing measured: the prior
        (0.0, 2, EXAMPLE, 0.6),  # a quick run: a third of the way
        (0.0, 12, EXAMPLE, 0.225),  # a full run: three quarters of the way
        (1.0, 4, EXAMPLE, 0.95),
        (0.0, 2, SIZE, 0.2),  # the size prior weighs one sample
        (0.0, 12, SIZE, 0.6 / 13),
        (0.6, 7, SIZE, 0.6),  # agreeing with the prior changes nothing
        (0.3, 1000, EXAMPLE, 0.3024),  # many samples: the measurement
    ],
)
def test_shrink(measured: float, n: int, prior: Prior, expected: float) -> None:
    assert shrink(measured, n, prior) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(("quick", "full"), [(2, 12), (2, 24), (1, 6)])
@pytest.mark.parametrize("prior", [EXAMPLE, SIZE])
def test_a_quick_run_moves_the_score_a_little_a_full_run_most_of_the_way(
    quick: int, full: int, prior: Prior
) -> None:
    def moved(n: int) -> float:
        return (prior.quality - shrink(0.0, n, prior)) / prior.quality

    assert moved(quick) < moved(full)
    if prior.source == "example":
        assert moved(quick) <= 0.34 and moved(full) >= 0.6


def test_equal_measurements_keep_the_priors_order() -> None:
    priors = [Prior(q, "example", 4.0) for q in (0.9, 0.85, 0.75, 0.5, 0.45)]
    for measured in (0.0, 0.1, 0.5, 1.0):
        shrunk = [shrink(measured, 2, p) for p in priors]
        assert shrunk == sorted(shrunk, reverse=True)


@pytest.mark.parametrize(
    ("mean", "n", "low", "high"),
    [
        (0.0, 0, 0.0, 1.0),  # nothing measured: anything
        (0.0, 1, 0.0, 0.793),
        (0.0, 2, 0.0, 0.658),  # two equal grades: not a point
        (1.0, 2, 0.342, 1.0),
        (0.5, 2, 0.095, 0.905),
        (0.0, 12, 0.0, 0.243),
        (0.1, 12, 0.02, 0.374),
        (0.5, 100, 0.404, 0.596),
        (1.2, 3, 0.439, 1.0),  # a mean out of range is clipped first
    ],
)
def test_wilson_interval(mean: float, n: int, low: float, high: float) -> None:
    got = wilson(mean, n)
    assert got == pytest.approx((low, high), abs=1e-3)
    assert 0.0 <= got[0] <= min(1.0, mean) <= got[1] <= 1.0 or n == 0


def test_the_interval_narrows_with_samples() -> None:
    widths = [wilson(0.4, n)[1] - wilson(0.4, n)[0] for n in (1, 2, 4, 12, 48)]
    assert widths == sorted(widths, reverse=True) and widths[-1] < 0.3
