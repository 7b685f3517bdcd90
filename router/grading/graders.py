"""Deterministic graders: is a model's answer right for a benchmark prompt?

Each grader is a small pure function of the answer (and the prompt's language and source
text) returning a `Verdict`; the only I/O is the code runner (`router.grading.coderun`). The grader
specs (one msgspec Struct per grader, tagged by `name`; `GraderSpec` is their union) are what
suite files write in `graders = [...]`; `grade` runs a list of them and folds the verdicts into
a `Grade` with a quality score in [0, 1] and the failure kinds: the task's evidence (the product
of the task graders' scores) times the gates (language, loops, leaked reasoning, refusals,
empty). This module holds that folding; the graders live beside it: the gates in
`router.grading.gates`, the general evidence (facts, forbidden phrases, length, code block,
JSON, code that runs) in `router.grading.checks`, the per-task evidence an off-topic or echoed
answer cannot fake (not a copy, chrF, simple words, a story's and a mail's shape) in
`router.grading.task_graders`; the shared types in `router.grading.verdict`.

Failure kinds: wrong_language, loop, leaked_reasoning, refusal, missing_fact, forbidden_fact,
too_long, too_short, format, code_failed, empty, invalid_json, copied, far_from_reference,
not_simple, not_a_story.

The suite format also carries a free-text `rubric` per prompt for an LLM judge; that judge is
optional (off by default) and lives apart (`router.grading.judge`): grading here is
deterministic only.

`grade` blocks while a `code` grader runs its sandboxed process (up to the spec's
`timeout_s`); async callers should run it in a worker thread (`asyncio.to_thread`). Code
answers are run only inside the sandbox (`router.grading.sandbox`): where there is none, or the
caller says `run_code=False` (an untrusted backend), the `code` graders are left out and the answer
is graded on the rest (code block, language, loops).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import get_args

import msgspec

from router.grading.checks import (
    Code,
    CodeBlockSpec,
    Facts,
    Forbidden,
    Json,
    Length,
    check_code,
    check_code_block,
    check_facts,
    check_forbidden,
    check_json,
    check_length,
)
from router.grading.gates import (
    GATE_SPECS,
    Language,
    NoLoop,
    NoReasoning,
    NoRefusal,
    check_language,
    check_loop,
    check_reasoning,
    check_refusal,
    detect_lang,
)
from router.grading.sandbox import detect
from router.grading.task_graders import (
    Chrf,
    Mail,
    Narrative,
    Novelty,
    Simple,
    check_mail,
    run_task_spec,
)
from router.grading.textscan import loop_detected  # re-exported: the streaming guard's entry point
from router.grading.verdict import Context, Verdict
from router.grading.verdict import fail as _fail
from router.grading.verdict import ok as _ok

__all__ = ["Grade", "GraderSpec", "Verdict", "check_mail", "grade", "loop_detected"]

KINDS = frozenset(
    {
        "wrong_language",
        "loop",
        "leaked_reasoning",
        "missing_fact",
        "forbidden_fact",
        "too_long",
        "too_short",
        "format",
        "code_failed",
        "empty",
        "invalid_json",
        "refusal",
        "copied",
        "far_from_reference",
        "not_simple",
        "not_a_story",
    }
)
# Failures that make an answer worthless whatever else it gets right: quality 0.
FATAL = frozenset({"empty", "loop", "wrong_language", "refusal", "code_failed", "invalid_json"})
# The gates: what quality is multiplied by when the answer fails one (1 when it passes).
GATES = dict(empty=0.0, loop=0.0, wrong_language=0.0, refusal=0.0, leaked_reasoning=0.25)


class Grade(msgspec.Struct, frozen=True):
    """All graders' verdicts on one answer, folded into a quality score in [0, 1]."""

    quality: float
    passed: bool
    failures: list[str]
    verdicts: list[Verdict]


GraderSpec = (
    Language
    | NoLoop
    | NoReasoning
    | NoRefusal
    | Facts
    | Forbidden
    | Length
    | Mail
    | CodeBlockSpec
    | Json
    | Code
    | Novelty
    | Chrf
    | Simple
    | Narrative
)
GRADER_NAMES: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in get_args(GraderSpec))


# ---------------------------------------------------------------- combining


def run_spec(spec: GraderSpec, answer: str, ctx: Context) -> Verdict:
    """One grader spec applied to an answer. On a beginning (`ctx.prefix`), what needs the
    whole answer is not judged: minimum lengths, JSON, closings, the code's run."""
    match spec:
        case Language():
            expect = ctx.lang if spec.expect == "auto" else spec.expect
            return check_language(answer, expect, spec.min_kana, spec.min_share)
        case NoLoop():
            return check_loop(answer)
        case NoReasoning():
            return check_reasoning(answer)
        case NoRefusal():
            return check_refusal(answer)
        case Facts():
            return check_facts(answer, spec.required, spec.min_groups, ctx.prefix)
        case Forbidden():
            return check_forbidden(answer, spec.phrases)
        case Length():
            spec = (
                msgspec.structs.replace(spec, min_chars=None, min_ratio=None)
                if ctx.prefix
                else spec
            )
            return check_length(answer, spec, ctx.source or ctx.prompt)
        case CodeBlockSpec():
            return check_code_block(answer, spec.lang)
        case Json():
            if ctx.prefix:
                return _ok("JSON cut short: not judged")
            return check_json(answer, spec.keys, spec.allow_fence)
        case Mail() | Novelty() | Chrf() | Simple() | Narrative():
            return run_task_spec(spec, answer, ctx)
        case Code():
            return check_code(answer, spec)
    raise TypeError(f"not a grader spec: {spec!r}")


def grade(
    answer: str,
    specs: Sequence[GraderSpec],
    prompt: str = "",
    *,
    lang: str | None = None,
    source: str | None = None,
    reference: str = "",
    baseline: bool = True,
    run_code: bool | None = None,
    prefix: bool = False,
) -> Grade:
    """Grade an answer: quality is the task's evidence times the gates.

    The evidence is the product of the task graders' scores, each raised to its weight: an
    answer must show all of it (facts, length, not a copy, shape...), so one easy check
    passed cannot make up for the task not done. A failed gate (language, loop, leaked
    reasoning, refusal; see `GATE_SPECS`) multiplies it by `GATES[kind]`; a fatal failure
    (`FATAL`) makes it 0. An empty answer fails at once with kind "empty".

    `lang` defaults to the prompt's detected language; `source` is the text the task works
    on (length ratios and copying are measured against it; default: the prompt); `reference`
    is the suite's good answer (chrF). With `baseline`, the loop, leaked-reasoning and refusal
    graders run even if `specs` does not list them. `prefix`: the answer was cut short, judge
    its beginning only (see `run_spec`). The `code` graders run only with `run_code`
    (default: when a sandbox is available), never on a beginning.
    """
    if not answer.strip():
        return Grade(0.0, False, ["empty"], [_fail("empty", "the answer is empty")])
    ctx = Context(
        lang=lang or detect_lang(prompt),
        prompt=prompt,
        source=source or "",
        reference=reference,
        prefix=prefix,
    )
    todo = _to_run(specs, baseline=baseline, run_code=False if prefix else run_code)
    verdicts = [run_spec(s, answer, ctx) for s in todo]
    failures = list(dict.fromkeys(v.kind for v in verdicts if not v.passed))
    return Grade(round(_quality(todo, verdicts, failures), 4), not failures, failures, verdicts)


def _to_run(
    specs: Sequence[GraderSpec], *, baseline: bool, run_code: bool | None
) -> list[GraderSpec]:
    """The specs a grade runs: `code` ones only where code may run, plus the baseline gates."""
    todo = list(specs)
    if any(isinstance(s, Code) for s in todo) and not (
        detect().available if run_code is None else run_code
    ):
        todo = [s for s in todo if not isinstance(s, Code)]
    if baseline:
        present = {type(s) for s in todo}
        todo += [s for s in (NoLoop(), NoReasoning(), NoRefusal()) if type(s) not in present]
    return todo


def _quality(
    specs: Sequence[GraderSpec], verdicts: Sequence[Verdict], failures: Sequence[str]
) -> float:
    """Evidence (product of the task graders' scores ** weight) times the failed gates."""
    if FATAL.intersection(failures):
        return 0.0
    evidence = math.prod(
        v.score**s.weight
        for s, v in zip(specs, verdicts, strict=True)
        if not isinstance(s, GATE_SPECS)
    )
    return evidence * min((GATES[k] for k in failures if k in GATES), default=1.0)
