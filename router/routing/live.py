"""Live feedback: how fast each model is now, from the requests it has just served.

A moving average of each model's time per output token, compared with what its profile says,
gives a drift ratio (1.0: as profiled; 2.0: twice as slow now, e.g. another app is using the
GPU). Routing multiplies the profiled latency by it, so decisions follow the machine as it is.
"""

from __future__ import annotations

from router.profiles import Profile

ALPHA = 0.2  # weight of the newest observation in the moving average
DRIFT_BOUNDS = (0.25, 4.0)  # one odd request must not swing routing wildly


class LiveSpeed:
    """Per model: the moving average of seconds per output token, and its drift."""

    def __init__(self) -> None:
        self._per_token: dict[str, float] = {}
        self._profiled: dict[str, float] = {}

    def use_profile(self, profile: Profile | None) -> None:
        """Take the profiled speeds to compare with; forget what was seen before."""
        self._per_token.clear()
        self._profiled = {
            m.id: 1.0 / m.decode_tokens_per_s
            for m in (profile.models if profile else ())
            if m.decode_tokens_per_s
        }

    def observe(self, model: str, seconds_per_token: float) -> float | None:
        """Take one request's speed; returns the model's new drift ratio, if it has a profile."""
        previous = self._per_token.get(model)
        average = (
            seconds_per_token
            if previous is None
            else ALPHA * seconds_per_token + (1 - ALPHA) * previous
        )
        self._per_token[model] = average
        return self.drift(model)

    def drift(self, model: str) -> float | None:
        profiled = self._profiled.get(model)
        average = self._per_token.get(model)
        if not profiled or average is None:
            return None
        low, high = DRIFT_BOUNDS
        return min(high, max(low, average / profiled))
