"""The classifier's sure rules: a pasted stack trace or compiler error, or a fenced code block
beside an error word, is `code` whatever the model says.

Apart from `router.routing.classifier` because the rules read the raw (un-normalised, bounded)
turn rather than the features, and are not learned: changing them needs no retraining. Cheap
literal markers gate the one regex that confirms, so plain prose costs a few `in` tests.
"""

from __future__ import annotations

import re

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


_ANY_MARKER = re.compile("|".join(re.escape(m) for m in _TRACE_MARKERS))


def sure_rule(raw: str) -> str | None:
    """The sure rule a raw (un-normalised, bounded) turn matches, if any."""
    if _ANY_MARKER.search(raw) and _TRACE.search(raw):
        return "stack_trace"
    if "```" in raw and any(w in raw.lower() for w in _ERROR_WORDS):
        return "code_fence_error"
    return None
