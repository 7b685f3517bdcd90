"""The classifier's model: a linear model over the hashed features, trained with numpy.

Apart from `router.routing.classifier` because it is the learning alone, on feature rows
(bucket ids and weights) and task indices, knowing nothing of requests: multinomial logistic
regression (mini-batch SGD, averaged over the later epochs) plus complement naive Bayes, classes
balanced, summed into one weight matrix and scaled by a temperature. `fit` returns (W, b). A
change here changes the trained weights: the classifier cache's key hashes this file
(`router.routing.classifier_cache`).
"""

from __future__ import annotations

import numpy as np

from router.routing.classifier_features import BUCKETS

NB_ALPHA = 0.03  # complement naive Bayes smoothing
NB_MIX = 4.0  # naive Bayes weights' share in the linear model, beside logistic regression
LR_EPOCHS = 4
LR_BATCH = 128
LR_RATE = 16.0
MAX_CLASS_WEIGHT = 100.0  # cap on the up-weighting of a task with few examples
TEMPERATURE = 2.0  # logits / T: the summed models are over-confident at T = 1


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _fit_nb(col: np.ndarray, val: np.ndarray, yrow: np.ndarray, k: int) -> np.ndarray:
    """Complement naive Bayes weights (buckets x tasks), centred per bucket; buckets never
    seen in training stay zero, so unknown n-grams do not vote."""
    d = BUCKETS
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
    w = np.zeros((BUCKETS, k), dtype=np.float32)
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


def fit(
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
