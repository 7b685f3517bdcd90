"""The task names requests are routed by (SPEC.md), and the hints a client may give."""

from __future__ import annotations

from typing import Literal

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
FALLBACK_TASK = "qa"
DIRECT = "none"  # the task label of a request that named a concrete model
POLICIES: tuple[str, ...] = ("quality", "latency", "balanced")
Policy = Literal["quality", "latency", "balanced"]

# The cap on an answer's tokens when a request sets none (`max_tokens`): about the longest a
# good answer needs, as the calibration suites allow (router/data/suites). In-process models
# stop there; routing expects a model's latency for at most this many tokens.
ANSWER_TOKENS: dict[str, int] = {
    "summarize": 320,
    "business_mail": 600,
    "story": 1200,
    "explain_simple": 600,
    "style_rewrite": 256,
    "translate": 320,
    "code": 800,
    "qa": 256,
}
DEFAULT_ANSWER_TOKENS = 512  # a task of the user's own


def answer_tokens(task: str) -> int:
    return ANSWER_TOKENS.get(task, DEFAULT_ANSWER_TOKENS)
