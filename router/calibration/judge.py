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

`check_judge` and `grade_samples` are the two halves, callable apart: `serve`'s idle
continuation uses them through `IdleJudge` (the check as an idle step of its own, then each
step's answers graded), both resumable after a request arriving cut them short.
"""

from __future__ import annotations

import asyncio
import re
import time
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


class Asker:
    """The judge's requests in turn: the first may load the model, so it waits longer.
    `asked` and `seconds` count them (for an estimate of the time left)."""

    def __init__(self, judge: Judge) -> None:
        self.judge, self.asked, self.seconds = judge, 0, 0.0

    async def pair(
        self, suite: Suite, prompt: Prompt, first: str, second: str, cut: bool = False
    ) -> tuple[Letter | None, Letter | None]:
        """The verdicts on (first, second), then on (second, first)."""
        verdicts = []
        for a, b in ((first, second), (second, first)):
            messages = judge_messages(suite.task, prompt.text(), prompt.rubric, a, b, cut=cut)
            extra = LOAD_ALLOWANCE if self.asked == 0 else 0.0
            began = time.perf_counter()
            verdicts.append(await ask(self.judge.replica, messages, self.judge.timeout + extra))
            self.asked += 1
            self.seconds += time.perf_counter() - began
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
    judged = judged_suites(suites)
    if not judged:
        return f"not used: {judge.id}: no open-ended task ({', '.join(JUDGED_TASKS)}) was run"
    asker = Asker(judge)
    used, words = await check_judge(asker, list(judged.values()), progress, step + 1)
    if used:
        samples = [s for r in results for s in r.samples]
        await grade_samples(asker, samples, judged, progress, step + 2)
    return words


def judged_suites(suites: list[Suite]) -> dict[str, Suite]:
    """The suites of the open-ended tasks, by task."""
    return {s.task: s for s in suites if s.task in JUDGED_TASKS}


def _prompts(judge: Judge, suite: Suite) -> list[Prompt]:
    return suite.quick() if judge.quick else suite.prompts


def _answer_lang(suite: Suite, prompt: Prompt) -> str:
    """The language the answer should be in (the language grader's, else the prompt's)."""
    expect = [g.expect for g in suite.graders_for(prompt) if isinstance(g, Language)]
    return next((e for e in expect if e != "auto"), prompt.lang)


def check_prompts(judge: Judge, suites: list[Suite]) -> list[tuple[Suite, Prompt]]:
    """What the judge is checked on: each prompt of the run in the judged suites."""
    return [(s, p) for s in suites for p in _prompts(judge, s)]


async def check_judge(
    asker: Asker,
    suites: list[Suite],
    progress: Progress | None = None,
    step: int = 0,
    checks: list[PromptCheck] | None = None,
) -> tuple[bool, str]:
    """The judge on each prompt: the reference against the echo and the off-topic answer.
    Is it used, and the profile's words. `checks`: those done already (the check goes on
    from there, and appends to it)."""
    todo = check_prompts(asker.judge, suites)
    checks = [] if checks is None else checks
    if progress is not None:
        progress.begin(step, asker.judge.id, "judge check", len(todo))
    for suite, prompt in todo[len(checks) :]:
        off_topic = OFF_TOPIC.get(_answer_lang(suite, prompt), OFF_TOPIC["en"])
        echo = await asker.pair(suite, prompt, prompt.reference, prompt.text())
        other = await asker.pair(suite, prompt, prompt.reference, off_topic)
        checks.append(PromptCheck(check_outcome(*echo), check_outcome(*other)))
        if progress is not None:
            progress.advance(len(checks), sum(not c.passed for c in checks))
    if progress is not None:
        progress.end(len(checks), sum(not c.passed for c in checks))
    return check_summary(asker.judge.id, checks)


def gradable(sample: Sample, suites: dict[str, Suite]) -> bool:
    """Whether the judge grades this answer (an open-ended task's, not failed, not zero)."""
    return sample.task in suites and not sample.failed and sample.quality > 0


async def grade_samples(
    asker: Asker,
    samples: list[Sample],
    suites: dict[str, Suite],
    progress: Progress | None = None,
    step: int = 0,
) -> None:
    """Each open-ended answer against the reference, both orders, blended into its quality
    (in place)."""
    todo = [s for s in samples if gradable(s, suites)]
    if progress is not None:
        progress.begin(step, asker.judge.id, "judging", len(todo))
    for done, sample in enumerate(todo, start=1):
        await grade_sample(asker, suites[sample.task], sample)
        if progress is not None:
            progress.advance(done, 0)
    if progress is not None:
        progress.end(len(todo), 0)


async def grade_sample(asker: Asker, suite: Suite, sample: Sample) -> None:
    """One answer against its prompt's reference, both orders, blended into its quality."""
    prompt = next((p for p in suite.prompts if p.id == sample.prompt_id), None)
    if prompt is None or not prompt.reference.strip():
        return
    answer = sample.run.text
    cut = asker.judge.quick and sample.run.finish_reason == "length"
    reference = reference_for(prompt.reference, answer, cut)
    verdicts = await asker.pair(suite, prompt, answer, reference, cut)
    sample.quality = blend(sample.quality, sample.kinds, win_rate(*verdicts))


# ---------------------------------------------------------------- serve's idle continuation


class IdleJudge:
    """The judge of `serve`'s idle continuation (`router.calibration.continuous`): checked
    once on the full suites, as a step of its own, before the first open-ended pair; then,
    when it passed, it grades each step's open-ended answers before the pair's score is
    computed, as `router calibrate --judge` does. Both go on from where a request arriving
    cut them short: the prompts checked and the answers graded are kept."""

    def __init__(self, judge: Judge, suites: list[Suite]) -> None:
        self.asker = Asker(judge)
        self.suites = judged_suites(suites)
        self.checks: list[PromptCheck] = []
        self.used: bool | None = None  # None: not checked yet
        self.words = ""  # the check's words for the profile's judge line
        self.graded: dict[tuple[str, str], list[Sample]] = {}  # (model, task) -> graded copies

    @property
    def id(self) -> str:
        return self.asker.judge.id

    def needs_check(self, task: str) -> bool:
        return self.used is None and task in self.suites

    async def check(self) -> str:
        """Check the judge (going on from the prompts checked); the profile's words."""
        try:
            suites = list(self.suites.values())
            self.used, self.words = await check_judge(self.asker, suites, checks=self.checks)
        except Exception as err:  # a bug must not end the continuation, nor loop
            self.used, self.words = False, f"not used: {self.id}: {type(err).__name__}: {err}"
        return self.words

    async def grade(self, pair: tuple[str, str], samples: list[Sample]) -> list[Sample]:
        """The step's answers with the judge's verdicts blended in (on copies: the answers
        kept stay the graders'), or the answers as they are when the judge is not used."""
        suite = self.suites.get(pair[1])
        if not self.used or suite is None:
            return samples
        graded = self.graded.setdefault(pair, [])
        for sample in samples[len(graded) :]:
            copy = msgspec.structs.replace(sample)
            if gradable(copy, self.suites):
                await grade_sample(self.asker, suite, copy)
            graded.append(copy)
        return list(graded)

    def seconds_left(self, pending: list[tuple[str, str]]) -> float:
        """The judge's time still needed at its pace so far (0 before its first request):
        the check's requests left, then two a prompt of the open-ended pairs to measure."""
        if not self.asker.asked or self.used is False:
            return 0.0
        left = 0
        if self.used is None:
            left += 4 * (len(check_prompts(self.asker.judge, list(self.suites.values()))))
            left -= 4 * len(self.checks)
        for model, task in pending:
            if task in self.suites:
                left += 2 * (
                    len(self.suites[task].prompts) - len(self.graded.get((model, task), ()))
                )
        return self.asker.seconds / self.asker.asked * left


_IDLE = re.compile(r"(?:^|; )while idle: .*$")


def idle_line(before: str, words: str) -> str:
    """The profile's judge line once the idle continuation checked its judge: the start-up
    calibration's words (if any), then the idle check's."""
    kept = _IDLE.sub("", before)
    return f"{kept}; while idle: {words}" if kept else f"while idle: {words}"
