"""The follow-up detector's verdict read in stages (`router.routing.classifier_verdict`): the
same verdict as scoring the whole `dense` row, on real turns against every task they could
inherit, under the shipped weights and under random ones; and the classifier's answers on
growing conversations the same as with the whole row scored every time."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from router.routing import classifier, classifier_verdict
from router.routing.classifier import Classifier
from router.routing.classifier_cache import load_default_classifier
from router.routing.classifier_turns import (
    FEATURES,
    FollowModel,
    dense,
    is_follow_up,
    read_conversations,
)
from router.routing.classifier_verdict import follows, staged
from tests import REPO

TURNS = REPO / "benchmarks" / "classify" / "dev_turns.jsonl"  # a development set, not blind


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return load_default_classifier()


@pytest.fixture(scope="module")
def rows(clf: Classifier) -> list[tuple[Any, ...]]:
    """(gram, text, edges, probs, own, rule, before, answer) of every later turn of the set."""
    out = []
    for conv in read_conversations(TURNS)[:200]:
        seen = clf._seen(conv.system, [t.user for t in conv.turns])
        for i in range(1, len(conv.turns)):
            at, turn = seen[i], conv.turns[i]
            edges = f"{at.views[1]} {at.views[2]}"
            before, answer = conv.turns[i - 1].user, conv.turns[i - 1].answer
            out.append((at.gram, turn.user, edges, at.probs, at.task, at.rule, before, answer))
    return out


def _both(clf: Classifier, model: FollowModel, row: tuple[Any, ...]) -> list[tuple[bool, bool]]:
    """(staged verdict, whole-row verdict) against each task the turn could inherit."""
    gram, text, edges, probs, own, rule, before, answer = row
    st, weights = staged(model), model.weights.tolist()
    pairs = []
    for inherited, task in enumerate(clf.tasks):
        context = (probs, own, inherited, rule is not None and task != "code", before, answer)
        whole = is_follow_up(weights, model.bias, dense(text, edges, *context, task), gram)
        pairs.append((follows(st, gram, text, edges, *context, task), whole))
    return pairs


def test_the_staged_verdict_is_the_whole_rows(clf: Classifier, rows: list) -> None:
    assert clf.follow is not None and len(rows) > 300
    pairs = [p for row in rows for p in _both(clf, clf.follow, row)]
    assert all(fast == whole for fast, whole in pairs)
    assert {whole for _, whole in pairs} == {True, False}


def test_under_random_weights_every_stage_decides_alike(
    clf: Classifier, rows: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights of any sign and of several sizes by stage: verdicts decided after the first
    stage, after the second, and by the whole row all occur, and all agree."""
    reached: list[int] = []
    real_marked = classifier_verdict.marked_features
    real_worded = classifier_verdict.worded_features

    def marked(*args: Any) -> list[float]:
        reached.append(2)
        return real_marked(*args)

    def worded(*args: Any) -> list[float]:
        reached.append(3)
        return real_worded(*args)

    monkeypatch.setattr(classifier_verdict, "marked_features", marked)
    monkeypatch.setattr(classifier_verdict, "worded_features", worded)
    assert clf.follow is not None
    later = [FEATURES.index(f) for f in (*classifier_verdict._MARKED, *classifier_verdict._WORDED)]
    calls = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        weights = rng.standard_normal(len(FEATURES) + 1) * 2.0
        weights[later] *= rng.choice([0.02, 0.1, 0.5, 1.0])
        model = FollowModel(weights.astype(np.float32), rng.normal(0.0, 2.0), clf.follow.grams)
        pairs = [p for row in random.Random(seed).sample(rows, 60) for p in _both(clf, model, row)]
        assert all(fast == whole for fast, whole in pairs)
        calls += len(pairs)
    assert 0 < reached.count(3) < reached.count(2) < calls


def test_conversations_get_the_answers_the_whole_row_gives(
    clf: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each conversation request by request from its first turn (earlier turns remembered,
    as a chat client's re-sent turns are): every answer equal to a classifier's that scores
    the whole `dense` row for every verdict."""
    convs = read_conversations(TURNS)[200:320]
    requests = [(i == 0, c.messages(i)) for c in convs for i in range(len(c.turns))]

    def answers() -> list[classifier.Classification]:
        out = []
        for first, messages in requests:
            if first:
                clf.forget()
            out.append(clf.classify(messages))
        return out

    fast = answers()

    def whole(st: Any, gram: float, text: str, edges: str, *context: Any) -> bool:
        return is_follow_up(st.weights, st.bias, dense(text, edges, *context), gram)

    monkeypatch.setattr(classifier, "follows", whole)
    assert answers() == fast
    assert sum(a.follow_up for a in fast) > 50 and sum(not a.follow_up for a in fast) > 50
    clf.forget()
