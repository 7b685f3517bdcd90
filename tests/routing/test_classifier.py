"""The task classifier (`router.routing.classifier`): held-out accuracy, implicit requests, long
pastes,
content-part lists, odd input, and tasks users add from examples."""

from __future__ import annotations

import collections
from typing import Any

import msgspec
import pytest

from router.paths import CLASSIFIER_TRAINING
from router.routing.classifier import (
    Classification,
    Classifier,
    Example,
    read_examples,
)
from router.routing.classifier_cache import load_default_classifier
from router.tasks import TASKS
from tests import REPO

DATA = REPO / "benchmarks" / "classify"

ARTICLE_JA = (
    "市の図書館は来月から耐震工事のため休館します。休館中は駅前の臨時窓口で予約本の受け取りと返却を"
    "受け付けます。工事のあとは学習スペースとカフェが新しくできる予定です。"
)
ARTICLE_EN = (
    "The city council voted to turn two downtown parking garages into affordable housing. "
    "Construction starts next spring and should take eighteen months; shop owners worry about "
    "losing parking during the holidays. "
)
TRACE = (
    "Traceback (most recent call last):\n"
    '  File "app.py", line 12, in <module>\n'
    "    main()\n"
    "ZeroDivisionError: division by zero"
)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return load_default_classifier()


def user(text: Any, system: str | None = None) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": text}]


def as_messages(ex: Example) -> list[dict[str, Any]]:
    return user(ex.text, ex.system or None)


def test_heldout_accuracy(clf: Classifier) -> None:
    examples = read_examples(DATA / "heldout.jsonl")
    assert len(examples) >= 300
    hits: dict[str, list[bool]] = collections.defaultdict(list)
    for ex in examples:
        ok = clf.classify(as_messages(ex)).task == ex.task
        for key in ("overall", f"lang:{ex.lang}", f"task:{ex.task}"):
            hits[key].append(ok)
    acc = {k: sum(v) / len(v) for k, v in hits.items()}
    for k in sorted(acc):
        print(f"{k:<22} {acc[k]:6.1%}  (n={len(hits[k])})")
    assert acc["overall"] >= 0.90
    assert acc["lang:ja"] >= 0.85
    assert acc["lang:en"] >= 0.85


def test_heldout_is_apart_from_training() -> None:
    train = {ex.text for ex in read_examples(CLASSIFIER_TRAINING)}
    held = read_examples(DATA / "heldout.jsonl")
    assert not train & {ex.text for ex in held}
    counts = collections.Counter((ex.task, ex.lang) for ex in held)
    assert set(counts) == {(t, lang) for t in TASKS for lang in ("ja", "en")}
    assert min(counts.values()) >= 0.8 * max(counts.values())  # balanced


IMPLICIT = [
    # (user text, expected task)
    (ARTICLE_EN + "\n\ntl;dr", "summarize"),
    ("tl;dr\n\n" + ARTICLE_EN, "summarize"),
    (ARTICLE_JA + "\n\n三行で", "summarize"),
    (ARTICLE_JA + "\n要約して", "summarize"),
    ("光合成を小学生にもわかるように説明して", "explain_simple"),
    (ARTICLE_JA + "\n\n小学生にもわかるように", "explain_simple"),
    ("ELI5: how does a vaccine work?", "explain_simple"),
    ("explain inflation like I'm five", "explain_simple"),
    ("「今日は疲れたので早く寝ます」をギャル語で", "style_rewrite"),
    ("明日の会議は10時からです\nギャル語で", "style_rewrite"),
    ("make this sound more formal: gonna be late, sorry", "style_rewrite"),
    ("Where is the train station?\n\nin French", "translate"),
    ("明日の会議は10時からです。英訳して", "translate"),
    (ARTICLE_JA + "\n\n英訳して", "translate"),
    ("How do you say 'thank you very much' in Japanese?", "translate"),
    (TRACE, "code"),
    ("これ直して\n" + TRACE, "code"),
    ("```python\nprint(1/0)\n```\nなんかエラーになる", "code"),
    ("Write a Python function that reverses a string.", "code"),
    ("明日の打ち合わせを16時に変更したい。取引先向けのメールにして", "business_mail"),
    ("Write a polite email to a client about a delayed shipment.", "business_mail"),
    ("猫が宇宙飛行士になる短い物語を書いて", "story"),
    ("Write a bedtime story about a dragon who bakes bread.", "story"),
    ("富士山の高さは?", "qa"),
    ("What's the capital of Australia?", "qa"),
]


@pytest.mark.parametrize(("text", "task"), IMPLICIT, ids=[f"{t}:{x[:24]!r}" for x, t in IMPLICIT])
def test_implicit_requests(clf: Classifier, text: str, task: str) -> None:
    got = clf.classify(user(text))
    assert got.task == task, got


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ((ARTICLE_JA * 200)[:20000] + "\n\n三行で", "summarize"),
        ((ARTICLE_EN * 100)[:20000] + "\n\ntl;dr", "summarize"),
        ("Summarize this article:\n\n" + (ARTICLE_EN * 100)[:20000], "summarize"),
        ((ARTICLE_JA * 200)[:20000] + "\n\nこれを英語に翻訳して", "translate"),
        (TRACE + "\n" + "    at frame\n" * 2000, "code"),
    ],
    ids=["ja-20k-三行で", "en-20k-tldr", "en-head-instruction", "ja-20k-英訳", "long-trace"],
)
def test_long_pasted_text(clf: Classifier, text: str, task: str) -> None:
    assert len(text) > 15000
    assert clf.classify(user(text)).task == task


def test_content_part_lists(clf: Classifier) -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "text", "text": ARTICLE_EN},
        {"type": "text", "text": "tl;dr"},
    ]
    assert clf.classify(user(parts)).task == "summarize"
    system_parts = [{"type": "text", "text": "You are a translator. Translate into French."}]
    system = {"role": "system", "content": system_parts}
    assert clf.classify([system, *user("Where is the station?")]).task == "translate"
    assert clf.classify(user([{"type": "image_url", "image_url": {"url": "x"}}])).rule == (
        "no_user_text"
    )


def test_trailing_user_turns_and_history(clf: Classifier) -> None:
    history = [
        {"role": "user", "content": "富士山の高さは?"},
        {"role": "assistant", "content": "3776メートルです。"},
        {"role": "user", "content": ARTICLE_JA},
        {"role": "user", "content": "三行で"},
    ]
    assert clf.classify(history).task == "summarize"  # the two trailing user turns together
    assert clf.classify(history[:2]).task == "qa"  # a trailing assistant turn: last user turn


@pytest.mark.parametrize(
    "messages",
    [
        [],
        None,
        "",
        42,
        {"role": "user"},
        [{"role": "assistant", "content": "hello"}],
        [{"role": "system", "content": "You are a helpful assistant."}],
        [{"role": "user", "content": None}],
        [{"role": "user", "content": "   \n  "}],
        [{"role": "user", "content": [{"type": "text", "text": None}]}],
        [{"role": "user"}, None, 3, "x"],
    ],
)
def test_odd_input_is_qa_never_an_error(clf: Classifier, messages: Any) -> None:
    got = clf.classify(messages)
    assert got.task == "qa"
    assert got.confidence == 0.0
    assert set(got.scores) == set(clf.tasks)


def test_odd_but_present_text_still_classifies(clf: Classifier) -> None:
    for text in ("?", "🙂", "a" * 50000, "\x00\x01", "ｔｌ；ｄｒ", "¿", "\u200b" * 10):
        got = clf.classify(user(text))
        assert got.task in clf.tasks
        assert 0.0 <= got.confidence <= 1.0
    assert clf.classify("What's the capital of France?").task == "qa"  # a bare string


def test_classification_shape(clf: Classifier) -> None:
    got = clf.classify(user("Explain black holes like I'm five."))
    assert isinstance(got, Classification)
    assert list(got.scores) == list(clf.tasks)
    assert abs(sum(got.scores.values()) - 1.0) < 1e-6
    assert got.confidence == max(got.scores.values())
    assert got.rule is None
    decoded = msgspec.json.decode(msgspec.json.encode(got), type=Classification)
    assert decoded == got
    assert clf.classify(user(TRACE)).rule == "stack_trace"


def test_low_confidence_falls_back_to_qa() -> None:
    base = load_default_classifier()
    strict = Classifier(base.tasks, base.weights, base.bias, base.examples, threshold=0.999)
    got = strict.classify(user("hmm, something about words and things"))
    assert got.task == "qa"
    assert got.rule == "low_confidence"
    assert got.confidence < 0.999


RECIPES = [
    "肉じゃがのレシピを教えて",
    "give me a recipe for chicken curry",
    "カレーの作り方、材料と手順を教えて",
    "recipe for banana bread please",
    "簡単なパスタのレシピある?材料と分量も",
    "How do I make pancakes? ingredients and steps",
    "ハンバーグの作り方を手順付きで",
    "a recipe for miso soup with tofu",
]


def test_user_added_task_from_examples(clf: Classifier) -> None:
    custom = clf.train(extra_tasks={"recipe": RECIPES})
    assert "recipe" in custom.tasks and custom is not clf
    for text in ("餃子のレシピを教えて", "Can you give me a recipe for lasagna with the steps?"):
        assert custom.classify(user(text)).task == "recipe", text
    assert custom.classify(user(ARTICLE_JA + "\n\n三行で")).task == "summarize"
    assert "recipe" not in clf.tasks  # the original is unchanged
    three = clf.train(extra_tasks={"recipe": RECIPES[:3]})  # the fewest config accepts
    assert three.classify(user("餃子のレシピを教えて")).task == "recipe"
    assert three.classify(user("富士山の高さは?")).task == "qa"


def test_from_examples_pairs_and_new_tasks() -> None:
    pairs = [
        ("SELECT * FROM users WHERE id = 1 をもっと速く", "sql"),
        ("write a SQL query that counts orders per day", "sql"),
        ("SQLでテーブルを結合したい", "sql"),
        ("富士山の高さは?", "qa"),
        ("What is the capital of Japan?", "qa"),
        ("おすすめの映画は?", "qa"),
    ]
    clf = Classifier.from_examples(pairs)
    assert clf.tasks == ("qa", "sql")
    assert clf.classify(user("a SQL query for the top 10 customers")).task == "sql"
    more = clf.train([("translate this into French", "translate")])
    assert more.tasks == ("translate", "qa", "sql")
    with pytest.raises(ValueError):
        Classifier.from_examples([])
