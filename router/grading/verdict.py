"""What every grader shares: its verdict, the base of the grader specs, what it is told about
the prompt (`Context`), and the linear ramps the scores are made of.

Kept apart so the general graders (`router.grading.gates`, `router.grading.checks`), the
per-task ones (`router.grading.task_graders`) and the grade that folds them
(`router.grading.graders`) build on the same types without importing each other in a circle.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

Share = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Weight = Annotated[float, msgspec.Meta(ge=0.0)]
Chars = Annotated[int, msgspec.Meta(ge=0)]


class Verdict(msgspec.Struct, frozen=True):
    """One grader's judgement; `kind` names the failure ("" when passed)."""

    passed: bool
    score: float
    kind: str = ""
    detail: str = ""


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What a grader knows besides the answer."""

    lang: str  # the prompt's language ("ja" or "en")
    prompt: str = ""  # all the prompt's text: the instruction and the source
    source: str = ""  # the text the task works on (summarised, rewritten...); "" if none
    reference: str = ""  # the suite's good answer; "" if none
    prefix: bool = False  # the answer was cut short: judge only what its beginning shows


class Spec(
    msgspec.Struct,
    tag_field="name",
    forbid_unknown_fields=True,
    omit_defaults=True,
    kw_only=True,
    frozen=True,
):
    """A grader as a suite file names it; `weight` is its exponent in the quality product."""

    weight: Weight = 1.0


def ok(detail: str = "", score: float = 1.0) -> Verdict:
    return Verdict(True, score, "", detail)


def fail(kind: str, detail: str, score: float = 0.0) -> Verdict:
    return Verdict(False, max(0.0, min(1.0, score)), kind, detail)


def ramp_down(value: float, good: float, zero: float) -> float:
    """1 up to `good`, 0 from `zero` on, linear between (for "at most" measures)."""
    if value <= good:
        return 1.0
    if value >= zero or zero <= good:
        return 0.0
    return (zero - value) / (zero - good)


def ramp_up(value: float, zero: float, good: float) -> float:
    """0 up to `zero`, 1 from `good` on, linear between (for "at least" measures)."""
    return ramp_down(-value, -good, -zero)
