"""The task classifier: which routing task a chat request asks for.

Holds `Classification` (the answer), `Example` (one labelled request) and `Classifier` (hashed
character n-grams into a linear model, sure rules in front); the features, the model's training
and the sure rules live beside it (`router.routing.classifier_features`, `classifier_model`,
`classifier_rules`), and `router.routing.classifier_cache.load_default_classifier()` gives the
one trained at start-up from `router/data/classify/train.jsonl` (cached on disk).

How it decides (pure: no I/O, no network, bounded work per request):
1. Views of the system prompt and the trailing user message(s) (`router.wire.user_turn`), text
   parts only: the system prompt's head; the turn's edges, where instructions sit (a one-line
   turn is all edge, else its first and last line, each cut to `EDGE` characters: the 「三行で」
   after an article, the "tl;dr" before one), quoted material blanked; the body between, cut
   to `HEAD` + `TAIL` characters, so a 20,000-character paste costs what a short one does.
2. Features: NFKC, lower case, character 1- to 4-grams hashed (vectorised polynomial hash over
   code points) into 2**18 buckets. Edges and system prompt share a namespace, the body has
   its own; each view is normalised on its own (1/sqrt(n-grams)) and scaled by its say, so a
   short instruction line is not drowned by the paste around it.
3. Rules where they are sure: a pasted stack trace, or a fenced code block beside an error
   word, is `code`.
4. Model: multinomial logistic regression (mini-batch SGD) plus complement naive Bayes, both
   trained with numpy on the same features, classes balanced, summed into one weight matrix.
   The most probable task wins unless its probability is under `threshold`: then `qa`.

Users add tasks with examples (from config): `classifier.train(extra_tasks={"recipe": [...]})`
returns a new classifier trained on the shipped examples plus theirs.
"""

from __future__ import annotations

import contextlib
import math
import operator
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from router.routing.classifier_features import (
    SYSTEM_CAP,
    featurize,
    system_view,
    turn_views,
    view_sums,
)
from router.routing.classifier_memo import Seen, memo_key
from router.routing.classifier_model import fit
from router.routing.classifier_rules import sure_rule
from router.routing.classifier_turns import (
    AUTHORED,
    WINDOW,
    Conversation,
    FollowModel,
    dense,
    edge_grams,
    fit_follow,
    read_conversations,
)
from router.routing.classifier_verdict import follows, staged
from router.tasks import FALLBACK_TASK, TASKS
from router.wire import user_turns

DEFAULT_THRESHOLD = 0.35  # below this top probability the answer is the fallback
MEMO = 4096  # turns (and system prompts, verdicts) remembered: earlier turns are re-sent
FOLLOW_SAY = 0.35  # a follow-up's own words' say in its task, beside its source turn's
_LOG_FLOOR = math.log(1e-9)  # log probabilities are floored here


class Classification(msgspec.Struct, frozen=True):
    """The answer: the task, how sure (its probability), every task's probability, and the
    rule that decided, if any (`stack_trace`, `code_fence_error`, `no_user_text`,
    `low_confidence`). In a conversation, whether the last user turn was judged a follow-up
    (its task inherited) and how many user turns before it the task was read from (0: its own
    words; with the last turn numbered N, the task came from turn N - `turns_back`); the
    confidence, scores and rule are then that turn's."""

    task: str
    confidence: float
    scores: dict[str, float]
    rule: str | None = None
    follow_up: bool = False
    turns_back: int = 0


class Example(msgspec.Struct, frozen=True, omit_defaults=True):
    """One labelled request: the user's text, its task, and optionally a system prompt."""

    text: str
    task: str
    lang: str = ""
    system: str = ""


_EXAMPLE_DECODER = msgspec.json.Decoder(Example)


def _example_features(examples: Sequence[Example]) -> tuple[np.ndarray, ...]:
    """Flattened sparse rows of all examples: (row, bucket, weight), rows in order."""
    feats = [featurize(system_view(ex.system), [turn_views(ex.text)[:3]]) for ex in examples]
    row = np.repeat(np.arange(len(feats)), [f[0].size for f in feats])
    col = np.concatenate([f[0] for f in feats]).astype(np.int64)
    return row, col, np.concatenate([f[1] for f in feats])


def read_examples(path: str | os.PathLike[str]) -> list[Example]:
    """Examples from a JSON-lines file, one `{"text", "task", ...}` object a line."""
    return [
        _EXAMPLE_DECODER.decode(line)
        for line in Path(path).read_bytes().splitlines()
        if line.strip()
    ]


def _as_example(item: Example | tuple[str, str] | Mapping[str, Any]) -> Example:
    if isinstance(item, Example):
        return item
    if isinstance(item, Mapping):
        return msgspec.convert(item, Example)
    text, task = item
    return Example(text=text, task=task)


class Classifier:
    """Hashed character n-grams into a linear model, with sure rules in front; in a
    conversation, a follow-up detector (`classifier_turns`) that lets a turn keep its task."""

    def __init__(
        self,
        tasks: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        examples: Sequence[Example],
        threshold: float = DEFAULT_THRESHOLD,
        source: Path | None = None,
        follow: FollowModel | None = None,
        table: np.ndarray | None = None,
    ) -> None:
        self.tasks = tuple(tasks)
        self.weights = np.asarray(weights, dtype=np.float32)  # a memory map stays one
        self._mapped = table  # `weights` beside the detector's `grams`, as the cache maps them
        self.bias = np.asarray(bias, dtype=np.float32)
        self._bias = self.bias.tolist()
        self._examples = tuple(examples)
        self.source = source  # where the examples are, when they were not kept
        self.threshold = threshold
        self.follow = follow  # None: every turn is classified on its own words
        self._code = self.tasks.index("code") if "code" in self.tasks else -1
        self._fallback = self.tasks.index(FALLBACK_TASK) if FALLBACK_TASK in self.tasks else 0

    @classmethod
    def from_examples(
        cls,
        source: str | os.PathLike[str] | Iterable[Example | tuple[str, str] | Mapping[str, Any]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        extra_tasks: Sequence[str] = (),
        conversations: str | os.PathLike[str] | Sequence[Conversation] | None = None,
    ) -> Classifier:
        """Train on a JSON-lines file or on examples; tasks are the built-in ones, then
        any others the examples (or `extra_tasks`) name. With labelled `conversations` (a
        JSON-lines file or a list), also the follow-up detector."""
        if isinstance(source, str | os.PathLike):
            examples = read_examples(source)
        else:
            examples = [_as_example(item) for item in source]
        present = {ex.task for ex in examples}
        names = dict.fromkeys((*TASKS, *extra_tasks, *(ex.task for ex in examples)))
        tasks = [t for t in names if t in present]
        if not tasks:
            raise ValueError("no training examples")
        y = np.array([tasks.index(ex.task) for ex in examples], dtype=np.int64)
        row, col, val = _example_features(examples)
        weights, bias = fit(row, col, val, y, len(tasks))
        trained = cls(tasks, weights, bias, examples, threshold)
        if conversations is not None:
            if isinstance(conversations, str | os.PathLike):
                conversations = read_conversations(conversations)
            trained.follow = trained.fit_follow(conversations)
        return trained

    def fit_follow(self, conversations: Sequence[Conversation]) -> FollowModel:
        """The follow-up detector, fitted on this classifier's view of labelled turns."""
        return fit_follow(*self.follow_rows(conversations))

    def follow_rows(self, conversations: Sequence[Conversation]) -> tuple[list, ...]:
        """The detector's training rows from labelled turns: dense features, edge n-grams,
        labels (1: a follow-up), texts and weights (what `fit_follow` reads)."""
        features, grams, labels, texts, weights = [], [], [], [], []
        for conv in conversations:
            known = [t for t in conv.turns if t.task in self.tasks]
            if len(known) < 2:
                continue
            seen = self._seen(conv.system, [t.user for t in known])
            for i in range(1, len(known)):
                inherited = self.tasks.index(known[i - 1].task)  # the true one, when fitting
                before = (known[i - 1].user, known[i - 1].answer)
                own = (seen[i].task, seen[i].rule is not None)
                row = self._dense(
                    known[i].user, before, seen[i].views, seen[i].probs, inherited, own
                )
                features.append(row)
                grams.append(edge_grams(known[i].user))
                labels.append(int(known[i].kind == "follow"))
                texts.append(known[i].user)
                weights.append(AUTHORED if conv.author else 1.0)
        return features, grams, labels, texts, weights

    @property
    def examples(self) -> tuple[Example, ...]:
        """The training examples (read back from `source` for a classifier loaded from cache)."""
        if not self._examples and self.source is not None:
            self._examples = tuple(read_examples(self.source))
        return self._examples

    def train(
        self,
        examples: Iterable[Example | tuple[str, str]] = (),
        extra_tasks: Mapping[str, Sequence[str]] | None = None,
    ) -> Classifier:
        """A new classifier trained on this one's examples plus `examples` ((text, task)
        pairs) and `extra_tasks` ({task: [example text, ...]}, e.g. from config); it keeps
        this one's follow-up detector (which reads probabilities, not task names)."""
        added = [_as_example(item) for item in examples]
        for task, texts in (extra_tasks or {}).items():
            added.extend(Example(text=t, task=task) for t in texts)
        trained = Classifier.from_examples([*self.examples, *added], threshold=self.threshold)
        trained.follow = self.follow
        return trained

    def _seen(self, system: str, texts: Sequence[str], keys: list[Any] | None = None) -> list[Seen]:
        """Each turn as seen on its own words (with the system prompt): its probabilities,
        views, own task and sure rule, and with a detector its n-gram score. Turns seen
        lately come from the memo, keyed by what the classifier reads of them (a chat client
        re-sends every earlier turn each time): only new ones are featurised, in one pass."""
        sk = system[:SYSTEM_CAP]
        keys = [(sk, k) for k in keys or [memo_key(t) for t in texts]]
        seen = list(map(self._memo.get, keys))
        missing = [i for i, f in enumerate(seen) if f is None]
        if missing:
            sys_z = self._memo_sys.get(sk)
            views = [turn_views(texts[i]) for i in missing]
            sv = None if sys_z is not None else system_view(system)
            if sv == "":  # no n-grams: the system prompt's logits are the bias alone
                sys_z, sv = self._bias, None
                _remember(self._memo_sys, sk, sys_z)
            has_grams = self._follow is not None
            z, g = view_sums(sv, [v[:3] for v in views], self._table, has_grams)
            if sys_z is None:
                sys_z = [a + b for a, b in zip(z.pop(0), self._bias, strict=True)]
                g.pop(0)
                _remember(self._memo_sys, sk, sys_z)
            for i, view, zi, gi in zip(missing, views, z, g, strict=True):
                seen[i] = self._new_seen(sys_z, zi, view, gi)
                _remember(self._memo, keys[i], seen[i])
        return seen  # type: ignore[return-value]

    def _new_seen(
        self, sys_z: list[float], z: list[float], view: tuple[str, str, str, str], gram: float
    ) -> Seen:
        """A turn seen on its own words: its logits (system and bias included) made into
        probabilities, and its own task index (`qa`'s below the threshold; `code` by a
        sure rule)."""
        probs = _softmax(list(map(operator.add, sys_z, z)))
        rule = sure_rule(view[3]) if self._code >= 0 else None
        conf = max(probs)
        own = probs.index(conf) if conf >= self.threshold else self._fallback
        return Seen(probs, view, gram, self._code if rule else own, rule, [])

    @property
    def follow(self) -> FollowModel | None:
        return self._follow

    @follow.setter
    def follow(self, model: FollowModel | None) -> None:
        self._follow = model
        self._staged = None if model is None else staged(model)
        self._table = self._joined(model)
        self.forget()

    @property
    def table(self) -> np.ndarray:
        """What classifying reads, one row a bucket: the weights, then with a detector its
        n-gram ratio (one look-up a bucket reads both)."""
        return self._table

    def _joined(self, model: FollowModel | None) -> np.ndarray:
        weights = self.weights.view(np.ndarray)  # np.memmap's wrappers cost ~1 us a step
        if model is None:
            return weights
        mapped, (rows, k) = self._mapped, weights.shape
        side_by_side = mapped is not None and mapped.shape == (rows, k + 1)
        if side_by_side and np.may_share_memory(mapped, model.grams):  # the cache's
            return np.asarray(mapped).view(np.ndarray)
        return np.hstack((weights, np.asarray(model.grams, np.float32)[:, None]))

    def forget(self) -> None:
        """Empty the memo of recent turns (they are recomputed as needed)."""
        self._memo: dict[tuple, Seen] = {}  # (system, turn) -> the turn seen on its own
        self._memo_sys: dict[str, list[float]] = {}  # system prompt -> its logits + bias
        self._memo_follow: dict[tuple, bool] = {}  # (system, turn, before, task) -> verdict

    def _dense(
        self,
        text: str,
        before: tuple[str, str],
        view: tuple[str, str, str, str],
        probs: list[float],
        inherited: int,
        own: tuple[int, bool],
    ) -> list[float]:
        """A turn's follow-up features against the task it would inherit; `before` is the
        user turn before it and the assistant's answer between; `own`, the turn's own task
        index and whether a rule gave it."""
        edges = f"{view[1]} {view[2]}"
        rule_on_other = own[1] and inherited != self._code
        task = self.tasks[inherited]
        return dense(text, edges, probs, own[0], inherited, rule_on_other, *before, task)

    def _follows(self, text: str, before: str, answer: str, at: Seen, inherited: int) -> bool:
        """The detector's verdict on a turn seen as `at` (what `_dense` reads, the same
        arguments), read in stages: `router.routing.classifier_verdict`."""
        assert self._staged is not None
        edges = f"{at.views[1]} {at.views[2]}"
        rule_on_other = at.rule is not None and inherited != self._code
        context = (at.probs, at.task, inherited, rule_on_other, before, answer)
        return follows(self._staged, at.gram, text, edges, *context, self.tasks[inherited])

    def classify(self, messages: Any) -> Classification:
        """The task a request asks for (a decoded request, its messages, or messages as plain
        JSON); `qa` when nothing is sure enough. In a conversation, a follow-up keeps the task
        of the turn it follows. Never raises on odd input: no user text is `qa` with
        confidence 0."""
        system, turns = user_turns(messages, WINDOW if self._follow is not None else 1)
        last = turns[-1][0] if turns else ""
        if not last or last.isspace():
            return self._no_text()
        keys = [memo_key(t) for t, _ in turns]
        seen = self._seen(system, [t for t, _ in turns], keys)
        if not seen[-1].views[1]:
            return self._no_text()
        source, follow_up = len(turns) - 1, False
        if len(turns) > 1 and self._follow is not None:
            source, follow_up = self._source(system[:SYSTEM_CAP], turns, keys, seen)
        if source == len(turns) - 1:
            chosen = seen[source].probs
        else:
            chosen = _pooled([_logp(s) for s in seen[source:]])
        back = len(turns) - 1 - source
        return self._answer(chosen, seen[source].rule, follow_up, back)

    def _no_text(self) -> Classification:
        return Classification(FALLBACK_TASK, 0.0, dict.fromkeys(self.tasks, 0.0), "no_user_text")

    def _source(
        self, sk: str, turns: list[tuple[str, str]], keys: list[Any], seen: list[Seen]
    ) -> tuple[int, bool]:
        """Which turn's words give the last turn's task, and whether the last turn was a
        follow-up: forward over the window, each turn keeping its predecessor's source when
        judged a follow-up of it. Verdicts are remembered by what they read (the system
        prompt, the turn, the turn before, the answer between, the task it would inherit)."""
        assert self.follow is not None
        source, follow_up, memo = 0, False, self._memo_follow
        for i in range(1, len(turns)):
            at = seen[i]
            key = (sk, keys[i], keys[i - 1], memo_key(turns[i][1]), seen[source].task)
            follow_up = memo.get(key)  # type: ignore[assignment]
            if follow_up is None:
                follow_up = self._follows(turns[i][0], turns[i - 1][0], turns[i][1], at, key[-1])
                _remember(memo, key, follow_up)
            if not follow_up:
                source = i
        return source, follow_up

    def _answer(
        self, probs: list[float], rule: str | None, follow_up: bool, back: int
    ) -> Classification:
        scores = dict(zip(self.tasks, probs, strict=True))
        if rule is not None:
            return Classification("code", 1.0, scores, rule, follow_up, back)
        conf = max(probs)
        if conf < self.threshold:
            return Classification(FALLBACK_TASK, conf, scores, "low_confidence", follow_up, back)
        return Classification(self.tasks[probs.index(conf)], conf, scores, None, follow_up, back)


def _remember(memo: dict, key: Any, value: Any) -> None:
    """Keep `value` under `key`, dropping the oldest entry beyond `MEMO` (bounded memory)."""
    memo[key] = value
    if len(memo) > MEMO:
        with contextlib.suppress(KeyError, StopIteration, RuntimeError):  # a race: no matter
            del memo[next(iter(memo))]


def _logp(seen: Seen) -> list[float]:
    """A turn's log probabilities (floored at 1e-9), computed when a follow-up first pools
    them and kept with the turn."""
    if not seen.logp:
        seen.logp.extend(math.log(p) if p > 1e-9 else _LOG_FLOOR for p in seen.probs)
    return seen.logp


def _pooled(logp: list[list[float]]) -> list[float]:
    """A follow-up's task probabilities: its source turn's, sharpened a little by the
    follow-ups' own (「フランス語でも」 says translate when the request before was unclear):
    log p_source + FOLLOW_SAY * sum of the follow-ups' log p, renormalised."""
    z = logp[0]
    for row in logp[1:]:
        z = [a + FOLLOW_SAY * b for a, b in zip(z, row, strict=True)]
    return _softmax(z)


def _softmax(z: list[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]
