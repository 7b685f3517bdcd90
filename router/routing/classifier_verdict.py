"""The follow-up detector's verdict on a turn, read in stages, cheapest first.

Apart from `router.routing.classifier_turns` (which defines the features, `dense`, and fits
the detector) because this is a shortcut alone, with its own test against the full reading:
classifying a turn of a conversation asks only whether its score is above zero, and most
turns are decided by the features read without a regex (the single-turn probabilities, the
turn's length and shape, the answer's) whatever the rest say, since every later feature lies
between 0 and 1 and its weight is known. The same verdicts as `is_follow_up` of the whole
`dense` row, in about half the time on a chat's later turns. Pure; not part of training.
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

from router.routing.classifier_marks import marked_features
from router.routing.classifier_turns import (
    FEATURES,
    FollowModel,
    is_follow_up,
    ordered_features,
    plain_features,
    worded_features,
)

_MARKED = ("language_changed", "deictic", "edit", "switch_marker", "points_back", "brief_edit")
_MARKED += ("new_material",)
_WORDED = ("shares_before", "shares_answer", "other_work", "other_work_sure")
MARGIN = 1e-9  # far beyond the rounding of a sum of a few dozen terms this size


class Staged(NamedTuple):
    """The detector's weights (a list) and bias, the weights of the first two stages
    (`plain_features`, `marked_features`), and the least and the most the stages after the
    first and after the second can add to the score (their features each lie in [0, 1])."""

    weights: list[float]
    bias: float
    plain: list[float]
    marked: list[float]
    after_plain: tuple[float, float]
    after_marked: tuple[float, float]


def staged(model: FollowModel) -> Staged:
    w = model.weights.tolist()
    marked = [w[FEATURES.index(f)] for f in _MARKED]
    worded = [w[FEATURES.index(f)] for f in _WORDED]
    plain = [w[i] for i, f in enumerate(FEATURES) if f not in _MARKED + _WORDED]
    return Staged(w, model.bias, plain, marked, _span(marked + worded), _span(worded))


def _span(weights: list[float]) -> tuple[float, float]:
    return sum(min(0.0, x) for x in weights), sum(max(0.0, x) for x in weights)


def follows(st: Staged, gram: float, text: str, edges: str, *context: Any) -> bool:
    """`is_follow_up(st.weights, st.bias, dense(text, edges, *context), gram)` (the same
    arguments), in stages, cheapest first: the features read without a regex, then the
    regexes', then the words'. Once the score so far lies beyond what the later stages could
    add or take away, by more than rounding could move it (`MARGIN`), the verdict is known and
    the rest is not read; else the whole row is scored as `is_follow_up` scores it."""
    probs, own, inherited, rule_on_other, before, answer, task = context
    plain = plain_features(text, probs, own, inherited, rule_on_other, before, answer)
    score = sum(map(operator.mul, plain, st.plain), st.bias + gram * st.weights[-1])
    if _decided(score, st.after_plain):
        return score > 0.0
    marked = marked_features(text, edges, before)
    score = sum(map(operator.mul, marked, st.marked), score)
    if _decided(score, st.after_marked):
        return score > 0.0
    row = ordered_features(plain, marked, worded_features(edges, before, answer, task))
    return is_follow_up(st.weights, st.bias, row, gram)


def _decided(score: float, span: tuple[float, float]) -> bool:
    return score + span[0] > MARGIN or score + span[1] < -MARGIN
