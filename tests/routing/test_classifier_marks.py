"""The detector's marked features (`router.routing.classifier_marks`): a marker's shortcut (its
regex runs on an ASCII text only when one of its first words stands in it) gives the regex's
own answer, on every turn of the labelled conversations and on texts built to sit at the
edges of words; and the features those markers feed."""

from __future__ import annotations

import random

import pytest

from router.routing.classifier_features import turn_views
from router.routing.classifier_marks import (
    DEICTIC,
    EDIT,
    SWITCH,
    Marker,
    marked_features,
    whole_words,
)
from router.routing.classifier_turns import read_conversations
from tests import REPO

MARKERS = {"deictic": DEICTIC, "edit": EDIT, "switch": SWITCH}
SETS = ("dev_turns.jsonl", "heldout_turns.jsonl", "blind6_turns.jsonl")


def _edges(text: str) -> str:
    _, head, tail, _ = turn_views(text)
    return f"{head} {tail}"


def _found(marker: Marker, text: str) -> bool:
    return marker.found(text, whole_words(text))


def _labelled_texts() -> list[str]:
    texts = []
    for name in SETS:
        for conv in read_conversations(REPO / "benchmarks" / "classify" / name):
            texts += [t.user for t in conv.turns] + [t.answer for t in conv.turns]
    return texts


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_the_shortcut_gives_the_regex_answer_on_labelled_turns(name: str) -> None:
    marker = MARKERS[name]
    texts = [_edges(t) for t in _labelled_texts() if t.strip()]
    assert len(texts) > 2000
    answers = [(_found(marker, t), marker.regex.search(t) is not None) for t in texts]
    assert all(fast == slow for fast, slow in answers)
    assert {slow for _, slow in answers} == {True, False}  # both answers occur


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_the_shortcut_gives_the_regex_answer_at_word_edges(name: str) -> None:
    """Every first word and phrase word glued to letters, digits, `_`, `'`, `-`, spaces, kana,
    in random order: the places where a whole-word check could part from `\\b`."""
    marker = MARKERS[name]
    pieces = [*marker.firsts, "way", "the", "topic", "about", "note", "gears", "else", "subject"]
    pieces += ["x", "1", "_", "'", "-", " ", " ", ".", "it's", "あ", "これ", "\n", "?", "で"]
    rng = random.Random(name)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(4000)]
    answers = [(_found(marker, t), marker.regex.search(t) is not None) for t in texts]
    assert all(fast == slow for fast, slow in answers)
    assert sum(slow for _, slow in answers) > 50 and sum(not slow for _, slow in answers) > 50


@pytest.mark.parametrize(
    ("text", "before", "want"),
    [
        # language changed, deictic, edit, switch, points back, brief edit, new material
        ("make it shorter", "Summarize this article", [0, 1, 1, 0, 0, 1, 0]),
        ("もっと短くして", "Summarize this article", [1, 0, 1, 0, 0, 1, 0]),
        ("btw, unrelated question about my cat", "要約して", [1, 0, 0, 1, 0, 0, 0]),
        ("this one too: the meeting moved to Friday", "translate it", [0, 1, 1, 0, 1, 1, 1]),
        ("What is the capital of France", "Write a poem", [0, 0, 0, 0, 0, 0, 0]),
        ("ところで、別の質問です", "これを訳して", [0, 0, 1, 1, 0, 1, 0]),
    ],
)
def test_marked_features(text: str, before: str, want: list[int]) -> None:
    assert marked_features(text, _edges(text), before) == [float(x) for x in want]
