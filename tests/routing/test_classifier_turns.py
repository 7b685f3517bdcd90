"""The classifier in a conversation (`router.routing.classifier_turns`): a follow-up keeps the
task of the turn it follows, a switch gets its own; held-out accuracy on conversations."""

from __future__ import annotations

import collections
import importlib.util
from typing import Any

import msgspec
import numpy as np
import pytest

from router.routing import classifier
from router.routing.classifier import Classifier, read_examples
from router.routing.classifier_cache import load_default_classifier
from router.routing.classifier_turns import edge_grams, fit_follow, read_conversations
from router.wire import decode_chat, user_turns
from tests import REPO

DATA = REPO / "benchmarks" / "classify"
STORY_EN = "Write a short story about a lighthouse keeper who befriends a seal."
STORY_ANSWER_EN = "Every night Tomas lit the lamp, and every night the grey seal watched him."
MAIL_JA = "取引先に納品が2日遅れることを謝るメールを書いて"
MAIL_ANSWER_JA = "件名:納品遅延のお詫び\n\n株式会社○○ △△様\n\nいつもお世話になっております。"
TRANSLATE_EN = "Translate into French: Where is the train station?"
TRANSLATE_ANSWER_EN = "Où est la gare ?"
SUMMARY_JA = (
    "市の図書館は来月から耐震工事のため休館します。休館中は駅前の臨時窓口で予約本の受け取りと"
    "返却を受け付けます。\n\n三行で要約して"
)
SUMMARY_ANSWER_JA = "・来月から休館\n・駅前で受け取りと返却\n・工事後に新設備"
TRACE = (
    "Traceback (most recent call last):\n"
    '  File "app.py", line 12, in <module>\n'
    "    main()\n"
    "ZeroDivisionError: division by zero"
)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return load_default_classifier()


def chat(*turns: str) -> list[dict[str, Any]]:
    """Alternating user and assistant messages, starting and ending with the user."""
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": text} for i, text in enumerate(turns)]


FOLLOW_UPS = [
    # (conversation, the task it keeps, user turns back to where it was read)
    (chat(STORY_EN, STORY_ANSWER_EN, "continue it"), "story", 1),
    (chat(STORY_EN, STORY_ANSWER_EN, "make it funnier"), "story", 1),
    (chat(STORY_EN, STORY_ANSWER_EN, "shorter, 1 line"), "story", 1),
    (chat(STORY_EN, STORY_ANSWER_EN, "continue it", STORY_ANSWER_EN, "keep going"), "story", 2),
    (chat(TRANSLATE_EN, TRANSLATE_ANSWER_EN, "and in Spanish?"), "translate", 1),
    (chat(TRANSLATE_EN, TRANSLATE_ANSWER_EN, "and this one: I missed the bus."), "translate", 1),
    (chat(MAIL_JA, MAIL_ANSWER_JA, "もっと丁寧にして"), "business_mail", 1),
    (chat(MAIL_JA, MAIL_ANSWER_JA, "件名もつけて"), "business_mail", 1),
    (chat(SUMMARY_JA, SUMMARY_ANSWER_JA, "もっと短く"), "summarize", 1),
    (chat(SUMMARY_JA, SUMMARY_ANSWER_JA, "それ、一行で"), "summarize", 1),
    (chat(MAIL_JA, MAIL_ANSWER_JA, "もっと丁寧にして", MAIL_ANSWER_JA, "続き"), "business_mail", 2),
]

SWITCHES = [
    (chat(STORY_EN, STORY_ANSWER_EN, "now translate that into French"), "translate"),
    (chat(STORY_EN, STORY_ANSWER_EN, TRACE), "code"),
    (chat(STORY_EN, STORY_ANSWER_EN, "By the way, what's the capital of Australia?"), "qa"),
    (
        chat(TRANSLATE_EN, TRANSLATE_ANSWER_EN, "Write a Python function that reverses a string."),
        "code",
    ),
    (chat(MAIL_JA, MAIL_ANSWER_JA, "それを英語に翻訳して"), "translate"),
    (chat(MAIL_JA, MAIL_ANSWER_JA, "話は変わるけど、富士山の高さは?"), "qa"),
    (chat(SUMMARY_JA, SUMMARY_ANSWER_JA, "それを元に短い物語を書いて"), "story"),
    (chat(SUMMARY_JA, SUMMARY_ANSWER_JA, "これ直して\n" + TRACE), "code"),
]


@pytest.mark.parametrize(
    ("messages", "task", "back"),
    FOLLOW_UPS,
    ids=[f"{t}:{m[-1]['content'][:20]!r}" for m, t, _ in FOLLOW_UPS],
)
def test_a_follow_up_keeps_the_task(
    clf: Classifier, messages: list[dict[str, Any]], task: str, back: int
) -> None:
    alone = clf.classify(messages[-1:])
    got = clf.classify(messages)
    assert (got.task, got.follow_up, got.turns_back) == (task, True, back), (got, alone.task)


@pytest.mark.parametrize(
    ("messages", "task"), SWITCHES, ids=[f"{t}:{m[-1]['content'][:20]!r}" for m, t in SWITCHES]
)
def test_a_switch_gets_its_own_task(
    clf: Classifier, messages: list[dict[str, Any]], task: str
) -> None:
    got = clf.classify(messages)
    assert (got.task, got.follow_up, got.turns_back) == (task, False, 0), got


def test_a_first_turn_and_a_decoded_request(clf: Classifier) -> None:
    first = clf.classify(chat(STORY_EN))
    assert (first.task, first.follow_up, first.turns_back) == ("story", False, 0)
    body = {"model": "auto", "messages": chat(MAIL_JA, MAIL_ANSWER_JA, "もっと丁寧にして")}
    got = clf.classify(decode_chat(msgspec.json.encode(body)))
    assert (got.task, got.follow_up) == ("business_mail", True)


def test_without_a_detector_every_turn_stands_alone(clf: Classifier) -> None:
    alone = Classifier(clf.tasks, clf.weights, clf.bias, (), clf.threshold)
    got = alone.classify(chat(STORY_EN, STORY_ANSWER_EN, "now German"))
    assert not got.follow_up and got.task != "story"


def test_user_turns_reads_runs_and_answers() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "b1"},
        {"role": "user", "content": "b2"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "result"},
        {"role": "assistant", "content": "B"},
        {"role": "user", "content": "c"},
    ]
    assert user_turns(messages) == ("Be brief.", [("a", ""), ("b1\nb2", "A"), ("c", "B")])
    assert user_turns(messages, last=2) == ("Be brief.", [("b1\nb2", "A"), ("c", "B")])
    assert user_turns("hello") == ("", [("hello", "")])
    assert user_turns(None) == ("", [])


def multi_turn_accuracy(clf: Classifier, name: str = "heldout_turns.jsonl") -> dict[str, float]:
    hits: dict[str, list[bool]] = collections.defaultdict(list)
    for conv in read_conversations(DATA / name):
        for i, turn in enumerate(conv.turns[1:], start=1):
            ok = clf.classify(conv.messages(i)).task == turn.task
            hits[turn.kind].append(ok)
            hits[f"{turn.kind}:{conv.lang}"].append(ok)
    return {k: sum(v) / len(v) for k, v in hits.items()}


def test_spent_conversations_meet_the_targets(clf: Classifier) -> None:
    """v2 (`heldout_turns.jsonl`) is spent and now a training source, so this is a floor
    against regressions at the issue's targets, not a blind figure (blind sets not yet
    trained on give those: benchmarks/classify_bench.py --turns)."""
    acc = multi_turn_accuracy(clf)
    print(acc)
    assert acc["follow"] >= 0.92 and acc["switch"] >= 0.92
    assert min(acc["follow:ja"], acc["follow:en"], acc["switch:ja"], acc["switch:en"]) >= 0.92


def test_blind5_no_worse_than_measured(clf: Classifier) -> None:
    """blind5 (an author who saw no training phrasing) measured once blind: follow-ups 0.863,
    switches 0.961; spent since and now training (0.962 and 0.961 with it), so these floors
    only catch a regression; blind figures come from benchmarks/classify/loao.py (each
    author left out) and from the next blind set."""
    acc = multi_turn_accuracy(clf, "blind5_turns.jsonl")
    print(acc)
    assert acc["follow"] >= 0.85 and acc["switch"] >= 0.95
    assert min(acc["follow:ja"], acc["follow:en"]) >= 0.84
    assert min(acc["switch:ja"], acc["switch:en"]) >= 0.92


def test_blind6_meets_the_targets_as_measured_blind(clf: Classifier) -> None:
    """blind6 (the sixth author: saw no training phrasing nor earlier set; not in training)
    measured once blind: follow-ups 0.953 (ja 0.985, en 0.923), switches 0.958 (ja 0.967, en
    0.949). Floors at the issue's targets (0.92): a change that loses them on a set it was
    not tuned on fails here."""
    acc = multi_turn_accuracy(clf, "blind6_turns.jsonl")
    print(acc)
    assert acc["follow"] >= 0.94 and acc["switch"] >= 0.94
    assert min(acc["follow:ja"], acc["follow:en"], acc["switch:ja"], acc["switch:en"]) >= 0.92


def test_spent_blind_sets_are_training_without_heldout_texts() -> None:
    """v2-v5 (make_turns.SPENT) are in the training conversations, but no text of the
    single-turn held-out set (later blind sets open with it) is a training turn or system, and
    blind6 (still blind) is not a source."""
    train_dir = REPO / "router" / "data" / "classify"
    train = read_conversations(train_dir / "turns.jsonl")
    turns = {t.user.strip() for c in train for t in c.turns} | {c.system for c in train}
    for name in ("heldout_turns.jsonl", *(f"blind{n}_turns.jsonl" for n in (3, 4, 5))):
        later = {t.user.strip() for c in read_conversations(DATA / name) for t in c.turns[1:]}
        assert len(later & turns) >= 0.4 * len(later), name  # (v3's switches: mostly held)
    held = {ex.text.strip() for ex in read_examples(DATA / "heldout.jsonl")}
    held |= {ex.system for ex in read_examples(DATA / "heldout.jsonl") if ex.system}
    assert not held & turns
    authors = collections.Counter(c.author for c in train)  # what fitting weighs more
    assert set(authors) == {"", "heldout", "blind3", "blind4", "blind5"}, authors
    blind = {
        t.user.strip() for c in read_conversations(DATA / "blind6_turns.jsonl") for t in c.turns
    }
    assert len(blind & turns) <= 0.06 * len(blind)  # blind6 apart: common words only ("shorter")
    assert min(authors.values()) >= 200 and authors[""] >= 4000, authors


def test_a_weighted_turn_counts_as_that_many_copies() -> None:
    """The detector's fitting weighs a turn (`AUTHORED` for a hand-written set's) as if it
    were there that many times: the same weights, bias and n-gram ratios."""
    texts = ["shorter", "now translate it", "and this one: hi", "btw what is DNS?", "again"]
    texts += ["make it funnier", "summarize that", "continue", "new topic: a poem", "less formal"]
    labels = [1, 0, 1, 0, 1, 1, 0, 1, 0, 1]
    feats = [[len(t) / 10, float(" " in t), i % 3 / 2] for i, t in enumerate(texts)]
    grams = [edge_grams(t) for t in texts]
    weights = [1.0, 3.0, 1.0, 2.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0]
    weighted = fit_follow(feats, grams, labels, texts, weights)
    copies = [i for i, w in enumerate(weights) for _ in range(int(w))]
    repeated = fit_follow(*([col[i] for i in copies] for col in (feats, grams, labels, texts)))
    plain = fit_follow(feats, grams, labels, texts)
    assert np.allclose(weighted.weights, repeated.weights, atol=1e-4)
    assert weighted.bias == pytest.approx(repeated.bias, abs=1e-4)
    assert np.allclose(weighted.grams, repeated.grams, atol=1e-5)
    assert not np.allclose(weighted.weights, plain.weights, atol=1e-3)


def generator(n: int) -> Any:
    """benchmarks/classify/blind{n}_turns.py: the n-th blind set's generator (each by an author
    who saw no training phrasing; benchmarks/ is not a package)."""
    name = f"blind{n}_turns"
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_blind3_is_written_by_its_generator() -> None:
    """blind3 (spent, now training): 40+ follow-up and 25+ switch phrasings a language; the
    file is what the generator writes."""
    module = generator(3)
    for lang in ("ja", "en"):
        phrases = module.phrasings(lang)
        assert len(set(phrases["follow"])) >= 40 and len(set(phrases["switch"])) >= 25, lang
    written = [msgspec.json.decode(line) for line in module.OUT.read_bytes().splitlines()]
    assert written == module.build()


def test_blind3_labels_are_consistent() -> None:
    """A blind3 follow-up keeps the task it follows; a switch changes it; 150+ of each kind a
    language, follow-ups 0.5-0.7 of the later turns."""
    kinds: collections.Counter[tuple[str, str]] = collections.Counter()
    for conv in read_conversations(DATA / "blind3_turns.jsonl"):
        assert 2 <= len(conv.turns) <= 6 and conv.turns[0].kind == "first"
        for before, turn in zip(conv.turns, conv.turns[1:], strict=False):
            assert before.answer and turn.task in classifier.TASKS, turn
            assert (turn.task == before.task) == (turn.kind == "follow"), turn
            kinds[(conv.lang, turn.kind)] += 1
    for lang in ("ja", "en"):
        follow, switch = kinds[(lang, "follow")], kinds[(lang, "switch")]
        assert min(follow, switch) >= 150 and 0.5 <= follow / (follow + switch) <= 0.7, lang


def test_blind4_is_written_by_its_generator() -> None:
    """blind4 (spent, now training): 50+ follow-up and 30+ switch phrasings a language; the
    file is what the generator writes."""
    module = generator(4)
    for lang in ("ja", "en"):
        phrases = module.phrasings(lang)
        assert len(set(phrases["follow"])) >= 50 and len(set(phrases["switch"])) >= 30, lang
    written = [msgspec.json.decode(line) for line in module.OUT.read_bytes().splitlines()]
    assert written == module.build()


@pytest.mark.parametrize("n", [4, 5])
def test_blind_labels_are_consistent(n: int) -> None:
    """A blind4/blind5 follow-up has the task (and source turn) of the turn before; a switch another
    task, read from itself; 150+ conversations and 150+ switches a language, every task opened,
    follow-ups 0.5-0.7 of the later turns."""
    kinds: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in generator(n).OUT.read_bytes().splitlines():
        conv = msgspec.json.decode(line)
        turns, lang = conv["turns"], conv["lang"]
        assert 2 <= len(turns) <= 6 and turns[0]["kind"] == "first" and turns[0]["from"] == 1
        kinds[(lang, "conv")] += 1
        kinds[(lang, turns[0]["task"])] += 1
        for i, turn in enumerate(turns[1:], 2):
            before = turns[i - 2]
            assert before["answer"] and turn["task"] in classifier.TASKS, turn
            assert turn["kind"] in ("follow", "switch"), turn
            assert (turn["task"] == before["task"]) == (turn["kind"] == "follow"), turn
            assert turn["from"] == (before["from"] if turn["kind"] == "follow" else i), turn
            kinds[(lang, turn["kind"])] += 1
        assert "answer" not in turns[-1]
    for lang in ("ja", "en"):
        follow, switch = kinds[(lang, "follow")], kinds[(lang, "switch")]
        assert kinds[(lang, "conv")] >= 150 and switch >= 150, lang
        assert 0.5 <= follow / (follow + switch) <= 0.7, lang
        assert all(kinds[(lang, task)] >= 10 for task in classifier.TASKS), lang


def test_blind5_is_written_by_its_generator() -> None:
    """blind5 (spent, now training: make_turns.SPENT): 60+ follow-up and 35+ switch
    phrasings a language; the file is what the generator writes."""
    module = generator(5)
    for lang in ("ja", "en"):
        phrases = module.phrasings(lang)
        assert len(set(phrases["follow"])) >= 60 and len(set(phrases["switch"])) >= 35, lang
    written = [msgspec.json.decode(line) for line in module.OUT.read_bytes().splitlines()]
    assert written == module.build()


def test_the_memo_of_recent_turns_changes_no_answer(
    clf: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chat client re-sends earlier turns: remembered ones give what fresh ones give, and
    the memo stays bounded."""
    convo = chat(STORY_EN, STORY_ANSWER_EN, "continue it", STORY_ANSWER_EN, "now German")
    requests = [convo[:k] for k in (1, 3, 5)]
    cold = []
    for req in requests:
        clf.forget()
        cold.append(clf.classify(req))
    warm = [clf.classify(req) for req in requests]
    assert warm == cold and [c.task for c in warm[:2]] == ["story", "story"]
    monkeypatch.setattr(classifier, "MEMO", 2)
    clf.forget()
    for i in range(5):
        clf.classify(chat(f"Translate into French: item {i}"))
    assert len(clf._memo) <= 2


def test_a_growing_conversation_reads_only_its_new_turn(
    clf: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request decoded afresh (new strings, as the server sees them), a long paste
    among the turns: the earlier turns and the system prompt come from the memo, only the
    new turn is featurised, and the answers are those of a cold classifier."""
    paste = "ローカルLLMの比較記事。" * 400 + "\n\n三行で要約して"
    convo = [
        {"role": "system", "content": "You are a helpful assistant."},
        *chat(paste, SUMMARY_ANSWER_JA, "もっと短く", SUMMARY_ANSWER_JA, "英語で"),
    ]
    read: list[tuple[bool, int]] = []
    real = classifier.view_sums

    def counting(sys_view: str | None, turns: Any, *args: Any) -> Any:
        read.append((sys_view is not None, len(turns)))
        return real(sys_view, turns, *args)

    clf.forget()
    cold = []
    for k in (2, 4, 6):
        clf.forget()
        cold.append(
            clf.classify(decode_chat(msgspec.json.encode({"model": "m", "messages": convo[:k]})))
        )
    clf.forget()
    monkeypatch.setattr(classifier, "view_sums", counting)
    warm = [
        clf.classify(decode_chat(msgspec.json.encode({"model": "m", "messages": convo[:k]})))
        for k in (2, 4, 6)
    ]
    assert read == [(True, 1), (False, 1), (False, 1)]
    assert warm == cold and warm[1].follow_up and warm[1].task == cold[0].task
