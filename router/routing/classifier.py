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

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from router.routing.classifier_features import featurize, views
from router.routing.classifier_model import fit
from router.routing.classifier_rules import sure_rule
from router.tasks import FALLBACK_TASK, TASKS
from router.wire import user_turn

DEFAULT_THRESHOLD = 0.35  # below this top probability the answer is the fallback


class Classification(msgspec.Struct, frozen=True):
    """The answer: the task, how sure (its probability), every task's probability, and the
    rule that decided, if any (`stack_trace`, `code_fence_error`, `no_user_text`,
    `low_confidence`)."""

    task: str
    confidence: float
    scores: dict[str, float]
    rule: str | None = None


class Example(msgspec.Struct, frozen=True, omit_defaults=True):
    """One labelled request: the user's text, its task, and optionally a system prompt."""

    text: str
    task: str
    lang: str = ""
    system: str = ""


_EXAMPLE_DECODER = msgspec.json.Decoder(Example)


def _example_features(examples: Sequence[Example]) -> tuple[np.ndarray, ...]:
    """Flattened sparse rows of all examples: (row, bucket, weight), rows in order."""
    feats = [featurize(*views(ex.system, ex.text)[:4]) for ex in examples]
    row = np.repeat(np.arange(len(feats)), [idx.size for idx, _ in feats])
    col = np.concatenate([idx for idx, _ in feats]).astype(np.int64)
    return row, col, np.concatenate([w for _, w in feats])


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
    """Hashed character n-grams into a linear model, with sure rules in front."""

    def __init__(
        self,
        tasks: Sequence[str],
        weights: np.ndarray,
        bias: np.ndarray,
        examples: Sequence[Example],
        threshold: float = DEFAULT_THRESHOLD,
        source: Path | None = None,
    ) -> None:
        self.tasks = tuple(tasks)
        self.weights = weights
        self.bias = bias
        self._examples = tuple(examples)
        self.source = source  # where the examples are, when they were not kept
        self.threshold = threshold
        self._code = self.tasks.index("code") if "code" in self.tasks else -1

    @classmethod
    def from_examples(
        cls,
        source: str | os.PathLike[str] | Iterable[Example | tuple[str, str] | Mapping[str, Any]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        extra_tasks: Sequence[str] = (),
    ) -> Classifier:
        """Train on a JSON-lines file or on examples; tasks are the built-in ones, then
        any others the examples (or `extra_tasks`) name."""
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
        return cls(tasks, weights, bias, examples, threshold)

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
        pairs) and `extra_tasks` ({task: [example text, ...]}, e.g. from config)."""
        added = [_as_example(item) for item in examples]
        for task, texts in (extra_tasks or {}).items():
            added.extend(Example(text=t, task=task) for t in texts)
        return Classifier.from_examples([*self.examples, *added], threshold=self.threshold)

    def scores(self, messages: Any) -> tuple[list[float], str | None]:
        """The task probabilities (in `self.tasks` order) and the sure rule that fired."""
        system, turn = user_turn(messages)
        sys_view, body, head, tail, raw = views(system, turn)
        if not head:
            return [0.0] * len(self.tasks), "no_user_text"
        idx, w = featurize(sys_view, body, head, tail)
        z = (w @ self.weights.take(idx, axis=0) + self.bias).tolist()
        top = max(z)
        e = [math.exp(v - top) for v in z]
        total = sum(e)
        return [v / total for v in e], (sure_rule(raw) if self._code >= 0 else None)

    def classify(self, messages: Any) -> Classification:
        """The task a request asks for (a decoded request, its messages, or messages as plain
        JSON); `qa` when nothing is sure enough. Never raises on odd input: no user text is
        `qa` with confidence 0."""
        probs, rule = self.scores(messages)
        scores = dict(zip(self.tasks, probs, strict=True))
        if rule == "no_user_text":
            return Classification(FALLBACK_TASK, 0.0, scores, rule)
        if rule is not None:
            return Classification("code", 1.0, scores, rule)
        conf = max(probs)
        if conf < self.threshold:
            return Classification(FALLBACK_TASK, conf, scores, "low_confidence")
        return Classification(self.tasks[probs.index(conf)], conf, scores, None)
