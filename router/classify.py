"""The task classifier: which routing task a chat request asks for.

Holds `Classification` (the answer), `Example` (one labelled training text), `Classifier`
(a hashed character n-gram linear model plus a few sure rules) and `load_default_classifier()`
(trained from the examples that ship in `benchmarks/classify/train.jsonl`, cached).

How it decides, per request (pure: no I/O, no network, bounded work):
1. Views. It reads the system prompt and the conversation's trailing user message(s), text parts
   only. A long turn is cut to its head and tail (the instruction of "<article> 三行で" or
   "tl;dr <article>" sits at an edge), so a 20,000-character paste costs no more than a short
   one. Three feature namespaces: the system prompt's head, the turn's body view (head + tail),
   and the turn's edges (first and last `EDGE` characters), each normalised on its own so an
   instruction at the edge of a long paste weighs as much as a short request.
2. Features. The views are NFKC-normalised and lower-cased; their character 1- to 4-grams are
   hashed (vectorised polynomial hash over code points, multiplicative bucket) into 2**18
   buckets, each weighted 1/sqrt(n-grams in its namespace).
3. Rules first, where they are sure: a pasted stack trace, or a fenced code block next to an
   error, is `code`.
4. Otherwise a multinomial logistic regression (trained with numpy in well under a second)
   scores every task; the top task wins unless its probability is under `threshold`, in which
   case the answer is `qa`, the fallback.

Users add tasks from config with `Classifier.train(examples, extra_tasks={...})`, which
returns a new classifier trained on the shipped examples plus theirs.
"""

from __future__ import annotations

import functools
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

TASKS: tuple[str, ...] = (
    "summarize",
    "business_mail",
    "story",
    "explain_simple",
    "style_rewrite",
    "translate",
    "code",
    "qa",
)
FALLBACK = "qa"
DEFAULT_THRESHOLD = 0.0

EDGE = 80  # characters at each end of the user turn in the edge view
HEAD = 200  # characters after the head edge in a long turn's body view
TAIL = 200  # ... and before its tail edge
SYSTEM_CAP = 240  # characters of the system prompt looked at
SYSTEM_WEIGHT = 0.5  # the system prompt's say, relative to each edge of the user turn
BODY_WEIGHT = 0.5  # the body's say (pasted material), likewise

_BITS = 18
_SHIFT = np.uint64(64 - _BITS)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_OFF_EDGE = 0x400000  # code-point offset: the edges' (and system prompt's) namespace
_WS = re.compile(r"\s+")

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "classify" / "train.jsonl"

# Sure rules: a pasted stack trace / compiler error, or a fenced code block next to an error.
# Cheap literal markers gate the one regex that confirms, so plain prose costs a few `in` tests.
_TRACE_MARKERS = (
    "Traceback (most", 'File "', "\n    at ", "\tat ", "Exception in thread", "goroutine ",
    "Error: ", "Exception: ", "error[E", "error TS", "npm ERR!", "Segmentation fault",
    "undefined reference",
)
_TRACE = re.compile(
    r'Traceback \(most recent call last\)|File "[^"\n]+", line \d+'
    r"|\n\s+at [\w$.<>/]+ ?\([^)\n]*:\d+|Exception in thread \"|goroutine \d+ \["
    r"|[a-z](?:Error|Exception): |error\[E\d{4}\]|error TS\d{4}|npm ERR!"
    r"|Segmentation fault|undefined reference to `"
)
_ERROR_WORDS = (
    "error", "exception", "エラー", "バグ", "bug", "例外", "落ちる", "動かな", "crash",
    "fails", "failing", "warning",
)


class Classification(msgspec.Struct, frozen=True):
    """The classifier's answer: the task, how sure, every task's score, and the rule if any."""

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


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _content_text(content: Any) -> str:
    """A message's text: the string itself, or its text parts joined; other parts skipped."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list | tuple):
        return ""
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif _field(part, "type") in ("text", "input_text"):
            text = _field(part, "text")
            if isinstance(text, str):
                texts.append(text)
    return "\n".join(texts)


def extract(messages: Any) -> tuple[str, str]:
    """(system prompt, trailing user turn) of a chat; a bare string is a user turn."""
    if isinstance(messages, str):
        return "", messages
    if not isinstance(messages, list | tuple):
        return "", ""
    system = ""
    users: list[str] = []
    for msg in reversed(messages):
        role = _field(msg, "role")
        if role == "user":
            users.append(_content_text(_field(msg, "content")))
        elif role in ("system", "developer"):
            system = _content_text(_field(msg, "content"))
        elif users:
            break  # only the user messages after the last assistant/tool turn count
    if not system:
        for msg in messages:
            if _field(msg, "role") in ("system", "developer"):
                system = _content_text(_field(msg, "content"))
                break
    if len(users) > 1:
        users.reverse()
        return system, "\n".join(users)
    return system, users[0] if users else ""


def _norm(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def views(system: str, turn: str) -> tuple[str, str, str, str, str]:
    """The bounded, normalised views: system head; body (what lies between the edges, at
    most `HEAD` + `TAIL` characters of it); head and tail edges (all of a short turn is its
    head; else its first and last line, each cut to `EDGE` characters: where instructions
    sit). Last, the raw bounded turn for the rules."""
    sys_view = _norm(system[:SYSTEM_CAP]) if system else ""
    turn = turn.strip()
    n = len(turn)
    if n <= 2 * EDGE + 16:
        return sys_view, "", _norm(turn), "", turn
    head, tail = turn[:EDGE], turn[-EDGE:]
    i = head.find("\n")
    if i >= 4:
        head = head[:i]
    j = tail.rfind("\n")
    if 0 <= j <= EDGE - 4:
        tail = tail[j + 1 :]
    h, t = len(head), n - len(tail)
    if t - h <= HEAD + TAIL + 64:
        return sys_view, _norm(turn[h:t]), _norm(head), _norm(tail), turn
    body = _norm(turn[h : h + HEAD]) + " … " + _norm(turn[t - TAIL : t])
    raw = turn[: h + HEAD] + "\n…\n" + turn[t - TAIL :]
    return sys_view, body, _norm(head), _norm(tail), raw


def featurize(
    sys_view: str, body: str, head: str, tail: str
) -> tuple[np.ndarray, np.ndarray]:
    """Hashed 1-4 gram bucket ids and their weights. The system prompt and the edges share
    one namespace, the body has its own; each view is normalised on its own (weights
    1/sqrt(n-grams)), so a short instruction line weighs as much as a long one."""
    ls, lb, lh, lt = len(sys_view), len(body), len(head), len(tail)
    text = f"{sys_view}\x00{body}\x00{head}\x00{tail}"
    c = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    c[:ls] += _OFF_EDGE
    c[ls + lb + 2 :] += _OFF_EDGE
    scale = (
        SYSTEM_WEIGHT / math.sqrt(4 * ls + 1), 0.0, BODY_WEIGHT / math.sqrt(4 * lb + 1), 0.0,
        1.0 / math.sqrt(4 * lh + 1), 0.0, 1.0 / math.sqrt(4 * lt + 1),
    )
    pos_w = np.repeat(np.array(scale, dtype=np.float32), (ls, 1, lb, 1, lh, 1, lt))
    h2 = c[:-1] * _PRIME + c[1:]
    h3 = h2[:-1] * _PRIME + c[2:]
    h4 = h3[:-1] * _PRIME + c[3:]
    idx = ((np.concatenate((c, h2, h3, h4)) * _MIX) >> _SHIFT).astype(np.intp)
    w = np.concatenate((pos_w, pos_w[:-1], pos_w[:-2], pos_w[:-3]))
    return idx, w


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _rule(raw: str) -> str | None:
    """The sure rule a raw (un-normalised, bounded) turn matches, if any."""
    if any(m in raw for m in _TRACE_MARKERS) and _TRACE.search(raw):
        return "stack_trace"
    if "```" in raw:
        low = raw.lower()
        if any(w in low for w in _ERROR_WORDS):
            return "code_fence_error"
    return None


def _example_features(examples: Sequence[Example]) -> tuple[np.ndarray, ...]:
    """Flattened sparse rows (row, bucket, weight) of all examples, duplicates summed."""
    rows, cols, vals = [], [], []
    for i, ex in enumerate(examples):
        idx, w = featurize(*views(ex.system, ex.text)[:4])
        rows.append(np.full(idx.shape, i, dtype=np.int64))
        cols.append(idx)
        vals.append(w)
    row = np.concatenate(rows)
    col = np.concatenate(cols).astype(np.int64)
    key, inv = np.unique(row << _BITS | col, return_inverse=True)
    val = np.bincount(inv, weights=np.concatenate(vals)).astype(np.float32)
    return key >> _BITS, key & ((1 << _BITS) - 1), val


def _fit(
    row: np.ndarray, col: np.ndarray, val: np.ndarray, y: np.ndarray, k: int,
    *, epochs: int = 120, l2: float = 1e-4, lr: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch Adam on the sparse rows; (W, b)."""
    n = int(y.shape[0])
    ucol, cinv = np.unique(col, return_inverse=True)
    order = np.argsort(cinv, kind="stable")
    cstarts = np.flatnonzero(np.r_[True, np.diff(cinv[order]) != 0])
    rstarts = np.flatnonzero(np.r_[True, np.diff(row) != 0])
    rows_o, vals_o, vv = row[order], val[order, None], val[:, None]
    onehot = np.eye(k, dtype=np.float32)[y]
    wc = np.zeros((ucol.size, k), dtype=np.float32)
    b = np.zeros(k, dtype=np.float32)
    params = [wc, b]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, epochs + 1):
        z = np.add.reduceat(wc[cinv] * vv, rstarts, axis=0) + b
        g = (_softmax(z) - onehot) / n
        grads = [np.add.reduceat(g[rows_o] * vals_o, cstarts, axis=0) + l2 * wc, g.sum(0)]
        for p, gr, mi, vi in zip(params, grads, m, v, strict=True):
            mi *= 0.9
            mi += 0.1 * gr
            vi *= 0.999
            vi += 0.001 * gr * gr
            p -= lr * (mi / (1 - 0.9**t)) / (np.sqrt(vi / (1 - 0.999**t)) + 1e-8)
    w_full = np.zeros((1 << _BITS, k), dtype=np.float32)
    w_full[ucol] = wc
    return w_full, b


def read_examples(path: str | os.PathLike[str]) -> list[Example]:
    """Examples from a JSON-lines file, one `{"text", "task", ...}` object a line."""
    with open(path, "rb") as f:
        return [_EXAMPLE_DECODER.decode(line) for line in f if line.strip()]


def _as_examples(items: Iterable[Example | tuple[str, str] | Mapping[str, Any]]) -> list[Example]:
    out = []
    for it in items:
        if isinstance(it, Example):
            out.append(it)
        elif isinstance(it, Mapping):
            out.append(msgspec.convert(it, Example))
        else:
            text, task = it
            out.append(Example(text=text, task=task))
    return out


class Classifier:
    """Hashed character n-grams into a linear model, with sure rules in front."""

    def __init__(
        self, tasks: Sequence[str], weights: np.ndarray, bias: np.ndarray,
        examples: Sequence[Example], threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.tasks = tuple(tasks)
        self.weights = weights
        self.bias = bias
        self.examples = tuple(examples)
        self.threshold = threshold
        self._code = self.tasks.index("code") if "code" in self.tasks else -1

    @classmethod
    def from_examples(
        cls,
        source: str | os.PathLike[str] | Iterable[Example | tuple[str, str] | Mapping[str, Any]],
        *, threshold: float = DEFAULT_THRESHOLD, extra_tasks: Sequence[str] = (),
    ) -> Classifier:
        """Train on a JSON-lines file or on examples; tasks are the built-in ones, then
        any others the examples (or `extra_tasks`) name."""
        if isinstance(source, str | os.PathLike):
            examples = read_examples(source)
        else:
            examples = _as_examples(source)
        names = list(TASKS)
        for task in (*extra_tasks, *(ex.task for ex in examples)):
            if task not in names:
                names.append(task)
        present = {ex.task for ex in examples}
        tasks = [t for t in names if t in present]
        if not tasks:
            raise ValueError("no training examples")
        y = np.array([tasks.index(ex.task) for ex in examples], dtype=np.int64)
        row, col, val = _example_features(examples)
        weights, bias = _fit(row, col, val, y, len(tasks))
        return cls(tasks, weights, bias, examples, threshold)

    def train(
        self, examples: Iterable[Example | tuple[str, str]] = (),
        extra_tasks: Mapping[str, Sequence[str]] | None = None,
    ) -> Classifier:
        """A new classifier trained on this one's examples plus `examples` ((text, task)
        pairs) and `extra_tasks` ({task: [example text, ...]}, e.g. from config)."""
        added = _as_examples(examples)
        for task, texts in (extra_tasks or {}).items():
            added.extend(Example(text=t, task=task) for t in texts)
        return Classifier.from_examples([*self.examples, *added], threshold=self.threshold)

    def scores(self, messages: Any) -> tuple[np.ndarray, str | None]:
        """The task probabilities (in `self.tasks` order) and the sure rule that fired."""
        system, turn = extract(messages)
        sys_view, body, head, tail, raw = views(system, turn)
        if not head:
            return np.zeros(len(self.tasks)), "no_user_text"
        idx, w = featurize(sys_view, body, head, tail)
        z = w @ self.weights[idx] + self.bias
        z -= z.max()
        e = np.exp(z)
        return e / e.sum(), (_rule(raw) if self._code >= 0 else None)

    def classify(self, messages: Any) -> Classification:
        """The task a request asks for; `qa` when nothing is sure enough."""
        probs, rule = self.scores(messages)
        scores = dict(zip(self.tasks, probs.tolist(), strict=True))
        if rule == "no_user_text":
            return Classification(FALLBACK, 0.0, scores, rule)
        if rule is not None:
            return Classification("code", 1.0, scores, rule)
        best = int(probs.argmax())
        conf = float(probs[best])
        if conf < self.threshold:
            return Classification(FALLBACK, conf, scores, "low_confidence")
        return Classification(self.tasks[best], conf, scores, None)


@functools.cache
def load_default_classifier() -> Classifier:
    """The classifier trained on the shipped examples (`$ROUTER_CLASSIFY_DATA` overrides)."""
    return Classifier.from_examples(os.environ.get("ROUTER_CLASSIFY_DATA") or DEFAULT_DATA)
