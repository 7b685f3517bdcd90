"""The per-task evidence graders (`router.grading.task_graders`), the refusal gate and the copy
measure
(`router.grading.textscan`), each on answers whose verdict is known."""

from __future__ import annotations

import pytest

from router.grading import graders as g
from router.grading.task_graders import (
    Chrf,
    Narrative,
    Novelty,
    Simple,
    check_chrf,
    check_narrative,
    check_novelty,
    check_simple,
)
from router.grading.textscan import copied_share, refusal
from router.grading.verdict import Context, ramp_down, ramp_up

SOURCE = (
    "Brightway is recalling its K-200 kettle sold between January and June. The lid latch can "
    "loosen, so the lid may open while pouring and cause burns. Customers should stop using "
    "it and may choose a refund or a free replacement."
)
PROMPT = "Summarize this notice in two sentences.\n\n" + SOURCE
EN = Context(lang="en", prompt=PROMPT, source=SOURCE)


def test_ramps() -> None:
    assert [ramp_down(x, 0.5, 0.8) for x in (0.2, 0.5, 0.65, 0.8, 1.0)] == pytest.approx(
        [1, 1, 0.5, 0, 0]
    )
    assert [ramp_up(x, 10, 30) for x in (0, 10, 20, 30, 100)] == pytest.approx([0, 0, 0.5, 1, 1])


@pytest.mark.parametrize(
    ("text", "original", "share"),
    [
        ("a b c d e", "a b c d e", 1.0),
        ("A, B; c d e!", "a b c d e", 1.0),  # case and punctuation do not hide a copy
        ("a b c d x", "a b c d e", 0.5),  # 2 word 4-grams, one copied
        ("いつもお世話に", "いつもお世話に", 1.0),  # Japanese: character 4-grams
        ("全く別の文章です", "いつもお世話に", 0.0),
        ("abc", "abc", 0.0),  # too short to have a 4-gram
    ],
)
def test_copied_share(text: str, original: str, share: float) -> None:
    assert copied_share(text, original) == pytest.approx(share)


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        (
            "Brightway recalls K-200 kettles with a faulty latch; stop using yours and get a "
            "refund or a new kettle.",
            True,
        ),
        (SOURCE, False),  # the source pasted through
        (PROMPT, False),  # the prompt echoed back
        ("Note. " + SOURCE + " That is all.", False),
    ],
)
def test_novelty(answer: str, passed: bool) -> None:
    v = check_novelty(answer, Novelty(), EN)
    assert v.passed is passed
    assert v.kind == ("" if passed else "copied")
    assert (v.score == 1.0) is passed and (passed or v.score <= 0.25)


def test_novelty_on_a_beginning_judges_the_copy_not_the_coverage() -> None:
    beginning = " ".join(PROMPT.split()[:30])  # an echo cut short covers little of the source
    assert not check_novelty(beginning, Novelty(), EN).passed
    own = "Brightway is recalling a kettle: its lid can open while"
    prefix = Context(lang="en", prompt=PROMPT, source=SOURCE, prefix=True)
    assert check_novelty(own, Novelty(), prefix).passed


def test_chrf_against_the_reference_and_its_beginning() -> None:
    ref = "Today we are open only until 6 p.m. We appreciate our customers' attention to this."
    ctx = Context(lang="en", reference=ref)
    assert check_chrf(ref, Chrf(), ctx).score == 1.0
    free = check_chrf("We close at 6 p.m. today. Please note this when you visit.", Chrf(), ctx)
    turtles = check_chrf("Sea turtles lay their eggs in warm sand.", Chrf(), ctx)
    assert 0.0 < free.score < 1.0 and free.kind == "far_from_reference"
    assert turtles.score < free.score
    assert check_chrf("anything", Chrf(), Context(lang="en")).passed  # no reference: not judged
    cut = Context(lang="en", reference=ref, prefix=True)
    assert check_chrf("Today we are open only", Chrf(), cut).score == 1.0


@pytest.mark.parametrize(
    ("answer", "lang", "passed"),
    [
        ("空は青いよ。光がちらばるからなんだ。", "ja", True),
        (
            "大気中窒素分子及酸素分子等微粒子散乱現象発生時短波長光優先的散乱。",
            "ja",
            False,
        ),  # kanji
        ("Light bounces off air. Blue bounces most. So the sky looks blue.", "en", True),
        (
            "The phenomenon commonly described as Rayleigh scattering preferentially redirects "
            "electromagnetic radiation of shorter wavelengths throughout the atmospheric column, "
            "consequently producing the characteristic coloration.",
            "en",
            False,
        ),
    ],
)
def test_simple_words(answer: str, lang: str, passed: bool) -> None:
    v = check_simple(answer, Simple(), Context(lang=lang))
    assert v.passed is passed
    assert v.kind == ("" if passed else "not_simple")


def test_narrative_needs_sentences_told_in_the_past() -> None:
    story = " ".join(f"She walked to the sea on day {i}." for i in range(9))
    assert check_narrative(story, Narrative(), Context(lang="en")).passed
    facts = "Turtles live long. They lay eggs in sand. Hatchlings walk to the sea."
    v = check_narrative(facts, Narrative(), Context(lang="en"))
    assert v.kind == "not_a_story" and v.score == 0.0  # present tense
    ja = "雨がふっていた。猫がないた。ロボットが近づいた。" * 3
    assert check_narrative(ja, Narrative(), Context(lang="ja")).passed
    assert not check_narrative(ja[:24], Narrative(), Context(lang="ja")).passed  # too short
    assert check_narrative(ja[:24], Narrative(), Context(lang="ja", prefix=True)).passed


@pytest.mark.parametrize(
    ("answer", "refused"),
    [
        ("I'm sorry, but I can't help with that request.", True),
        ("Sorry, I cannot assist with this.", True),
        ("I can't write that story.", True),
        ("As an AI language model, I cannot browse the web.", True),
        ("申し訳ありませんが、そのご依頼にはお応えできません。", True),
        ("申し訳ございませんが、お手伝いできかねます。", True),
        # apologies that belong to the answer itself
        ("I'm sorry, but I can't make it to the meeting tomorrow.", False),
        ("Dear Ms. Tanaka,\nI am sorry, but I cannot attend.", False),
        ("申し訳ございませんが、明日は参加できません。", False),
        ("異議はお受けできかねますので、あらかじめご了承ください。", False),
    ],
)
def test_refusal(answer: str, refused: bool) -> None:
    assert bool(refusal(answer)) is refused


def test_refusal_is_a_gate_in_grade() -> None:
    result = g.grade("I'm sorry, but I can't help with that.", [g.Language()], "Hi?", lang="en")
    assert result.failures == ["refusal"] and result.quality == 0.0


def test_a_beginning_is_judged_on_what_it_can_show() -> None:
    specs: list[g.GraderSpec] = [
        g.Facts(required=[["k-200"], ["refund"], ["latch"]]),
        g.Length(min_chars=200),
        g.Json(keys={"a": "int"}),
    ]
    beginning = "Brightway is recalling its K-200"
    whole = g.grade(beginning, specs, PROMPT, lang="en")
    cut = g.grade(beginning, specs, PROMPT, lang="en", prefix=True)
    assert whole.quality == 0.0 and {"missing_fact", "too_short"} <= set(whole.failures)
    assert cut.quality == 1.0 and cut.passed
    assert g.grade("Sea turtles are", specs, PROMPT, lang="en", prefix=True).quality == 0.0
