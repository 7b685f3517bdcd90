"""Running the LLM judge of `router calibrate --judge MODEL` (or `[calibration] judge`).

`make_judge` resolves the setting before anything is measured: `off` (the default) is no
judge, `auto` the best model of the prior among those served (the shipped example profile's
quality on the judged tasks for ids it knows, else the size prior), anything else a model id,
which must be served (an unknown id is a one-line error naming it).

After every model is measured, `judge_results` first checks the judge on the suite (for each
prompt of the judged tasks the run used: the reference against the prompt echoed back and
against an off-topic paragraph, both orders) and, when it passes, asks it to compare each
answer of the open-ended tasks with the reference, both orders, and blends its win rate into
that sample's quality (`router.grading.judge.blend`). It returns the profile's `judge` line.

The judge is asked straight through its replica (no routing, no fallback), one request at a
time; its reply is read up to `MAX_REPLY_CHARS` and parsed strictly. Its requests are never
samples of any model, so a judge that is also a calibrated model keeps its own latencies.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from router.backends.protocol import BackendRequest
from router.calibration.results import ModelResult, Sample
from router.calibration.suites import Prompt, Suite
from router.errors import ConfigError, RouterError
from router.grading.gates import Language
from router.grading.judge import (
    JUDGED_TASKS,
    MAX_REPLY_CHARS,
    MAX_TOKENS,
    OFF_TOPIC,
    Letter,
    PromptCheck,
    blend,
    check_outcome,
    check_summary,
    judge_body,
    judge_messages,
    parse_verdict,
    reference_for,
    win_rate,
)
from router.profiles import Profile, shipped_examples
from router.routing.priors import prior_for
from router.serving.catalog import Replica
from router.wire import ModelCard, decode_chat

if TYPE_CHECKING:
    from router.calibration.report import Progress
    from router.serving.service import Service

LOAD_ALLOWANCE = 300.0  # extra seconds for the judge's first request (it may load the model)
STEPS = 2  # progress steps: the check, then the judging


@dataclass(frozen=True)
class Judge:
    id: str
    replica: Replica
    quick: bool  # the run's prompts: the quick ones, answers cut short
    timeout: float  # per request


def make_judge(service: Service, setting: str, quick: bool, timeout: float | None) -> Judge | None:
    """The judge the setting names (None for "off"); errors name an unknown or down model."""
    setting = setting.strip()
    if setting in ("", "off"):
        return None
    catalog = service.catalog
    up = {
        model_id: replica
        for model_id in catalog.ids()
        for replica in catalog.replicas(model_id)[:1]
        if catalog.states[replica.backend.name].up
    }
    if setting == "auto":
        if not up:
            return None
        examples = shipped_examples()
        chosen = max(sorted(up), key=lambda m: prior_quality(up[m].card, examples))
    elif setting not in catalog.ids():
        known = ", ".join(catalog.ids()) or "none"
        raise ConfigError(f"unknown judge model {setting!r} (known: {known})")
    elif setting not in up:
        raise RouterError(f"judge model {setting!r}: every backend serving it is down")
    else:
        chosen = setting
    return Judge(chosen, up[chosen], quick, timeout or 30.0 + 0.5 * MAX_TOKENS)


def prior_quality(card: ModelCard, examples: list[Profile]) -> float:
    """The prior's mean quality of a model on the judged tasks (`routing.priors`: the example
    profiles' where they know the id, else the size prior)."""
    priors = [prior_for(t, card.id, card.size_bytes, examples).quality for t in JUDGED_TASKS]
    return sum(priors) / len(priors)


# ---------------------------------------------------------------- asking


async def ask(replica: Replica, messages: list[dict[str, str]], timeout: float) -> Letter | None:
    """One verdict: the judge's reply read up to `MAX_REPLY_CHARS`, parsed strictly; a
    failure, a timeout or a longer reply is no verdict."""
    raw = msgspec.json.encode({**judge_body(messages), "model": replica.card.id, "stream": True})
    events = replica.backend.stream(
        BackendRequest("chat/completions", replica.name, raw, decode_chat(raw))
    )
    pieces: list[str] = []
    replica.outstanding += 1
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                for choice in event.chunk.choices if event.chunk else ():
                    pieces.append((choice.delta.content or "") if choice.delta else "")
                if sum(map(len, pieces)) > MAX_REPLY_CHARS:
                    return None
    except Exception:  # a failure, a timeout, or a bug below the seam: no verdict
        return None
    finally:
        replica.outstanding -= 1
        await events.aclose()  # type: ignore[attr-defined]
    return parse_verdict("".join(pieces))


class _Asker:
    """The judge's requests in turn: the first may load the model, so it waits longer."""

    def __init__(self, judge: Judge) -> None:
        self.judge, self.asked = judge, 0

    async def pair(
        self, suite: Suite, prompt: Prompt, first: str, second: str, cut: bool = False
    ) -> tuple[Letter | None, Letter | None]:
        """The verdicts on (first, second), then on (second, first)."""
        verdicts = []
        for a, b in ((first, second), (second, first)):
            messages = judge_messages(suite.task, prompt.text(), prompt.rubric, a, b, cut=cut)
            extra = LOAD_ALLOWANCE if self.asked == 0 else 0.0
            self.asked += 1
            verdicts.append(await ask(self.judge.replica, messages, self.judge.timeout + extra))
        return verdicts[0], verdicts[1]


# ---------------------------------------------------------------- the run


async def judge_results(
    judge: Judge,
    results: list[ModelResult],
    suites: list[Suite],
    progress: Progress | None = None,
    step: int = 0,
) -> str:
    """Check the judge on the suite; if it passes, blend its verdicts into the open-ended
    tasks' samples (in place). Returns the profile's `judge` line."""
    judged = [s for s in suites if s.task in JUDGED_TASKS]
    if not judged:
        return f"not used: {judge.id}: no open-ended task ({', '.join(JUDGED_TASKS)}) was run"
    asker = _Asker(judge)
    checks = await _check(asker, judged, progress, step + 1)
    used, words = check_summary(judge.id, checks)
    if used:
        await _grade(asker, results, {s.task: s for s in judged}, progress, step + 2)
    return words


def _prompts(judge: Judge, suite: Suite) -> list[Prompt]:
    return suite.quick() if judge.quick else suite.prompts


def _answer_lang(suite: Suite, prompt: Prompt) -> str:
    """The language the answer should be in (the language grader's, else the prompt's)."""
    expect = [g.expect for g in suite.graders_for(prompt) if isinstance(g, Language)]
    return next((e for e in expect if e != "auto"), prompt.lang)


async def _check(
    asker: _Asker, suites: list[Suite], progress: Progress | None, step: int
) -> list[PromptCheck]:
    """The judge on each prompt: the reference against the echo and the off-topic answer."""
    todo = [(s, p) for s in suites for p in _prompts(asker.judge, s)]
    if progress is not None:
        progress.begin(step, asker.judge.id, "judge check", len(todo))
    checks: list[PromptCheck] = []
    for suite, prompt in todo:
        off_topic = OFF_TOPIC.get(_answer_lang(suite, prompt), OFF_TOPIC["en"])
        echo = await asker.pair(suite, prompt, prompt.reference, prompt.text())
        other = await asker.pair(suite, prompt, prompt.reference, off_topic)
        checks.append(PromptCheck(check_outcome(*echo), check_outcome(*other)))
        if progress is not None:
            progress.advance(len(checks), sum(not c.passed for c in checks))
    if progress is not None:
        progress.end(len(checks), sum(not c.passed for c in checks))
    return checks


async def _grade(
    asker: _Asker,
    results: list[ModelResult],
    suites: dict[str, Suite],
    progress: Progress | None,
    step: int,
) -> None:
    """Each open-ended answer against the reference, both orders, blended into its quality."""
    todo = [
        s for r in results for s in r.samples if s.task in suites and not s.failed and s.quality > 0
    ]
    if progress is not None:
        progress.begin(step, asker.judge.id, "judging", len(todo))
    for done, sample in enumerate(todo, start=1):
        await _grade_sample(asker, suites[sample.task], sample)
        if progress is not None:
            progress.advance(done, 0)
    if progress is not None:
        progress.end(len(todo), 0)


async def _grade_sample(asker: _Asker, suite: Suite, sample: Sample) -> None:
    prompt = next((p for p in suite.prompts if p.id == sample.prompt_id), None)
    if prompt is None or not prompt.reference.strip():
        return
    answer = sample.run.text
    cut = asker.judge.quick and sample.run.finish_reason == "length"
    reference = reference_for(prompt.reference, answer, cut)
    verdicts = await asker.pair(suite, prompt, answer, reference, cut)
    sample.quality = blend(sample.quality, sample.kinds, win_rate(*verdicts))
