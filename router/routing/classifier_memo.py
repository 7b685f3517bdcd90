"""What the classifier remembers of recent turns, and under which key.

Apart from `router.routing.classifier` because it is the bookkeeping alone: chat clients
re-send every earlier turn with each request, so the classifier keeps each (system prompt,
turn) as it saw it (`Seen`) and finds it again by `key`, which is what the classifier reads of
a text: a long one by its ends and the few facts read of its middle, so that a fresh copy of a
long paste (every request is decoded afresh) is not hashed whole. The memo itself (bounded,
`Classifier.forget()` empties it) lives on the classifier.
"""

from __future__ import annotations

from typing import Any, NamedTuple

KEY_CAP = 2048  # a text longer than this is remembered by its ends


class Seen(NamedTuple):
    """A turn as seen on its own words, with the system prompt: task probabilities, views,
    n-gram score, own task index, the sure rule that fired (if any), and its log
    probabilities once a follow-up has pooled them (empty until then)."""

    probs: list[float]
    views: tuple[str, str, str, str]
    gram: float  # 0 without a detector
    task: int
    rule: str | None
    logp: list[float]  # filled in place on first use: most turns are never pooled


def memo_key(text: str) -> Any:
    """What the classifier reads of a turn, an answer (its first 2,000 characters and its
    length) or a system prompt, as a memo key: the text itself, or for a long one its length,
    its ends (every view of a turn reads within them), whether it has a line break and its
    last character."""
    if len(text) <= KEY_CAP:
        return text
    stripped = text.strip()
    return (len(text), text[:KEY_CAP], text[-KEY_CAP // 2 :], "\n" in stripped, stripped[-1:])
