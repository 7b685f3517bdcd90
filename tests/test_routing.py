"""Route resolution (pure): concrete ids, aliases, virtual ids, hints."""

from __future__ import annotations

import pytest

from router.errors import InvalidRequest, ModelNotFound, NoModelAvailable
from router.routing import Hints, Route, resolve, virtual_ids

KNOWN = ["gemma", "lfm"]
ALIASES = {"gpt-4o": "gemma"}


@pytest.mark.parametrize(
    ("name", "hints", "default", "expected"),
    [
        ("lfm", Hints(), None, Route("none", ["lfm"], "direct")),
        ("lfm", Hints(task="code"), None, Route("code", ["lfm"], "direct")),
        ("gpt-4o", Hints(), None, Route("none", ["gemma"], "alias of gemma")),
        ("auto", Hints(), "lfm", Route("qa", ["lfm"], "default")),
        ("auto", Hints(task="story"), "lfm", Route("story", ["lfm"], "default")),
        ("auto", Hints(), None, Route("qa", ["gemma"], "default")),
        ("auto", Hints(), "not-there", Route("qa", ["gemma"], "default")),
        ("router/summarize", Hints(), "lfm", Route("summarize", ["lfm"], "default")),
        ("router/summarize", Hints(policy="latency"), "lfm",
         Route("summarize", ["lfm"], "default")),
    ],
)  # fmt: skip
def test_resolve(name: str, hints: Hints, default: str | None, expected: Route) -> None:
    assert resolve(name, hints, known=KNOWN, aliases=ALIASES, default_model=default) == expected


@pytest.mark.parametrize(
    ("name", "hints", "known", "error"),
    [
        ("nope", Hints(), KNOWN, ModelNotFound),
        ("router/juggling", Hints(), KNOWN, ModelNotFound),
        ("auto", Hints(task="juggling"), KNOWN, InvalidRequest),
        ("auto", Hints(policy="cheapest"), KNOWN, InvalidRequest),
        ("auto", Hints(), [], NoModelAvailable),
    ],
)
def test_resolve_errors(name: str, hints: Hints, known: list[str], error: type) -> None:
    with pytest.raises(error):
        resolve(name, hints, known=known, aliases=ALIASES, default_model=None)


def test_virtual_ids() -> None:
    ids = virtual_ids()
    assert ids[0] == "auto" and "router/style_rewrite" in ids and len(ids) == 9
