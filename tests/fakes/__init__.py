"""Test doubles for the router's neighbours: a scripted OpenAI-compatible upstream on loopback
(`upstream`, for end-to-end tests), and an in-process `FakeBackend` at the `Backend` seam
(`backend`; `seam` builds a dispatcher over them).

Names are loaded lazily so that `python -m tests.fakes.upstream` runs without a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .upstream import FakeModel, FakeUpstream, RecordedRequest

__all__ = ["FakeModel", "FakeUpstream", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import upstream

        return getattr(upstream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
