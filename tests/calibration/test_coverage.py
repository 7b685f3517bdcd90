"""Which (model, task) the idle continuation measures next (`router.calibration.coverage`):
table-driven, on hand-made profiles."""

from __future__ import annotations

import pytest

from router.calibration.coverage import Pair, covered, mark_full, next_pair, pending
from router.profiles import Profile, TaskScore

HASHES = {"qa": "h-qa", "summarize": "h-sum"}  # task -> the hash of its suite now
MODELS = ["a", "b"]


def profile(**scores: str) -> Profile:
    """A profile from `model_task="full_suite"` keywords ("": measured quickly)."""
    tasks: dict[str, list[TaskScore]] = {}
    for key, full in scores.items():
        model, task = key.split("_", 1)
        tasks.setdefault(task, []).append(TaskScore(model=model, quality=0.5, full_suite=full))
    return Profile(schema_version=1, tasks=tasks)


CASES: list[tuple[str, Profile | None, set[Pair], list[Pair]]] = [
    (
        "no profile: task by task, every model of a task first",
        None,
        set(),
        [("a", "qa"), ("b", "qa"), ("a", "summarize"), ("b", "summarize")],
    ),
    (
        "a quick run: every pair, in the same order",
        profile(a_qa="", b_qa="", a_summarize="", b_summarize=""),
        set(),
        [("a", "qa"), ("b", "qa"), ("a", "summarize"), ("b", "summarize")],
    ),
    (
        "pairs measured with the current suite are skipped",
        profile(a_qa="h-qa", b_qa="", a_summarize="h-sum", b_summarize=""),
        set(),
        [("b", "qa"), ("b", "summarize")],
    ),
    (
        "a suite edited since: measured again",
        profile(a_qa="h-old", b_qa="h-qa", a_summarize="h-sum", b_summarize="h-sum"),
        set(),
        [("a", "qa")],
    ),
    (
        "pairs with no score at all come before quick ones",
        profile(a_qa="", b_qa="", a_summarize=""),
        set(),
        [("b", "summarize"), ("a", "qa"), ("b", "qa"), ("a", "summarize")],
    ),
    (
        "a model new to the profile comes first",
        profile(a_qa="", a_summarize="h-sum"),
        set(),
        [("b", "qa"), ("b", "summarize"), ("a", "qa")],
    ),
    (
        "failed steps are not tried again",
        profile(a_qa="", b_qa="", a_summarize="", b_summarize=""),
        {("a", "qa"), ("b", "summarize")},
        [("b", "qa"), ("a", "summarize")],
    ),
    (
        "all covered: nothing",
        profile(a_qa="h-qa", b_qa="h-qa", a_summarize="h-sum", b_summarize="h-sum"),
        set(),
        [],
    ),
    (
        "a model the profile has but the router no longer serves is not asked",
        profile(a_qa="h-qa", b_qa="h-qa", a_summarize="h-sum", b_summarize="h-sum", c_qa=""),
        set(),
        [],
    ),
]


@pytest.mark.parametrize(("why", "known", "skip", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pending_and_next(
    why: str, known: Profile | None, skip: set[Pair], expected: list[Pair]
) -> None:
    assert pending(MODELS, HASHES, known, skip) == expected, why
    assert next_pair(MODELS, HASHES, known, skip) == (expected[0] if expected else None)


@pytest.mark.parametrize(
    ("known", "count"),
    [
        (None, 0),
        (profile(a_qa="", b_qa="h-qa"), 1),
        (profile(a_qa="h-qa", b_qa="h-qa", a_summarize="h-sum", b_summarize="h-old"), 3),
    ],
)
def test_covered_counts_pairs_of_the_current_suites(known: Profile | None, count: int) -> None:
    assert covered(MODELS, HASHES, known) == count


def test_a_full_run_marks_its_tasks() -> None:
    known = profile(a_qa="", b_qa="", a_summarize="")
    mark_full(known, {"qa": "h-qa"})
    assert pending(MODELS, HASHES, known) == [("b", "summarize"), ("a", "summarize")]
