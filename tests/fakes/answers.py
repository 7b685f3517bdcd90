"""Answers to the suite prompts, good and deliberately bad, for the grader test set.

`answer(suite, prompt, mode)` gives, for any suite prompt, the answer a model playing `mode`
would give: the suite's own `reference`, or one of the bad answers every task must score
≤ 0.25: an off-topic paragraph (in the language the answer should be in), the prompt echoed
back, an on-task answer in the wrong language (the reference of a prompt of the same task that
is answered in the other language), a loop (the reference's first sentence over and over),
an empty answer, a refusal. `by_last_user_message` maps a chat request to its prompt,
so a fake upstream model can answer any suite prompt in its mode.
"""

from __future__ import annotations

import re

from router.calibration.suites import Prompt, Suite
from router.grading.graders import Language

GOOD = "reference"
BAD = ("off_topic", "echo", "wrong_language", "loop", "empty", "refusal")
MODES = (GOOD, *BAD)

OFF_TOPIC = {
    "en": (
        "Sea turtles are among the oldest reptiles on Earth. They spend almost their whole "
        "lives in the ocean, and the females come ashore only to lay their eggs in warm sand. "
        "The hatchlings find their way to the water by following the brightest horizon."
    ),
    "ja": (
        "ウミガメは地球上で最も古い爬虫類の一つです。一生のほとんどを海の中で過ごし、メスは卵を産むとき"
        "だけ浜辺に上がって、温かい砂の中に卵を産みます。生まれた子ガメは、いちばん明るい水平線を目指し"
        "て海へ向かいます。"
    ),
}
REFUSAL = {
    "en": "I'm sorry, but I can't help with that request.",
    "ja": "申し訳ありませんが、そのご依頼にはお応えできません。",
}


def answer_lang(suite: Suite, prompt: Prompt) -> str:
    """The language the answer should be in: the language grader's `expect`, else the
    prompt's language."""
    for spec in suite.graders_for(prompt):
        if isinstance(spec, Language) and spec.expect != "auto":
            return spec.expect
    return prompt.lang


def _other_language_reference(suite: Suite, lang: str) -> str:
    other = "en" if lang == "ja" else "ja"
    return next(p.reference for p in suite.prompts if answer_lang(suite, p) == other)


def first_sentence(reference: str) -> str:
    """Where a loop starts: the reference's first sentence (or line)."""
    line = next(line for line in reference.strip().splitlines() if line.strip())
    m = re.match(r".+?(?:[。!?！？]|[.!?](?=\s|$))", line)
    return (m.group() if m else line).strip()


def _loop(reference: str, times: int = 30) -> str:
    return " ".join([first_sentence(reference)] * times)


def answer(suite: Suite, prompt: Prompt, mode: str) -> str:
    """The answer a model in `mode` gives to this prompt."""
    lang = answer_lang(suite, prompt)
    match mode:
        case "reference":
            return prompt.reference
        case "off_topic":
            return OFF_TOPIC[lang]
        case "echo":
            return prompt.text()
        case "wrong_language":
            return _other_language_reference(suite, lang)
        case "loop":
            return _loop(prompt.reference)
        case "empty":
            return ""
        case "refusal":
            return REFUSAL[lang]
    raise ValueError(f"unknown answer mode {mode!r}")


def by_last_user_message(suites: list[Suite]) -> dict[str, tuple[Suite, Prompt]]:
    """The last user message each suite prompt sends -> its suite and prompt."""
    return {p.to_messages()[-1]["content"]: (s, p) for s in suites for p in s.prompts}
