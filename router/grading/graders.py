"""Deterministic graders: is a model's answer right for a benchmark prompt?

Each grader is a small pure function of the answer (and the prompt's language and source
text) returning a `Verdict`; the only I/O is the code runner (`router.grading.coderun`). The grader
specs below (one msgspec Struct per grader, tagged by `name`) are what suite files write in
`graders = [...]`; `grade` runs a list of them and folds the verdicts into a `Grade` with a
quality score in [0, 1] and the failure kinds: the task's evidence (the product of the task
graders' scores) times the gates (language, loops, leaked reasoning, refusals, empty). The
per-task evidence an off-topic or echoed answer cannot fake (not a copy, chrF, simple words,
a story's and a mail's shape) lives in `router.grading.task_graders`; the shared types in
`router.grading.verdict`.

Failure kinds: wrong_language, loop, leaked_reasoning, refusal, missing_fact, forbidden_fact,
too_long, too_short, format, code_failed, empty, invalid_json, copied, far_from_reference,
not_simple, not_a_story.

The suite format also carries a free-text `rubric` per prompt for an LLM judge; that judge
is off by default and not implemented here: grading is deterministic only.

`grade` blocks while a `code` grader runs its sandboxed process (up to the spec's
`timeout_s`); async callers should run it in a worker thread (`asyncio.to_thread`). Code
answers are run only inside the sandbox (`router.grading.sandbox`): where there is none, or the
caller
says `run_code=False` (an untrusted backend), the `code` graders are left out and the answer
is graded on the rest (code block, language, loops).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

import msgspec

from router.grading.coderun import extract_python, run_python
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
from router.grading.textscan import (
    code_blocks,
    contains,
    loop_detected,  # re-exported: the streaming guard's entry point
    loop_reason,
    normalize,
    reasoning_leak,
    refusal,
    script_counts,
    strip_code,
)
from router.grading.verdict import Chars, Context, Share, Spec, Verdict, Weight
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


# ---------------------------------------------------------------- grader specs

_Spec = Spec


class Language(_Spec, tag="language"):
    """Answer in `expect` ("auto": the prompt's language); code blocks are ignored."""

    expect: Literal["auto", "ja", "en"] = "auto"
    min_kana: Share = 0.08  # kana share of Japanese characters (Chinese has none)
    min_share: Share = 0.6  # share of the expected script in the prose (Japanese chars x2)


class NoLoop(_Spec, tag="no_loop"):
    """No degenerate repetition anywhere in the answer."""


class NoReasoning(_Spec, tag="no_reasoning"):
    """No leaked reasoning: think tags, "Thinking Process", "Okay, the user wants..."."""


class NoRefusal(_Spec, tag="no_refusal"):
    """The answer does not open by refusing the request ("I'm sorry, but I can't help...")."""


class Facts(_Spec, tag="facts"):
    """Each group of synonyms must be present (any one of a group); case/width-insensitive."""

    required: list[list[str]]
    min_groups: int | None = None  # how many groups must match; default all


class Forbidden(_Spec, tag="forbidden"):
    """None of these may appear (e.g. 'マジックガール', 'torimatsu')."""

    phrases: list[str]


class Length(_Spec, tag="length"):
    """Answer length in characters (stripped), absolute and relative to the source text."""

    min_chars: Chars | None = None
    max_chars: Chars | None = None
    min_ratio: Weight | None = None
    max_ratio: Weight | None = None


class CodeBlockSpec(_Spec, tag="code_block"):
    """The answer carries its code in a fenced block (tagged `lang` or untagged)."""

    lang: str = "python"


class Json(_Spec, tag="json"):
    """The answer is JSON (an object) with these keys of these types; fences allowed."""

    keys: dict[str, Literal["str", "int", "number", "bool", "list", "object", "null"]] = (
        msgspec.field(default_factory=dict)
    )
    allow_fence: bool = True


class Code(_Spec, tag="code"):
    """The answer's Python, followed by `checks`, exits 0 within the limits."""

    checks: str
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    memory_mb: Annotated[int, msgspec.Meta(ge=64)] = 512


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
GATE_SPECS = (Language, NoLoop, NoReasoning, NoRefusal)  # the rest is the task's evidence
GRADER_NAMES: tuple[str, ...] = tuple(str(t.__struct_config__.tag) for t in get_args(GraderSpec))


# ---------------------------------------------------------------- the graders


def detect_lang(text: str) -> str:
    """ "ja" if the text is mostly Japanese/CJK characters (counted x2), else "en"."""
    c = script_counts(strip_code(text))
    return "ja" if 2 * c.cjk >= c.latin and c.cjk else "en"


def check_language(
    answer: str, expect: str, min_kana: float = 0.08, min_share: float = 0.6
) -> Verdict:
    """Japanese asked: kana present and Japanese dominant; English asked: Latin dominant."""
    c = script_counts(strip_code(answer))
    letters = c.latin + 2 * (c.cjk + c.hangul)
    if letters < 8:
        return _ok("too little prose to judge the language")
    if expect == "ja":
        share = 2 * c.cjk / letters
        if c.cjk and c.kana / c.cjk < min_kana:
            return _fail("wrong_language", f"Han text with {c.kana} kana: Chinese, not Japanese")
        if share < min_share:
            return _fail("wrong_language", f"only {share:.0%} Japanese script", share)
        return _ok(f"{share:.0%} Japanese script")
    share = c.latin / letters
    if share < min_share:
        return _fail("wrong_language", f"only {share:.0%} Latin script in English", share)
    return _ok(f"{share:.0%} Latin script")


def check_loop(answer: str) -> Verdict:
    """No degenerate repetition, over the whole answer and over its tail window."""
    reason = loop_reason(answer, window=len(answer)) or loop_reason(answer)
    return _fail("loop", reason) if reason else _ok()


def check_reasoning(answer: str) -> Verdict:
    found = reasoning_leak(answer)
    return _fail("leaked_reasoning", f"reasoning leaked: {found[:40]!r}") if found else _ok()


def check_refusal(answer: str) -> Verdict:
    found = refusal(answer)
    return _fail("refusal", f"refused: {found[:60]!r}") if found else _ok()


def check_facts(
    answer: str,
    required: Sequence[Sequence[str]],
    min_groups: int | None = None,
    prefix: bool = False,
) -> Verdict:
    """Each synonym group must match (any of it); passes with min_groups (default all), scoring
    the share found; short of that, at most half of the share needed. A beginning (`prefix`)
    passes with any one group."""
    text = normalize(answer)
    missing = [g for g in required if not any(contains(text, s) for s in g)]
    found = len(required) - len(missing)
    needed = len(required) if min_groups is None else min(min_groups, len(required))
    if prefix and found:
        return _ok(f"{found}/{len(required)} facts in the beginning")
    if found >= needed:
        return _ok(f"{found}/{len(required)} facts", found / len(required) if required else 1.0)
    names = ", ".join(g[0] for g in missing[:4] if g)
    return _fail("missing_fact", f"missing: {names}", 0.5 * found / needed)


def check_forbidden(answer: str, phrases: Sequence[str]) -> Verdict:
    text = normalize(answer)
    hits = [p for p in phrases if contains(text, p)]
    return _fail("forbidden_fact", f"says {hits[0]!r}") if hits else _ok()


def check_length(answer: str, spec: Length, source: str = "") -> Verdict:
    """Stripped length within min/max chars and min/max ratio of the source's length."""
    n = len(answer.strip())
    src = len(source.strip())
    lows = [spec.min_chars or 0, round(spec.min_ratio * src) if spec.min_ratio and src else 0]
    highs = [spec.max_chars, round(spec.max_ratio * src) if spec.max_ratio and src else None]
    low = max(lows)
    high = min((h for h in highs if h is not None), default=None)
    if high is not None and n > high:
        return _fail("too_long", f"{n} chars > {high}", high / n)
    if n < low:
        return _fail("too_short", f"{n} chars < {low}", n / low)
    return _ok(f"{n} chars")


def check_code_block(answer: str, lang: str) -> Verdict:
    blocks = code_blocks(answer)
    if not blocks:
        return _fail("format", "no fenced code block")
    accepted = {lang, ""} | ({"py", "python3", "py3"} if lang == "python" else set())
    if any(b.lang in accepted for b in blocks):
        return _ok()
    return _fail("format", f"code block tagged {blocks[0].lang!r}, not {lang!r}", 0.5)


_JSON_ANY = msgspec.json.Decoder()
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "number": (int, float),
    "bool": (bool,),
    "list": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _json_text(answer: str, allow_fence: bool) -> str:
    blocks = [b for b in code_blocks(answer) if b.lang in ("json", "")] if allow_fence else []
    return blocks[0].body if blocks else answer.strip()


def check_json(answer: str, keys: dict[str, str], allow_fence: bool = True) -> Verdict:
    """Valid JSON object whose `keys` have the named types (bool is not an int)."""
    try:
        value: Any = _JSON_ANY.decode(_json_text(answer, allow_fence).encode())
    except msgspec.DecodeError as exc:
        return _fail("invalid_json", f"not JSON: {exc}")
    except RecursionError:  # nested deeper than the decoder goes: no answer needs that
        return _fail("invalid_json", "not JSON: nested too deeply")
    if not isinstance(value, dict):
        return _fail("format", f"JSON {type(value).__name__}, not an object")
    bad = [
        k
        for k, t in keys.items()
        if k not in value
        or not isinstance(value[k], _JSON_TYPES[t])
        or (isinstance(value[k], bool) and t in ("int", "number"))
    ]
    if bad:
        return _fail(
            "format", f"keys missing or mistyped: {', '.join(bad)}", 1 - len(bad) / len(keys)
        )
    return _ok(f"{len(keys)} keys")


def check_code(answer: str, spec: Code) -> Verdict:
    """Run the answer's Python followed by the checks (see router.grading.coderun)."""
    code = extract_python(answer)
    if not code:
        return _fail("code_failed", "no Python code found")
    run = run_python(code, spec.checks, timeout_s=spec.timeout_s, memory_mb=spec.memory_mb)
    if run.passed:
        return _ok(f"checks passed in {run.seconds:.2f}s")
    if run.timed_out:
        return _fail("code_failed", f"timed out after {spec.timeout_s:g}s")
    if run.out_of_memory:
        return _fail("code_failed", f"memory limit ({spec.memory_mb} MB) exceeded")
    last = run.stderr_tail.splitlines()[-1:] or [f"exit code {run.returncode}"]
    return _fail("code_failed", last[0][:200])


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
    run_code = False if prefix else run_code
    todo = list(specs)
    if any(isinstance(s, Code) for s in todo) and not (
        detect().available if run_code is None else run_code
    ):
        todo = [s for s in todo if not isinstance(s, Code)]
    if baseline:
        present = {type(s) for s in todo}
        todo += [s for s in (NoLoop(), NoReasoning(), NoRefusal()) if type(s) not in present]
    verdicts = [run_spec(s, answer, ctx) for s in todo]
    failures = list(dict.fromkeys(v.kind for v in verdicts if not v.passed))
    return Grade(round(_quality(todo, verdicts, failures), 4), not failures, failures, verdicts)


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
