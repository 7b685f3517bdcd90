"""How far a profile covers the full suites, pair by pair, and which (model, task) to measure
next. Pure: no I/O, table-tested.

A (model, task) pair is covered when its task score carries `full_suite` equal to the hash of
that task's suite now (`task_hash`): every prompt was asked, of the suite as it is. A quick
run leaves `full_suite` empty, and editing a suite changes its hash, so both are measured
again. `router calibrate` without `--quick` marks what it measured (`mark_full`); `router
serve`'s idle continuation (`router.calibration.continuous`) marks each pair as it lands.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from router.calibration.suites import Suite, suite_hash
from router.profiles import Profile, TaskScore

Pair = tuple[str, str]  # (model id, task)


def task_hashes(suites: Iterable[Suite]) -> dict[str, str]:
    """Task -> the hash of its suite, in the suites' order."""
    return {s.task: suite_hash([s]) for s in suites}


def mark_full(profile: Profile, hashes: Mapping[str, str]) -> None:
    """Mark every score of these tasks as measured with every prompt of the suite."""
    for task, digest in hashes.items():
        for score in profile.tasks.get(task, ()):
            score.full_suite = digest


def scores_by_pair(profile: Profile | None) -> dict[Pair, TaskScore]:
    if profile is None:
        return {}
    return {(s.model, task): s for task, scores in profile.tasks.items() for s in scores}


def pending(
    models: Sequence[str],
    hashes: Mapping[str, str],
    profile: Profile | None,
    skip: Collection[Pair] = (),
) -> list[Pair]:
    """The pairs still to measure with the full suites, in the order to measure them.

    First the pairs the profile has no score for, then those measured only quickly or with an
    older suite; within each, task by task in the suites' order and every model of a task
    before the next task (so one task's models are soon compared on the same prompts), models
    in the order given. `skip`: pairs not to try again in this run (their step failed).
    """
    scores = scores_by_pair(profile)
    todo = [
        (model, task)
        for task, digest in hashes.items()
        for model in models
        if (model, task) not in skip and not _covered(scores.get((model, task)), digest)
    ]
    return sorted(todo, key=lambda pair: pair in scores)  # stable: missing ones first


def next_pair(
    models: Sequence[str],
    hashes: Mapping[str, str],
    profile: Profile | None,
    skip: Collection[Pair] = (),
) -> Pair | None:
    """The (model, task) to measure next, or None when every pair is covered."""
    todo = pending(models, hashes, profile, skip)
    return todo[0] if todo else None


def covered(models: Sequence[str], hashes: Mapping[str, str], profile: Profile | None) -> int:
    """How many of the (model, task) pairs are covered."""
    scores = scores_by_pair(profile)
    return sum(
        _covered(scores.get((model, task)), digest)
        for task, digest in hashes.items()
        for model in models
    )


def _covered(score: TaskScore | None, digest: str) -> bool:
    return score is not None and score.full_suite == digest
