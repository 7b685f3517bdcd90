"""From calibration results to a profile: what one model did on one prompt (`Sample`), all a
model did (`ModelResult`), and the `measured` profile they make: per model its speeds (p50 and
p95 of the clean answers), failures by kind and capabilities; per task the models ranked by
quality, then by p50 latency. A task score keeps the mean grade (`measured`), its interval and
the prior, and its `quality` is that mean shrunk toward the prior (`routing.priors`): two quick
answers move the example profile's belief a little, a full run most of the way. Also the
profile's file name: one per machine and model set.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

from router import __version__
from router.calibration.measure import Run, percentile, rounded
from router.calibration.suites import Suite, suite_hash
from router.profiles import (
    SCHEMA_VERSION,
    Capabilities,
    Failures,
    Machine,
    ModelProfile,
    Profile,
    TaskScore,
    shipped_examples,
    this_machine,
)
from router.routing.priors import Prior, prior_for, shrink, wilson
from router.wire import ModelCard

FAILURE_KINDS = frozenset(f.name for f in msgspec.structs.fields(Failures))
TRANSPORT = frozenset({"error", "timeout", "crash"})


class Sample(msgspec.Struct, kw_only=True):
    """One prompt's answer: how it ran, its grade, and the failure kinds it counts as."""

    task: str
    prompt_id: str
    lang: str
    run: Run
    quality: float
    kinds: list[str]  # counted in the profile's Failures
    failed: bool  # errored, or failed a hard grader


class ModelResult(msgspec.Struct, kw_only=True):
    """Everything one model did: its capability probes and its answers to the suites."""

    id: str
    backend: str
    kind: str  # the backend's kind: "mlx" (in process) or "openai"
    card: ModelCard
    capabilities: Capabilities
    probes: list[Run]
    samples: list[Sample]


def build_profile(
    results: list[ModelResult],
    suites: list[Suite],
    source: str,
    versions: dict[str, str],
    examples: list[Profile] | None = None,
) -> Profile:
    """The measured profile of these results: per model, and per task the models ranked.
    Scores are shrunk toward the `examples`' qualities (default: the shipped example
    profiles), else toward the size prior (`routing.priors`)."""
    examples = shipped_examples() if examples is None else examples
    tasks = {s.task: _task_scores(results, s.task, examples) for s in suites}
    return Profile(
        schema_version=SCHEMA_VERSION,
        kind="measured",
        source=source,
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        machine=this_machine(),
        router_version=__version__,
        backend_versions=versions,
        suite_hash=suite_hash(suites),
        models=[_model_profile(r) for r in results],
        tasks=tasks,
    )


def _model_profile(result: ModelResult) -> ModelProfile:
    runs = [s.run for s in result.samples]
    clean = [r.e2e for r in runs if r.failure is None and r.e2e is not None]
    failures = Failures()
    for sample in result.samples:
        for kind in sample.kinds:
            setattr(failures, kind, getattr(failures, kind) + 1)
    card = result.card
    in_process = result.kind == "mlx"
    return ModelProfile(
        id=result.id,
        backend=result.backend,
        size_bytes=card.size_bytes,
        context_length=card.context_length,
        load_seconds=rounded(_load_seconds(result)),
        ttft_seconds=rounded(percentile([r.ttft for r in runs if r.ttft is not None], 0.5)),
        decode_tokens_per_s=rounded(_median(r.decode_tokens_per_s for r in runs), 2),
        prompt_tokens_per_s=rounded(_median(r.prompt_tokens_per_s for r in runs), 1),
        e2e_p50_seconds=rounded(percentile(clean, 0.5)),
        e2e_p95_seconds=rounded(percentile(clean, 0.95)),
        peak_memory_bytes=card.size_bytes if in_process else None,
        requests=len(runs),
        failures=failures,
        capabilities=result.capabilities,
        notes=_notes(result.samples),
    )


def _median(values: Iterable[float | None]) -> float | None:
    return percentile([v for v in values if v is not None], 0.5)


def _load_seconds(result: ModelResult) -> float | None:
    """What the backend reports, else the first request's extra time to its first token."""
    if result.card.load_seconds is not None:
        return result.card.load_seconds
    first, *rest = result.probes
    later = [r.ttft for r in rest if r.ttft is not None]
    if first.ttft is None or not later:
        return None
    return max(0.0, first.ttft - (percentile(later, 0.5) or 0.0))


def _notes(samples: list[Sample]) -> str:
    """The first failure message of each transport failure kind, in a few words."""
    seen: dict[str, str] = {}
    for s in samples:
        if s.run.failure in TRANSPORT and s.run.failure not in seen:
            seen[s.run.failure] = s.run.detail[:120]
    return "; ".join(f"{kind}: {detail}" for kind, detail in seen.items())


def _task_scores(results: list[ModelResult], task: str, examples: list[Profile]) -> list[TaskScore]:
    """The models on one task, best quality first, then the faster."""
    scores = []
    for result in results:
        mine = [s for s in result.samples if s.task == task]
        if mine:
            prior = prior_for(task, result.id, result.card.size_bytes, examples)
            scores.append(task_score(result.id, mine, prior))
    return ranked(scores)


def task_score(model_id: str, samples: list[Sample], prior: Prior) -> TaskScore:
    """One model's score on one task from its graded answers (at least one): the mean grade
    (`measured`) and its 95% interval, and the quality routing uses: the mean shrunk toward
    `prior` (`routing.priors.prior_for`) by the number of answers. To add answers to a score,
    call it again with all of that model's answers on the task, then `put_task_score`."""
    n = len(samples)
    clean = [s.run.e2e for s in samples if s.run.failure is None and s.run.e2e is not None]
    measured = sum(s.quality for s in samples) / n
    low, high = wilson(measured, n)
    return TaskScore(
        model=model_id,
        quality=round(shrink(measured, n, prior), 4),
        latency_seconds=rounded(percentile(clean, 0.5)),
        failure_rate=round(sum(s.failed for s in samples) / n, 4),
        samples=n,
        measured=round(measured, 4),
        interval=[round(low, 3), round(high, 3)],
        prior=round(prior.quality, 3),
        prior_from=prior.source,
    )


def ranked(scores: Iterable[TaskScore]) -> list[TaskScore]:
    """A task's scores best quality first, then the faster, then by id."""
    inf = float("inf")
    return sorted(scores, key=lambda s: (-s.quality, s.latency_seconds or inf, s.model))


def put_task_score(profile: Profile, task: str, score: TaskScore) -> None:
    """Put one model's score on a task into `profile`, in place of its old one, and keep the
    task ranked (for a calibration that goes on one model and task at a time)."""
    others = [s for s in profile.tasks.get(task, []) if s.model != score.model]
    profile.tasks[task] = ranked([*others, score])


def machine_slug(machine: Machine) -> str:
    """A short file-name-safe name for the machine: chip words and memory, e.g. apple-m4-24gb."""
    chip = re.sub(r"\([^)]*\)|\bcpu\b|@.*$|\bprocessor\b", " ", machine.chip.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", chip).strip("-")[:40].strip("-") or "machine"
    memory = round(machine.memory_bytes / 2**30)
    return f"{slug}-{memory}gb" if memory else slug


def profile_filename(machine: Machine, model_ids: set[str]) -> str:
    """`<machine-slug>-<hash of the sorted model ids>.toml`: one file per machine and model set."""
    digest = hashlib.sha256("\n".join(sorted(model_ids)).encode()).hexdigest()[:10]
    return f"{machine_slug(machine)}-{digest}.toml"
