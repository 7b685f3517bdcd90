"""The classifier's features: a request's bounded views, hashed into character n-grams.

Apart from `router.routing.classifier` because this is the representation alone, shared by
training and classifying and independent of the model on top: the views of the system prompt
and the user turn (edges where instructions sit, quoted material blanked, the body between cut
to `HEAD` + `TAIL` characters, so a long paste costs what a short one does), and their
character 1- to 4-grams hashed into `BUCKETS` buckets, each view weighted on its own. Pure,
bounded work per request. A change here changes the trained weights: the classifier cache's
key hashes this file (`router.routing.classifier_cache`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

EDGE = 80  # characters at each end of the user turn in the edge view
HEAD = 200  # characters after the head edge in a long turn's body view
TAIL = 200  # ... and before its tail edge
SYSTEM_CAP = 240  # characters of the system prompt looked at
SYSTEM_WEIGHT = 0.5  # the system prompt's say, relative to each edge of the user turn
BODY_WEIGHT = 0.25  # the body's say (pasted material), likewise

_BITS = 18
_SHIFT = np.uint64(64 - _BITS)
_PRIME = np.uint64(0x100000001B3)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_OFF_BODY = 0x400000  # code-point offset that gives the body its own namespace
_QUOTED = re.compile(r'「[^」]{2,300}」|"[^"]{2,300}"')
BUCKETS = 1 << _BITS  # the hashed feature space
_PAD = "\x00\x00\x00"  # ends a segment: no n-gram reaches into the next
# The same hashes as one product: code points in windows of 4 (c0..c3) times this matrix give
# each position's 1- to 4-gram hashes, already mixed (column k: sum of c_j P^(k-j) MIX, j <= k).
_POWERS = np.array(
    [
        [0 if j > k else pow(int(_PRIME), k - j, 1 << 64) * int(_MIX) % (1 << 64) for k in range(4)]
        for j in range(4)
    ],
    dtype=np.uint64,
)


def _norm(text: str) -> str:
    """NFKC, lower case, runs of white space as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _edge(text: str) -> str:
    """An edge view: normalised, with quoted material (「…」, "…") reduced to its quotes."""
    text = _norm(text)
    if "「" in text or '"' in text:
        text = _QUOTED.sub(lambda m: m.group(0)[0] + m.group(0)[-1], text)
    return text


def system_view(system: str) -> str:
    """The system prompt's view: its head, normalised, quoted material blanked."""
    return _edge(system[:SYSTEM_CAP]) if system else ""


def turn_views(turn: str) -> tuple[str, str, str, str]:
    """A user turn's bounded, normalised views: body (what lies between the edges, at most
    `HEAD` + `TAIL` characters of it); head and tail edges (a one-line turn is all head; else
    its first and last line, each cut to `EDGE` characters: where instructions sit). Last, the
    raw bounded turn for the rules."""
    if len(turn) > 2 * (EDGE + HEAD + TAIL):  # only the ends are read: never copy the middle
        turn = turn[: EDGE + HEAD + 64].lstrip() + "\n" + turn[-(EDGE + TAIL + 64) :].rstrip()
    else:
        turn = turn.strip()
    n = len(turn)
    if n <= 2 * EDGE + 16 and "\n" not in turn:
        return "", _edge(turn), "", turn
    head, tail = turn[:EDGE], turn[-EDGE:]
    i = head.find("\n")
    if i >= 1:
        head = head[:i]
    j = tail.rfind("\n")
    if j >= 0:
        tail = tail[j + 1 :]
    h, t = len(head), max(len(head), n - len(tail))
    if t - h <= HEAD + TAIL + 64:
        return _norm(turn[h:t]), _edge(head), _edge(turn[t:]), turn
    body = _norm(turn[h : h + HEAD]) + " … " + _norm(turn[t - TAIL : t])
    raw = turn[: h + HEAD] + "\n…\n" + turn[t - TAIL :]
    return body, _edge(head), _edge(tail), raw


def featurize(
    sys_view: str, turns: Sequence[tuple[str, str, str]], edges: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Hashed 1-4 gram bucket ids and their weights, for the system prompt's view and each
    turn's (body, head, tail) views, in one pass. The system prompt and the edges share one
    namespace, the body has its own; each view is normalised on its own (weights
    1/sqrt(n-grams)), so a short instruction line weighs as much as a long one.

    Segments: the system prompt, then each turn. Each ends in padding, so no n-gram crosses
    into the next and a turn scores alike alone or in a conversation. Entries are ordered by
    n-gram order, then position; the third value gives where each segment starts within each
    order (4 x segments indices, for `np.add.reduceat`: sum the 4 blocks of its result). With
    `edges`, also the weights with the system prompt and bodies zeroed (the edges only)."""
    parts = [sys_view, _PAD]
    scales = [SYSTEM_WEIGHT / math.sqrt(4 * len(sys_view) + 1), 0.0]
    for body, head, tail in turns:
        parts += (head, "\x00", tail, "\x00", body, _PAD)
        scales += (
            1.0 / math.sqrt(4 * len(head) + 1),
            0.0,
            1.0 / math.sqrt(4 * len(tail) + 1),
            0.0,
            BODY_WEIGHT / math.sqrt(4 * len(body) + 1),
            0.0,
        )
    lens = [len(p) for p in parts]
    c = np.frombuffer("".join(parts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = c.size
    seg, at = [0], lens[0] + 3
    for j in range(2, len(parts), 6):
        seg.append(at)
        body = at + lens[j] + lens[j + 2] + 2
        if lens[j + 4]:
            c[body : body + lens[j + 4]] += _OFF_BODY
        at = body + lens[j + 4] + 3
    h2 = c[:-1] * _PRIME
    h2 += c[1:]
    h3 = h2[:-1] * _PRIME
    h3 += c[2:]
    h4 = h3[:-1] * _PRIME
    h4 += c[3:]
    h = np.concatenate((c, h2, h3, h4))
    h *= _MIX
    h >>= _SHIFT  # bucket ids < 2**_BITS, used as indices as they are
    starts = np.array([s + k * n - k * (k - 1) // 2 for k in range(4) for s in seg])
    w = _by_order(np.repeat(np.array(scales, dtype=np.float32), lens))
    if not edges:
        return h, w, starts, None
    scales[0] = 0.0
    scales[6::6] = [0.0] * len(turns)
    return h, w, starts, _by_order(np.repeat(np.array(scales, dtype=np.float32), lens))


def _by_order(pos_w: np.ndarray) -> np.ndarray:
    """Position weights as n-gram weights: an n-gram weighs what its first character does."""
    return np.concatenate((pos_w, pos_w[:-1], pos_w[:-2], pos_w[:-3]))


def segment_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per segment, the sum of `values` (one row an entry) over its entries (see `featurize`)."""
    sums = np.add.reduceat(values, starts, axis=0)
    return sums.reshape(4, -1, *values.shape[1:]).sum(axis=0)


def view_sums(
    sys_view: str | None,
    turns: Sequence[tuple[str, str, str]],
    table: np.ndarray,
    gram_column: bool = False,
) -> tuple[list[list[float]], list[float]]:
    """What `featurize` gives, already summed against a table of rows (one a bucket): per
    segment (the system prompt's view unless it is None, then each turn's (body, head, tail)
    views), the weighted sum of its n-grams' rows; with `gram_column`, the table's last
    column is instead summed over the edges only (the follow-up detector's n-gram score),
    one value a segment. The same buckets and weights as `featurize` in fewer steps: the
    hashes of all orders as one product over windows of the encoded code points, rows
    summed per view, then scaled by the view's weight; each segment on its own, so a turn
    scores alike alone or in a conversation."""
    texts, starts, mix, ends, bodies, at = _layout(sys_view, turns)
    raw = "".join(texts).encode("utf-32-le")
    if bodies:  # a long turn: a uint64 copy, the bodies in their own namespace
        codes = np.frombuffer(raw, dtype=np.uint32).astype(np.uint64)
        for i, j in bodies:
            codes[i:j] += _OFF_BODY
        windows = np.ndarray((at, 4), dtype=np.uint64, buffer=codes, strides=(8, 8))
    else:  # a short one: windows read straight off the encoded code points (no copy)
        windows = np.ndarray((at, 4), dtype=np.uint32, buffer=raw, strides=(4, 4))
    ids = windows @ _POWERS
    ids >>= _SHIFT  # bucket ids < 2**_BITS, used as indices as they are
    sums = np.add.reduceat(table.take(ids.ravel(), axis=0), starts, axis=0)
    weights = np.array(mix, dtype=np.float32)
    k = table.shape[1] - gram_column
    out, grams, lo = [], [], 0
    for hi in ends:  # segment by segment: a turn's sums never depend on the others
        alone = len(ends) == 1  # the usual case: one new turn
        # `dot`: the same BLAS product as `@` (bit for bit), with less overhead per call
        mixed = weights.dot(sums) if alone else weights[:, lo:hi].dot(sums[lo:hi])
        row, edge_row = mixed.tolist()
        out.append(row[:k])
        grams.append(edge_row[-1] if gram_column else 0.0)
        lo = hi
    return out, grams


def _layout(
    sys_view: str | None, turns: Sequence[tuple[str, str, str]]
) -> tuple[list[str], list[int], tuple[list[float], list[float]], list[int], list, int]:
    """What `view_sums` hashes: the texts to join (views and the padding between them, the
    padding for the last n-grams included), where each non-empty one's n-grams start (4 a
    position), their weights and their weights in the edges-only sum, where each segment's
    entries end, the bodies' spans, and the number of positions."""
    texts, starts, scales, edges, ends, bodies = [], [], [], [], [], []
    segments = []
    if sys_view is not None:
        sys_scale = SYSTEM_WEIGHT / math.sqrt(4 * len(sys_view) + 1)
        segments.append(((sys_view, sys_scale, 0.0), (_PAD, 0.0, 0.0)))
    for body, head, tail in turns:
        h, t = 1.0 / math.sqrt(4 * len(head) + 1), 1.0 / math.sqrt(4 * len(tail) + 1)
        b = BODY_WEIGHT / math.sqrt(4 * len(body) + 1)
        gap = ("\x00", 0.0, 0.0)
        segments.append(((head, h, h), gap, (tail, t, t), gap, (body, b, -1.0), (_PAD, 0.0, 0.0)))
    at = 0
    for parts in segments:
        for text, scale, edge in parts:
            texts.append(text)
            if text:  # an empty view has no n-grams
                starts.append(4 * at)  # position-major: a view's n-grams are contiguous
                scales.append(scale)
                if edge < 0.0:  # a body: its own namespace, no say in the edges-only sum
                    bodies.append((at, at + len(text)))
                    edge = 0.0
                edges.append(edge)
                at += len(text)
        ends.append(len(starts))
    texts.append(_PAD)  # the last n-grams' padding: no entries of its own
    return texts, starts, (scales, edges), ends, bodies, at
