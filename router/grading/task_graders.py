"""Per-task evidence that the task was done: what an off-topic or echoed answer cannot fake.

- `novelty`: not a copy of the prompt. A summary, a mail or a rewrite made of the source
  pasted through, or the prompt echoed back, fails: n-gram copy shares (`textscan`).
- `chrf`: a translation close to the suite's reference by chrF (sacrebleu; character
  n-grams, so fair to Japanese).
- `simple`: an explanation for a child in simple words: short sentences, few kanji (Japanese),
  few long words (English).
- `narrative`: a story's shape: enough sentences, told mostly in the past tense.
- `mail`: a business mail's shape: an opening (greeting or recipient), a body, a closing or
  signature, and a subject line where one was asked for.

Each returns a `Verdict` whose score is 1 when the evidence is there and falls linearly to 0
as it goes missing. With `Context.prefix` (an answer cut short by `calibrate --quick`) each
judges only what an answer's beginning can show.
"""

from __future__ import annotations

import re
from typing import Literal

from router.grading.textscan import copied_share, strip_code
from router.grading.verdict import Context, Share, Spec, Verdict, fail, ok, ramp_down, ramp_up

__all__ = ["Chrf", "Mail", "Narrative", "Novelty", "Simple", "run_task_spec"]


class Novelty(Spec, tag="novelty"):
    """Written anew, not pasted: at most `max_pasted` of the source's n-grams (of the prompt's
    when there is no source) appear verbatim in the answer, and at most `max_copied` of the
    answer's n-grams come from the prompt. Scores fall to 0 over the next 0.3 (0.15)."""

    max_pasted: Share = 0.5
    max_copied: Share = 0.85


class Chrf(Spec, tag="chrf"):
    """chrF of the answer against the prompt's `reference`: 0 at `low`, 1 from `high`. One
    reference is harsh on a free but right translation (chrF 20-30 is common), and unrelated
    text in the same language gets 5-15: hence the low bar and, in the suite, weight 0.5."""

    low: float = 10.0
    high: float = 30.0


class Simple(Spec, tag="simple"):
    """Simple words: mean sentence length at most `max_sentence` (characters in Japanese,
    words in English; default 50 / 25), Han characters at most `max_kanji` of the Japanese
    text, English words of 9+ letters at most `max_long_words`. 0 at 1.5x each limit."""

    max_sentence: float | None = None
    max_kanji: Share = 0.32
    max_long_words: Share = 0.15


class Narrative(Spec, tag="narrative"):
    """A story: at least `min_sentences` sentences, `min_past` of them in the past tense."""

    min_sentences: int = 8
    min_past: Share = 0.3


class Mail(Spec, tag="mail"):
    """A business mail: an opening (greeting or recipient) near the top, a body, a closing or
    signature at the end, and a subject line when `subject` (the prompt asks for one)."""

    lang: Literal["auto", "ja", "en"] = "auto"
    subject: bool = False


TaskSpec = Novelty | Chrf | Simple | Narrative | Mail


# ---------------------------------------------------------------- novelty


def check_novelty(answer: str, spec: Novelty, ctx: Context) -> Verdict:
    copied = copied_share(answer, ctx.prompt)
    score = ramp_down(copied, spec.max_copied, min(1.0, spec.max_copied + 0.15))
    detail = f"{copied:.0%} of the answer copied from the prompt"
    if not ctx.prefix:  # a beginning cannot hold the whole source
        pasted = copied_share(ctx.source or ctx.prompt, answer)
        score = min(score, ramp_down(pasted, spec.max_pasted, min(1.0, spec.max_pasted + 0.3)))
        detail += f", {pasted:.0%} of the source pasted in"
    return ok(detail) if score == 1.0 else fail("copied", detail, score)


# ---------------------------------------------------------------- chrF


def chrf(answer: str, reference: str) -> float:
    """sentence chrF (0..100) of the answer against one reference."""
    from sacrebleu.metrics import CHRF  # imported on first use: 0.3 s

    return CHRF().sentence_score(answer.strip(), [reference.strip()]).score


def check_chrf(answer: str, spec: Chrf, ctx: Context) -> Verdict:
    if not ctx.reference:
        return ok("no reference to compare with")
    reference = ctx.reference.strip()
    if ctx.prefix:  # compare a beginning with the reference's beginning
        reference = reference[: int(len(answer.strip()) * 1.2) + 10]
    value = chrf(answer, reference)
    score = ramp_up(value, spec.low, spec.high)
    detail = f"chrF {value:.0f} against the reference"
    return ok(detail) if score == 1.0 else fail("far_from_reference", detail, score)


# ---------------------------------------------------------------- simple words and stories

_JA_SENTENCE = re.compile(r"[^。！？!?\n]+")
_EN_SENTENCE = re.compile(r"[^.!?\n]+")
_QUOTES = " \t「」『』\"'“”‘’()（）-—*#"
_HAN = re.compile(r"[\u4e00-\u9fff々]")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff々]")
_EN_WORD = re.compile(r"[A-Za-z]+")
_JA_PAST = re.compile(r"(?:た|だった)[」』)）]*$")
_EN_PAST = re.compile(
    r"\b(?:was|were|had|did|said|went|came|saw|found|took|knew|thought|"
    r"felt|made|got|told|\w+ed)\b",
    re.IGNORECASE,
)


def sentences(text: str, lang: str) -> list[str]:
    """The text's sentences (quotes and list marks stripped), code left out."""
    pattern = _JA_SENTENCE if lang == "ja" else _EN_SENTENCE
    parts = (p.strip(_QUOTES) for p in pattern.findall(strip_code(text)))
    return [p for p in parts if len(p) > 1]


def check_simple(answer: str, spec: Simple, ctx: Context) -> Verdict:
    found = sentences(answer, ctx.lang)
    if not found:
        return fail("not_simple", "no sentences")
    if ctx.lang == "ja":
        mean = sum(len(s) for s in found) / len(found)
        limit = spec.max_sentence or 50.0
        japanese = len(_JAPANESE.findall(answer)) or 1
        rare = len(_HAN.findall(answer)) / japanese
        rare_limit, what = spec.max_kanji, "kanji"
    else:
        words = _EN_WORD.findall(answer)
        mean = len(words) / len(found)
        limit = spec.max_sentence or 25.0
        rare = sum(len(w) >= 9 for w in words) / (len(words) or 1)
        rare_limit, what = spec.max_long_words, "long words"
    score = ramp_down(mean, limit, 1.5 * limit) * ramp_down(rare, rare_limit, 1.5 * rare_limit)
    unit = "chars" if ctx.lang == "ja" else "words"
    detail = f"sentences of {mean:.0f} {unit}, {rare:.0%} {what}"
    return ok(detail) if score == 1.0 else fail("not_simple", detail, score)


def check_narrative(answer: str, spec: Narrative, ctx: Context) -> Verdict:
    found = sentences(answer, ctx.lang)
    past_re = _JA_PAST if ctx.lang == "ja" else _EN_PAST
    past = sum(bool(past_re.search(s)) for s in found) / (len(found) or 1)
    score = 1.0 if ctx.prefix and len(found) < 3 else ramp_up(past, 0.0, spec.min_past)
    if not ctx.prefix:
        score *= min(1.0, len(found) / spec.min_sentences) ** 2
    detail = f"{len(found)} sentences, {past:.0%} in the past tense"
    return ok(detail) if score == 1.0 else fail("not_a_story", detail, score)


# ---------------------------------------------------------------- mail

_SUBJECT = re.compile(r"^\W*(?:件名|題名|subject|re)\s*[:：]", re.IGNORECASE)
_JA_OPEN = re.compile(
    r"お世話にな|拝啓|ご連絡(?:いた|させて|差し上げ)|ご無沙汰|御中|各位|"
    r"突然の|失礼いたします|失礼します|(?:様|先生)[、,]?\s*$",
    re.MULTILINE,
)
_JA_CLOSE = re.compile(r"よろしくお願い|宜しくお願い|お願い申し上げ|敬具|何卒|^\s*以上")
_EN_OPEN = re.compile(
    r"^\W*(?:dear|hi|hello|good (?:morning|afternoon|evening)|greetings|"
    r"to whom it may concern)\b",
    re.IGNORECASE | re.MULTILINE,
)
_EN_CLOSE = re.compile(
    r"^\W*(?:best|kind regards|warm regards|warmest regards|regards|"
    r"sincerely|yours (?:sincerely|truly|faithfully)|many thanks|thank you|"
    r"thanks|cheers|respectfully|all the best)\b",
    re.IGNORECASE | re.MULTILINE,
)


def check_mail(answer: str, lang: str, subject: bool = False, prefix: bool = False) -> Verdict:
    """Subject (when asked) first; an opening in the first 300 chars; a closing in the last
    400; a body (a line with more than the formulas). Missing parts: score (share present)².
    A beginning (`prefix`) is judged on subject and opening."""
    lines = [line for line in answer.strip().splitlines() if line.strip()]
    has_subject = bool(lines) and bool(_SUBJECT.match(lines[0]))
    text = "\n".join(lines[1:] if has_subject else lines)
    opening, closing = (_JA_OPEN, _JA_CLOSE) if lang == "ja" else (_EN_OPEN, _EN_CLOSE)
    parts = {"opening": bool(opening.search(text[:300]))}
    if subject:
        parts["subject"] = has_subject
    if not prefix:
        parts["closing"] = bool(closing.search(text[-400:]))
        least = 8 if lang == "ja" else 12  # characters left on a line besides the formulas
        parts["body"] = any(
            len(closing.sub("", opening.sub("", line)).strip()) >= least
            for line in text.splitlines()
        )
    missing = [name for name, present in parts.items() if not present]
    if not missing:
        return ok(" and ".join(parts))
    score = (1 - len(missing) / len(parts)) ** 2
    return fail("format", f"no mail {' and '.join(missing)}", score)


# ---------------------------------------------------------------- dispatch


def run_task_spec(spec: TaskSpec, answer: str, ctx: Context) -> Verdict:
    """One per-task grader applied to an answer."""
    match spec:
        case Novelty():
            return check_novelty(answer, spec, ctx)
        case Chrf():
            return check_chrf(answer, spec, ctx)
        case Simple():
            return check_simple(answer, spec, ctx)
        case Narrative():
            return check_narrative(answer, spec, ctx)
        case Mail():
            lang = ctx.lang if spec.lang == "auto" else spec.lang
            return check_mail(answer, lang, spec.subject, ctx.prefix)
    raise TypeError(f"not a task grader spec: {spec!r}")
