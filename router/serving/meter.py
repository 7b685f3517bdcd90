"""`RequestMeter`: one request's tokens counted and timed as its events pass, recorded once in
the served series of `router.metrics` (by model, task, backend and the API it came through)."""

from __future__ import annotations

import time

from router.backends.protocol import StreamEvent
from router.metrics import Metrics
from router.wire import Usage


class RequestMeter:
    """Counts and times one request's tokens as its events pass, then records it once.

    Tokens are counted from the usage the backend reports when it does, else one per content
    event, so time to first token and time per token mean the same for every backend.
    """

    __slots__ = ("_first", "_last", "_start", "api", "events", "labels", "metrics", "usage")

    def __init__(self, metrics: Metrics, start: float, api: str = "chat") -> None:
        self.metrics = metrics
        self.api = api  # chat, completions, embeddings, responses or messages
        self._start = start
        self._first: float | None = None
        self._last = start
        self.events = 0
        self.usage: Usage | None = None
        self.labels: tuple[str, str, str] = ("unknown", "none", "none")

    def on_event(self, event: StreamEvent) -> str:
        """Count and time one event; returns the text it carries."""
        chunk = event.chunk
        if chunk is None:
            return ""
        if chunk.usage is not None:
            self.usage = chunk.usage
        text = chunk.text()
        if text:
            now = time.perf_counter()
            if self._first is None:
                self._first = now
            self._last = now
            self.events += 1
        return text

    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def finish(
        self,
        status: int,
        usage: Usage | None = None,
        *,
        timed: bool = True,
        first_token_at: float | None = None,
    ) -> float | None:
        """Record the request: count, duration, and tokens when it produced any. For a whole
        answer, `first_token_at` is when the backend made its first token, if it can tell.

        Returns the time per output token after the first, when it could be measured."""
        end = time.perf_counter()
        if first_token_at is not None and self._first is None:
            self._first, self._last = first_token_at, end
        series = self.metrics.served((*self.labels, self.api))
        series.requests(status).inc()
        if not timed:
            return None
        series.duration.observe(end - self._start)
        usage = usage or self.usage
        output = usage.completion_tokens if usage else self.events
        if usage:
            series.prompt_tokens.inc(usage.prompt_tokens)
        if output:
            series.output_tokens.inc(output)
        if self._first is None:
            return None
        series.ttft.observe(self._first - self._start)
        if output < 2:
            return None
        per_token = (self._last - self._first) / (output - 1)
        series.tpot.observe(per_token)
        return per_token
