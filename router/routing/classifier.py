"""The task classifier: which routing task a chat request asks for.

Holds `Classification` (the answer), `Example` (one labelled request), `Classifier` (hashed
character n-grams into a linear model, sure rules in front) and `load_default_classifier()`
(trained at start-up from `router/data/classify/train.jsonl`, cached).

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
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from router.tasks import FALLBACK_TASK, TASKS
from router.wire import user_turn

DEFAULT_THRESHOLD = 0.35  # below this top probability the answer is the fallback

EDGE = 80  # characters at each end of the user turn in the edge view
HEAD = 200  # characters after the head edge in a long turn's body view
TAIL = 200  # ... and before its tail edge
SYSTEM_CAP = 240  # characters of the system prompt looked at
SYSTEM_WEIGHT = 0.5  # the system prompt's say, relative to each edge of the user turn
BODY_WEIGHT = 0.25  # the body's say (pasted material), likewise

NB_ALPHA = 0.03  # complement naive Bayes smoothing
NB_MIX = 4.0  # naive Bayes weights' share in the linear model, beside logistic regression
LR_EPOCHS = 4
LR_BATCH = 128
LR_RATE = 16.0
MAX_CLASS_WEIGHT = 100.0  # cap on the up-weighting of a task with few examples
TEMPERATURE = 2.0  # logits / T: the summed models are over-confident at T = 1

_BITS = 18
_SHIFT = np.uint64(64 - _BITS)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_OFF_BODY = 0x400000  # code-point offset that gives the body its own namespace
_QUOTED = re.compile(r'「[^」]{2,300}」|"[^"]{2,300}"')


# Sure rules: a pasted stack trace / compiler error, or a fenced code block next to an error.
# Cheap literal markers gate the one regex that confirms, so plain prose costs a few `in` tests.
_TRACE_MARKERS = (
    "Traceback (most",
    'File "',
    "\n    at ",
    "\tat ",
    "Exception in thread",
    "goroutine ",
    "Error: ",
    "Exception: ",
    "error[E",
    "error TS",
    "npm ERR!",
    "Segmentation fault",
    "undefined reference",
)
_TRACE = re.compile(
    r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+'
    r"|\n\s+at [\w$.<>/]+ ?\([^)\n]*:\d+|Exception in thread \"|goroutine \d+ \["
    r"|[a-z](?:Error|Exception): |error\[E\d{4}\]|error TS\d{4}|npm ERR!"
    r"|Segmentation fault|undefined reference to `"
)
_ERROR_WORDS = (
    "error",
    "exception",
    "エラー",
    "バグ",
    "bug",
    "例外",
    "落ちる",
    "動かな",
    "crash",
    "fails",
    "failing",
    "warning",
)


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


def _norm(text: str) -> str:
    """NFKC, lower case, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _edge(text: str) -> str:
    """An edge view: normalised, with quoted material (「…」, "…") reduced to its quotes."""
    text = _norm(text)
    if "「" in text or '"' in text:
        text = _QUOTED.sub(lambda m: m.group(0)[0] + m.group(0)[-1], text)
    return text


def views(system: str, turn: str) -> tuple[str, str, str, str, str]:
    """The bounded, normalised views: system head; body (what lies between the edges, at
    most `HEAD` + `TAIL` characters of it); head and tail edges (a one-line turn is all
    head; else its first and last line, each cut to `EDGE` characters: where instructions
    sit). Last, the raw bounded turn for the rules."""
    sys_view = _edge(system[:SYSTEM_CAP]) if system else ""
    if len(turn) > 2 * (EDGE + HEAD + TAIL):  # only the ends are read: never copy the middle
        turn = turn[: EDGE + HEAD + 64].lstrip() + "\n" + turn[-(EDGE + TAIL + 64) :].rstrip()
    else:
        turn = turn.strip()
    n = len(turn)
    if n <= 2 * EDGE + 16 and "\n" not in turn:
        return sys_view, "", _edge(turn), "", turn
    head, tail = turn[:EDGE], turn[-EDGE:]
    i = head.find("\n")
    if i >= 1:
        head = head[:i]
    j = tail.rfind("\n")
    if j >= 0:
        tail = tail[j + 1 :]
    h, t = len(head), max(len(head), n - len(tail))
    if t - h <= HEAD + TAIL + 64:
        return sys_view, _norm(turn[h:t]), _edge(head), _edge(turn[t:]), turn
    body = _norm(turn[h : h + HEAD]) + " … " + _norm(turn[t - TAIL : t])
    raw = turn[: h + HEAD] + "\n…\n" + turn[t - TAIL :]
    return sys_view, body, _edge(head), _edge(tail), raw


def featurize(sys_view: str, body: str, head: str, tail: str) -> tuple[np.ndarray, np.ndarray]:
    """Hashed 1-4 gram bucket ids and their weights. The system prompt and the edges share
    one namespace, the body has its own; each view is normalised on its own (weights
    1/sqrt(n-grams)), so a short instruction line weighs as much as a long one."""
    ls, lh, lt, lb = len(sys_view), len(head), len(tail), len(body)
    c = np.frombuffer(
        f"{sys_view}\x00{head}\x00{tail}\x00{body}".encode("utf-32-le"), dtype=np.uint32
    ).astype(np.uint64)
    c[ls + lh + lt + 3 :] += _OFF_BODY
    scale = np.array(
        (
            SYSTEM_WEIGHT / math.sqrt(4 * ls + 1),
            0.0,
            1.0 / math.sqrt(4 * lh + 1),
            0.0,
            1.0 / math.sqrt(4 * lt + 1),
            0.0,
            BODY_WEIGHT / math.sqrt(4 * lb + 1),
        ),
        dtype=np.float32,
    )
    pos_w = scale.repeat((ls, 1, lh, 1, lt, 1, lb))
    h2 = c[:-1] * _PRIME + c[1:]
    h3 = h2[:-1] * _PRIME + c[2:]
    h4 = h3[:-1] * _PRIME + c[3:]
    h = np.concatenate((c, h2, h3, h4))
    h *= _MIX
    h >>= _SHIFT  # bucket ids < 2**_BITS, used as indices as they are
    return h, np.concatenate((pos_w, pos_w[:-1], pos_w[:-2], pos_w[:-3]))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _rule(raw: str) -> str | None:
    """The sure rule a raw (un-normalised, bounded) turn matches, if any."""
    if any(m in raw for m in _TRACE_MARKERS) and _TRACE.search(raw):
        return "stack_trace"
    if "```" in raw and any(w in raw.lower() for w in _ERROR_WORDS):
        return "code_fence_error"
    return None


def _example_features(examples: Sequence[Example]) -> tuple[np.ndarray, ...]:
    """Flattened sparse rows of all examples: (row, bucket, weight), rows in order."""
    feats = [featurize(*views(ex.system, ex.text)[:4]) for ex in examples]
    row = np.repeat(np.arange(len(feats)), [idx.size for idx, _ in feats])
    col = np.concatenate([idx for idx, _ in feats]).astype(np.int64)
    return row, col, np.concatenate([w for _, w in feats])


def _fit_nb(col: np.ndarray, val: np.ndarray, yrow: np.ndarray, k: int) -> np.ndarray:
    """Complement naive Bayes weights (buckets x tasks), centred per bucket; buckets never
    seen in training stay zero, so unknown n-grams do not vote."""
    d = 1 << _BITS
    counts = np.bincount(yrow * d + col, weights=val, minlength=k * d).reshape(k, d).T
    seen = counts.sum(axis=1) > 0
    comp = counts[seen].sum(axis=1, keepdims=True) - counts[seen] + NB_ALPHA
    w = -np.log(comp / comp.sum(axis=0, keepdims=True))
    out = np.zeros((d, k), dtype=np.float32)
    out[seen] = w - w.mean(axis=1, keepdims=True)
    return out


def _batches(
    row: np.ndarray, col: np.ndarray, val: np.ndarray, n: int, size: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, ...]]:
    """Fixed mini-batches of examples: (members, buckets, bucket index, weights, row starts,
    row index within the batch)."""
    count = max(1, n // size)
    batch_of = np.empty(n, dtype=np.int16)
    batch_of[rng.permutation(n)] = np.arange(n) * count // n
    order = np.argsort(keys := batch_of[row], kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(count + 1))
    out = []
    for i in range(count):
        sel = order[bounds[i] : bounds[i + 1]]
        members = np.flatnonzero(batch_of == i)
        r = np.searchsorted(members, row[sel])
        ucol, inv = np.unique(col[sel], return_inverse=True)
        rstarts = np.flatnonzero(np.r_[True, np.diff(r) != 0])
        out.append((members, ucol, inv, val[sel, None], rstarts, r))
    return out


def _fit_lr(
    row: np.ndarray, col: np.ndarray, val: np.ndarray, y: np.ndarray, weight: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by mini-batch SGD, averaged over the later epochs."""
    rng = np.random.default_rng(0)
    batches = _batches(row, col, val, int(y.shape[0]), LR_BATCH, rng)
    onehot = np.eye(k, dtype=np.float32)[y]
    w = np.zeros((1 << _BITS, k), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    w_sum, b_sum = np.zeros_like(w), np.zeros_like(b)
    for epoch in range(LR_EPOCHS):
        for i in rng.permutation(len(batches)):
            members, ucol, inv, v, rstarts, r = batches[i]
            wb = w.take(ucol, axis=0)
            z = np.add.reduceat(wb.take(inv, axis=0) * v, rstarts, axis=0) + b
            g = (_softmax(z) - onehot[members]) * (weight[members, None] * LR_RATE / len(members))
            grad = g.take(r, axis=0) * v
            for j in range(k):
                wb[:, j] -= np.bincount(inv, weights=grad[:, j], minlength=ucol.size)
            w[ucol] = wb
            b -= g.sum(axis=0)
        if epoch >= LR_EPOCHS // 2:
            w_sum += w
            b_sum += b
    runs = LR_EPOCHS - LR_EPOCHS // 2
    return w_sum / runs, b_sum / runs


def _fit(
    row: np.ndarray,
    col: np.ndarray,
    val: np.ndarray,
    y: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The linear model: logistic regression plus complement naive Bayes, with classes
    balanced (a task added with a handful of examples weighs as much as a shipped one) and
    scaled by the temperature that calibrates its probabilities; (W, b)."""
    counts = np.bincount(y, minlength=k).astype(np.float32)
    weight = np.minimum(counts.mean() / np.maximum(counts, 1), MAX_CLASS_WEIGHT)[y]
    w, b = _fit_lr(row, col, val, y, weight, k)
    w += NB_MIX * _fit_nb(col, val * weight[row], y[row], k)
    w /= TEMPERATURE
    b /= TEMPERATURE
    return w, b


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
        weights, bias = _fit(row, col, val, y, len(tasks))
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
        return [v / total for v in e], (_rule(raw) if self._code >= 0 else None)

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
