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
