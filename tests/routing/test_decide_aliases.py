"""Aliases with glob patterns (`"claude-*" = "auto"`): what a name resolves to."""

from __future__ import annotations

import pytest

from router.errors import ModelNotFound
from router.routing.decide import Hints, Route, Virtual, alias_target, is_router_name, resolve

ALIASES = {
    "claude-haiku-4-5": "small",
    "claude-*": "auto",
    "gpt-?": "big",
    "code-[ab]": "router/code",
}
KNOWN = ["small", "big", "claude-local"]


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("claude-haiku-4-5", "small"),  # its own entry before any pattern
        ("claude-sonnet-4-5", "auto"),
        ("claude-", "auto"),
        ("gpt-4", "big"),
        ("gpt-4o", None),
        ("code-a", "router/code"),
        ("code-c", None),
        ("Claude-x", None),  # case counts, as in model ids
        ("small", None),
    ],
)
def test_alias_target(name: str, target: str | None) -> None:
    assert alias_target(name, ALIASES) == target


def test_resolve_follows_glob_aliases() -> None:
    hints = Hints()
    assert resolve("claude-opus-4", hints, known=KNOWN, aliases=ALIASES) == Virtual(None, "")
    assert resolve("code-b", hints, known=KNOWN, aliases=ALIASES) == Virtual("code", "model")
    route = resolve("gpt-5", hints, known=KNOWN, aliases=ALIASES)
    assert route == Route("none", ["big"], "alias of big", "alias")
    with pytest.raises(ModelNotFound):
        resolve("gemini", hints, known=KNOWN, aliases=ALIASES)


def test_a_model_a_pattern_covers_is_the_routers_name() -> None:
    # an upstream model called so is listed as <backend>/claude-local: the router's names win
    assert is_router_name("claude-local", (), ALIASES)
    assert not is_router_name("small", (), ALIASES)
