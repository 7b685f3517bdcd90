"""The general evidence graders: facts present, phrases absent, length, a fenced code block, a
JSON object with typed keys, and code that runs. Each is a grader spec (what a suite writes)
and a pure check; the only I/O is the code runner (`router.grading.coderun`).

Apart from `router.grading.graders` (which runs specs and folds their verdicts into a grade) so
that each check stands alone: `check_json` also checks a served JSON answer
(`router.routing.guards`) and a capability probe (`router.calibration.measure`). The per-task
evidence (not a copy, chrF, simple words, a story's and a mail's shape) is in
`router.grading.task_graders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import msgspec

from router.grading.coderun import extract_python, run_python
from router.grading.textscan import code_blocks, contains, normalize
from router.grading.verdict import Chars, Spec, Verdict, Weight, fail, ok


class Facts(Spec, tag="facts"):
    """Each group of synonyms must be present (any one of a group); case/width-insensitive."""

    required: list[list[str]]
    min_groups: int | None = None  # how many groups must match; default all


class Forbidden(Spec, tag="forbidden"):
    """None of these may appear (e.g. 'マジックガール', 'torimatsu')."""

    phrases: list[str]


class Length(Spec, tag="length"):
    """Answer length in characters (stripped), absolute and relative to the source text."""

    min_chars: Chars | None = None
    max_chars: Chars | None = None
    min_ratio: Weight | None = None
    max_ratio: Weight | None = None


class CodeBlockSpec(Spec, tag="code_block"):
    """The answer carries its code in a fenced block (tagged `lang` or untagged)."""

    lang: str = "python"


class Json(Spec, tag="json"):
    """The answer is JSON (an object) with these keys of these types; fences allowed."""

    keys: dict[str, Literal["str", "int", "number", "bool", "list", "object", "null"]] = (
        msgspec.field(default_factory=dict)
    )
    allow_fence: bool = True


class Code(Spec, tag="code"):
    """The answer's Python, followed by `checks`, exits 0 within the limits."""

    checks: str
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    memory_mb: Annotated[int, msgspec.Meta(ge=64)] = 512


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
        return ok(f"{found}/{len(required)} facts in the beginning")
    if found >= needed:
        return ok(f"{found}/{len(required)} facts", found / len(required) if required else 1.0)
    names = ", ".join(g[0] for g in missing[:4] if g)
    return fail("missing_fact", f"missing: {names}", 0.5 * found / needed)


def check_forbidden(answer: str, phrases: Sequence[str]) -> Verdict:
    text = normalize(answer)
    hits = [p for p in phrases if contains(text, p)]
    return fail("forbidden_fact", f"says {hits[0]!r}") if hits else ok()


def check_length(answer: str, spec: Length, source: str = "") -> Verdict:
    """Stripped length within min/max chars and min/max ratio of the source's length."""
    n = len(answer.strip())
    src = len(source.strip())
    lows = [spec.min_chars or 0, round(spec.min_ratio * src) if spec.min_ratio and src else 0]
    highs = [spec.max_chars, round(spec.max_ratio * src) if spec.max_ratio and src else None]
    low = max(lows)
    high = min((h for h in highs if h is not None), default=None)
    if high is not None and n > high:
        return fail("too_long", f"{n} chars > {high}", high / n)
    if n < low:
        return fail("too_short", f"{n} chars < {low}", n / low)
    return ok(f"{n} chars")


def check_code_block(answer: str, lang: str) -> Verdict:
    blocks = code_blocks(answer)
    if not blocks:
        return fail("format", "no fenced code block")
    accepted = {lang, ""} | ({"py", "python3", "py3"} if lang == "python" else set())
    if any(b.lang in accepted for b in blocks):
        return ok()
    return fail("format", f"code block tagged {blocks[0].lang!r}, not {lang!r}", 0.5)


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
        return fail("invalid_json", f"not JSON: {exc}")
    except RecursionError:  # nested deeper than the decoder goes: no answer needs that
        return fail("invalid_json", "not JSON: nested too deeply")
    if not isinstance(value, dict):
        return fail("format", f"JSON {type(value).__name__}, not an object")
    bad = [
        k
        for k, t in keys.items()
        if k not in value
        or not isinstance(value[k], _JSON_TYPES[t])
        or (isinstance(value[k], bool) and t in ("int", "number"))
    ]
    if bad:
        return fail(
            "format", f"keys missing or mistyped: {', '.join(bad)}", 1 - len(bad) / len(keys)
        )
    return ok(f"{len(keys)} keys")


def check_code(answer: str, spec: Code) -> Verdict:
    """Run the answer's Python followed by the checks (see router.grading.coderun)."""
    code = extract_python(answer)
    if not code:
        return fail("code_failed", "no Python code found")
    run = run_python(code, spec.checks, timeout_s=spec.timeout_s, memory_mb=spec.memory_mb)
    if run.passed:
        return ok(f"checks passed in {run.seconds:.2f}s")
    if run.timed_out:
        return fail("code_failed", f"timed out after {spec.timeout_s:g}s")
    if run.out_of_memory:
        return fail("code_failed", f"memory limit ({spec.memory_mb} MB) exceeded")
    last = run.stderr_tail.splitlines()[-1:] or [f"exit code {run.returncode}"]
    return fail("code_failed", last[0][:200])
