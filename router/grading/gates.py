"""The gates: what any answer must pass, whatever its task: the language asked for, no loop, no
leaked reasoning, no refusal. Each is a grader spec (what a suite writes) and a pure check.

Apart from `router.grading.graders` because these checks are used on their own: the answer
checks of `router.routing.guards` (checked escalation) call them directly on a served answer,
with no suite and no grade. In a grade a failed gate multiplies the
task's evidence (`graders.GATES`) instead of being part of it.
"""

from __future__ import annotations

from typing import Literal

from router.grading.textscan import loop_reason, reasoning_leak, refusal, script_counts, strip_code
from router.grading.verdict import Share, Spec, Verdict, fail, ok


class Language(Spec, tag="language"):
    """Answer in `expect` ("auto": the prompt's language); code blocks are ignored."""

    expect: Literal["auto", "ja", "en"] = "auto"
    min_kana: Share = 0.08  # kana share of Japanese characters (Chinese has none)
    min_share: Share = 0.6  # share of the expected script in the prose (Japanese chars x2)


class NoLoop(Spec, tag="no_loop"):
    """No degenerate repetition anywhere in the answer."""


class NoReasoning(Spec, tag="no_reasoning"):
    """No leaked reasoning: think tags, "Thinking Process", "Okay, the user wants..."."""


class NoRefusal(Spec, tag="no_refusal"):
    """The answer does not open by refusing the request ("I'm sorry, but I can't help...")."""


GATE_SPECS = (Language, NoLoop, NoReasoning, NoRefusal)  # the rest of a grade: the evidence


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
        return ok("too little prose to judge the language")
    if expect == "ja":
        share = 2 * c.cjk / letters
        if c.cjk and c.kana / c.cjk < min_kana:
            return fail("wrong_language", f"Han text with {c.kana} kana: Chinese, not Japanese")
        if share < min_share:
            return fail("wrong_language", f"only {share:.0%} Japanese script", share)
        return ok(f"{share:.0%} Japanese script")
    share = c.latin / letters
    if share < min_share:
        return fail("wrong_language", f"only {share:.0%} Latin script in English", share)
    return ok(f"{share:.0%} Latin script")


def check_loop(answer: str) -> Verdict:
    """No degenerate repetition, over the whole answer and over its tail window."""
    reason = loop_reason(answer, window=len(answer)) or loop_reason(answer)
    return fail("loop", reason) if reason else ok()


def check_reasoning(answer: str) -> Verdict:
    found = reasoning_leak(answer)
    return fail("leaked_reasoning", f"reasoning leaked: {found[:40]!r}") if found else ok()


def check_refusal(answer: str) -> Verdict:
    found = refusal(answer)
    return fail("refusal", f"refused: {found[:60]!r}") if found else ok()
