"""Follow-ups: whether a user turn keeps the task of the turn before it, or asks for a new one.

Apart from `router.routing.classifier` because it is a second, small model on top of the
single-turn one: chat clients send the whole conversation every turn, and most later turns
("shorter, 1 line", 「もっと丁寧にして」, "continue it", "and this one: ...") say nothing of the
task on their own. A turn judged a follow-up inherits the task of the turn it follows
(recursively, of the conversation's last turn that was not one); any other turn is classified on
its own words ("now translate that", 「話は変わるけど」, a pasted stack trace after a story).

The detector reads the turn and its context as a few features: how the single-turn classifier
sees the turn (its probability for the inherited task, its confidence, whether it agrees, a
sure rule firing on something that was not code), the turn's length and shape, whether its
language differs from the turn before, the assistant's answer before it (length, a code
fence), and small word lists (deictic words, edit and continuation verbs, topic-change
markers, words naming another task's work: "translate", 「要約」); leaning toward a
follow-up; plus a score from the turn's edge n-grams (naive Bayes log-count ratios, fitted out
of fold so that the logistic regression on top does not over-trust it). Trained from
conversations (`router/data/classify/turns.jsonl`, written by
`benchmarks/classify/make_turns.py`). Pure; bounded work: `WINDOW` user turns at most, each
through the single-turn classifier's bounded views. A change here changes the trained weights:
the classifier cache's key hashes this file.
"""

from __future__ import annotations

import math
import operator
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec
import numpy as np

from router.routing.classifier_features import BUCKETS, featurize, turn_views
from router.routing.classifier_marks import marked_features

WINDOW = 8  # user turns read: the last one and up to seven before it (a follow-up whose
# source turn lies further back is classified on the window's oldest turn: 4 lost 0.4-1
# point of follow-ups)
ANSWER_CAP = 2000  # characters of the answer before a turn searched for a code fence
WORDS_CAP = 400  # characters of a turn, the turn before and the answer compared for words
NB_ALPHA = 0.5  # smoothing of the n-gram log-count ratios
L2 = 1e-3  # the logistic regression's ridge
STEPS = 400  # its gradient steps (full batch, Adam)
FOLLOW_LEAN = 0.6  # added to the fitted bias: a turn keeps its task unless it clearly asks
# for something else (a phrasing never seen reads as less sure either way)
AUTHORED = 4.0  # the weight in fitting of a turn from a conversation with an `author` (the
# spent blind sets, each written by hand by someone who saw no training phrasing) beside
# one of make_turns' own. Both chosen by leave-one-author-out (benchmarks/classify/loao.py)
# over the blind authors v2-v5: weight 1 and lean 0.5 gave follow-ups 0.935 and switches
# 0.959 (means); weight 1, lean 0.8: 0.951 and 0.949; weight 4, lean 0.6: 0.964 and 0.953,
# no author's switches under 0.93 (weight 3 or 6 alike; lean 0.8-1.0 costs switches)

_WORD = re.compile(r"[a-z]{4,}|[\u30a0-\u30ff\u3400-\u9fff]{2,}")
_LATIN_WORD = re.compile(r"[a-z]{4,}")  # the same on ASCII text, faster
_LANGS = (
    "english japanese french german spanish italian chinese korean thai vietnamese"
    " portuguese russian arabic hindi dutch"
)
_LANGS_JA = "英 仏 独 中国 韓国 タイ スペイン イタリア ドイツ フランス ベトナム"
_LANGS_JA += " ポルトガル ロシア 日本"
_VERBS = {  # words naming a task's work (English words; Japanese, found within the turn)
    "summarize": (
        "summarize summarise summary summarized summarised tldr tl;dr",
        "要約 まとめ 要点 サマリ",
    ),
    "business_mail": ("email emails mail e-mail", "メール 文面"),
    "story": ("story stories tale tales poem poems fable", "物語 お話 童話 小説 詩を ストーリー"),
    "explain_simple": ("explain explained explanation eli5", "説明 子供に 子供向け 小学生"),
    "translate": (
        "translate translated translation",
        " ".join(f"{lang}語{p}" for lang in _LANGS_JA.split() for p in "でに") + " 訳",
    ),
    "code": ("code function script python javascript sql", "コード 関数 スクリプト プログラム"),
}
_VERB_WORDS = {w: t for t, (en, _) in _VERBS.items() for w in en.split()}
_LANG_WORDS = frozenset(_LANGS.split())
_JA_TASK = {w: t for t, (_, ja) in _VERBS.items() for w in ja.split()}
_VERB_JA = re.compile("|".join(sorted(_JA_TASK, key=len, reverse=True)))
_LATIN_TOKEN = re.compile(r"[a-z0-9;-]+")


class LabelledTurn(msgspec.Struct, frozen=True):
    """One user turn of a labelled conversation: its text, its true task, how it relates to the
    turn before (`first`, `follow`, `switch`) and the assistant's answer after it."""

    user: str
    task: str
    kind: str = "first"
    answer: str = ""


class Conversation(msgspec.Struct, frozen=True):
    """A labelled conversation; `author` names the blind set it came from (its phrasings
    written by hand apart from the training ones), empty for make_turns' own."""

    turns: list[LabelledTurn]
    lang: str = ""
    system: str = ""
    author: str = ""

    def messages(self, upto: int) -> list[dict[str, str]]:
        """The chat request whose last user turn is `turns[upto]`."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns[:upto]:
            out += (
                {"role": "user", "content": turn.user},
                {"role": "assistant", "content": turn.answer},
            )
        return [*out, {"role": "user", "content": self.turns[upto].user}]


def read_conversations(path: str | os.PathLike[str]) -> list[Conversation]:
    decode = msgspec.json.Decoder(Conversation).decode
    return [decode(line) for line in Path(path).read_bytes().splitlines() if line.strip()]


class FollowModel(NamedTuple):
    """The detector: weights of the dense features (`dense`), of the n-gram score, a bias, and
    the n-gram log-count ratios (one per hashed bucket)."""

    weights: np.ndarray  # (len(FEATURES) + 1,): the dense features, then the n-gram score
    bias: float
    grams: np.ndarray  # (BUCKETS,) float32


FEATURES = (
    "p_inherited",
    "confidence",
    "agrees",
    "rule_on_other",
    "log_length",
    "short",
    "brief",
    "multiline",
    "question",
    "language_changed",
    "answer_has_code",
    "answer_log_length",
    "deictic",
    "edit",
    "switch_marker",
    "points_back",
    "brief_edit",
    "other_and_sure",
    "long_and_sure",
    "length_ratio",
    "new_material",
    "shares_before",
    "shares_answer",
    "other_work",
    "other_work_sure",
)


def dense(
    text: str,
    edges: str,
    probs: Sequence[float],
    own: int,
    inherited: int,
    rule_on_other: bool,
    before: str,
    answer: str,
    task: str = "",
) -> list[float]:
    """The dense features of a turn (`text`, its normalised edge views `edges`, the
    single-turn probabilities and own task index) against the task it would inherit (index
    `inherited`, name `task`), the turn before it and the assistant's answer between."""
    plain = plain_features(text, probs, own, inherited, rule_on_other, before, answer)
    return ordered_features(
        plain, marked_features(text, edges, before), worded_features(edges, before, answer, task)
    )


def plain_features(
    text: str,
    probs: Sequence[float],
    own: int,
    inherited: int,
    rule_on_other: bool,
    before: str,
    answer: str,
) -> list[float]:
    """The features read without a regex (in `FEATURES` order): the cheap stage."""
    n, conf = len(text), max(probs)
    return [
        probs[inherited],
        conf,
        float(own == inherited),
        float(rule_on_other),
        math.log1p(n) / 8,
        float(n <= 16),
        float(n <= 48),
        float("\n" in text.strip()),
        float(text.rstrip().endswith(("?", "？"))),
        float("```" in answer[:ANSWER_CAP]),
        math.log1p(len(answer)) / 8,
        (own != inherited) * conf,
        float(n > 48) * conf,
        math.log((n + 8) / (len(before) + 8)) / 4,
    ]


def worded_features(edges: str, before: str, answer: str, task: str) -> list[float]:
    """The features read from words, between 0 and 1: the shares of the turn's words in the
    turn before and in the answer, and whether it names another task's work."""
    mine = _words(edges)
    return [_shared(mine, before), _shared(mine, answer), float(_other_work(edges, task))]


def ordered_features(plain: list[float], marked: list[float], worded: list[float]) -> list[float]:
    """The three stages' features in `FEATURES` order (the last, `other_work` times the
    confidence: between 0 and 1 as well)."""
    p, m, w = plain, marked, worded
    return [*p[:9], m[0], p[9], p[10], *m[1:6], p[11], p[12], p[13], m[6], *w, w[2] * p[1]]


def _other_work(edges: str, task: str) -> bool:
    """Whether the turn names the work of a task other than `task` (the one it would
    inherit) and not `task`'s own: "now translate that" after a story, not "translate this
    one too" after a translation."""
    words = _LATIN_TOKEN.findall(edges)
    named = set(map(_VERB_WORDS.get, words))
    if "sum" in named or ("sum" in words and "up" in words):
        named.add("summarize")
    if ("in" in words or "into" in words) and not _LANG_WORDS.isdisjoint(words):
        named.add("translate")
    if not edges.isascii():
        named.update(_JA_TASK[w] for w in _VERB_JA.findall(edges))
    named.discard(None)
    return bool(named) and task not in named


def _words(text: str) -> set[str]:
    """The turn's content words: Latin words of 4+ letters, or runs of 2+ kanji/katakana."""
    text = text[:WORDS_CAP].lower()
    return set(_LATIN_WORD.findall(text) if text.isascii() else _WORD.findall(text))


def _shared(mine: set[str], other: str) -> float:
    """The share of the turn's content words (`mine`) found among the words of `other` (the
    turn before, the answer): an edit names what it edits; a new request brings its own
    words. Each word is looked for, not every word of `other` listed: same answer, cheaper."""
    if not mine:
        return 0.0
    low = other[:WORDS_CAP].lower()
    return sum(1 for w in mine if w in low and _has_word(low, w)) / len(mine)


def _has_word(text: str, word: str) -> bool:
    """Whether `word` (a run `_WORD` finds) is one of `_WORD`'s runs in `text`: found with
    no letter of its own kind on either side (runs are maximal)."""
    kind = _is_latin if word[0] <= "z" else _is_kanji_kana
    i, end = text.find(word), len(text)
    while i >= 0:
        j = i + len(word)
        if (i == 0 or not kind(text[i - 1])) and (j == end or not kind(text[j])):
            return True
        i = text.find(word, i + 1)
    return False


def _is_latin(c: str) -> bool:
    return "a" <= c <= "z"


def _is_kanji_kana(c: str) -> bool:
    return "\u30a0" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff"


def is_follow_up(weights: list[float], bias: float, features: list[float], gram: float) -> bool:
    """The detector's verdict, from its weights as a list (dense features, then the n-gram
    score's) and bias."""
    return sum(map(operator.mul, features, weights), bias + gram * weights[-1]) > 0.0


def edge_grams(text: str) -> tuple[np.ndarray, np.ndarray]:
    """A turn's edge n-grams and their weights, as the classifier reads them in a request:
    what the n-gram score reads (never pasted material)."""
    body, head, tail, _ = turn_views(text)
    idx, _, _, w = featurize("", [(body, head, tail)], edges=True)
    assert w is not None
    keep = w > 0
    return idx[keep], w[keep]


def fit_ratios(
    rows: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Naive Bayes log-count ratios (follow-up over new) per bucket, each row's counts
    weighted by `weights` (default 1); unseen buckets zero."""
    col = np.concatenate([i for i, _ in rows]).astype(np.int64)
    sizes = [i.size for i, _ in rows]
    scale = np.ones(len(rows)) if weights is None else weights
    val = np.concatenate([w for _, w in rows]) * np.repeat(scale, sizes)
    lab = np.repeat(y, sizes)
    pos = np.bincount(col, weights=val * lab, minlength=BUCKETS)
    neg = np.bincount(col, weights=val * (1 - lab), minlength=BUCKETS)
    seen = (pos + neg) > 0
    r = np.log((pos + NB_ALPHA) / (pos.sum() + NB_ALPHA)) - np.log(
        (neg + NB_ALPHA) / (neg.sum() + NB_ALPHA)
    )
    return np.where(seen, r, 0.0).astype(np.float32)


def _gram_scores(ratios: np.ndarray, rows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    return np.array([float(ratios.take(i) @ w) for i, w in rows], dtype=np.float32)


def _fit_logistic(x: np.ndarray, y: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, float]:
    """Logistic regression, full batch, Adam; rows weighted by `rows`, classes balanced."""
    d = x.shape[1]
    n = rows.sum()
    share = (rows * y).sum() / n
    weight = rows * np.where(y > 0, 0.5 / share, 0.5 / (1 - share)) / n
    w, b = np.zeros(d), 0.0
    m, v, mb, vb = np.zeros(d), np.zeros(d), 0.0, 0.0
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for t in range(1, STEPS + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = (p - y) * weight
        gw, gb = x.T @ g + L2 * w, float(g.sum())
        m, v = beta1 * m + (1 - beta1) * gw, beta2 * v + (1 - beta2) * gw * gw
        mb, vb = beta1 * mb + (1 - beta1) * gb, beta2 * vb + (1 - beta2) * gb * gb
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        w -= rate * (m / c1) / (np.sqrt(v / c2) + 1e-8)
        b -= rate * (mb / c1) / (math.sqrt(vb / c2) + 1e-8)
    return w, b


def fit_follow(
    features: list[list[float]],
    rows: list[tuple[np.ndarray, np.ndarray]],
    y: Sequence[int],
    texts: Sequence[str],
    weights: Sequence[float] | None = None,
) -> FollowModel:
    """The detector from labelled turns: dense features, edge n-grams, 1 for a follow-up,
    the turns' texts and weights (default 1; `AUTHORED` for a hand-written set's).
    The n-gram score the regression sees is out of fold (two halves, each scored by ratios
    fitted on the other; a turn's half chosen by its opening words, so that one phrasing is
    never on both sides), so that it is weighed as it will be on turns worded otherwise."""
    labels = np.asarray(y, dtype=np.float64)
    scale = np.ones(len(rows)) if weights is None else np.asarray(weights, dtype=np.float64)
    half = np.array([zlib.crc32(t.strip()[:8].lower().encode()) % 2 == 0 for t in texts])
    oof = np.zeros(len(rows), dtype=np.float32)
    for part in (half, ~half):
        other = [r for r, p in zip(rows, ~part, strict=True) if p]
        fitted = fit_ratios(other, labels[~part], scale[~part])
        oof[part] = _gram_scores(fitted, [r for r, p in zip(rows, part, strict=True) if p])
    x = np.column_stack([np.asarray(features, dtype=np.float64), oof / 10.0])
    w, b = _fit_logistic(x, labels, scale)
    w[-1] /= 10.0  # the n-gram score is used unscaled
    ratios = fit_ratios(rows, labels, scale)
    return FollowModel(w.astype(np.float32), float(b) + FOLLOW_LEAN, ratios)
