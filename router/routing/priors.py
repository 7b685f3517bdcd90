"""What the router believes of a model before it measures it, and how far a measurement moves
that belief. Pure: no I/O, shared by calibration (which writes a profile) and routing (which
reads one, or guesses from a model's size when the profile has no score).

- The prior: the quality a shipped example profile gives the model on the task (the model id
  exactly as the example names it, as `profiles.covers` and `select_profile` match ids), else
  the size prior (bigger is better, a little).
- Shrinkage: the quality the policy uses is `(n * measured + k * prior) / (n + k)`, the mean of
  `n` grades pulled toward the prior with the weight of `k` grades. It is the posterior mean of
  a Beta prior with `k` pseudo-samples centred on the prior quality, with each grade counted as
  a fractional success. `k` is the prior's strength (`STRENGTH`): an example profile is a
  person's judgement of that very model and weighs 4 samples, so a quick calibration (2 prompts
  per task) moves the score a third of the way to what it measured and a full run (12 prompts)
  three quarters; the size prior knows nothing but the model's size and weighs 1 sample (2/3
  and 12/13 of the way). Only quality is shrunk: a failure rate stays as measured, so a model
  that crashed or looped on most of the few prompts it was given is still kept out by the
  policy's `max_failure_rate`.
- Confidence: a Wilson score interval (95%) of the measured mean grade. Grades lie in [0, 1],
  and a variable in [0, 1] with mean m has a variance of at most m(1 - m) (a 0/1 grade is the
  worst case), so the interval for a proportion is conservative for graded answers. Unlike a
  t-interval it is defined for one sample and does not collapse to a point when two grades
  agree (two samples are a t-interval with one degree of freedom, or none at all when equal);
  unlike a bootstrap it needs no resampling and nothing but the mean and the count, so it can be
  recomputed from what a profile stores. No dependency: the normal quantile is a constant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec

from router.profiles import Profile

STRENGTH = {"example": 4.0, "size": 1.0}  # a prior's weight, in samples, by where it came from
Z95 = 1.96  # the normal quantile of a two-sided 95% interval
TYPICAL_SIZE = 4e9  # an unknown size: a typical 7B model at 4 bits


class Prior(msgspec.Struct, frozen=True):
    """The quality believed before measuring, where the belief came from, and its weight."""

    quality: float
    source: str  # "example" (a shipped example profile) or "size"
    strength: float  # in samples


def size_gb(size_bytes: int | None) -> float:
    return (size_bytes or TYPICAL_SIZE) / 1e9


def size_prior(size_bytes: int | None) -> float:
    """Bigger is better, a little: a guess until calibration measures it."""
    return round(min(0.8, 0.4 + 0.1 * math.log2(1 + size_gb(size_bytes))), 3)


def example_quality(examples: Iterable[Profile], task: str, model_id: str) -> float | None:
    """The quality the first example profile that scores `model_id` on `task` gives it."""
    for profile in examples:
        for score in profile.tasks.get(task, ()):
            if score.model == model_id:
                return score.quality
    return None


def prior_for(
    task: str, model_id: str, size_bytes: int | None, examples: Iterable[Profile]
) -> Prior:
    """The example profiles' quality for this model and task, else the size prior."""
    known = example_quality(examples, task, model_id)
    if known is not None:
        return Prior(known, "example", STRENGTH["example"])
    return Prior(size_prior(size_bytes), "size", STRENGTH["size"])


def shrink(measured: float, n: int, prior: Prior) -> float:
    """The measured mean of `n` grades pulled toward the prior by its strength."""
    return (n * measured + prior.strength * prior.quality) / (n + prior.strength)


def wilson(mean: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a mean grade over `n` answers; (0, 1) with none."""
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, mean))
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
