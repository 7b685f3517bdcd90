"""The output of one generated choice, on the generation thread: the pieces it posts.

Text passes, in order: mlx-lm's detokenizer (which holds back an incomplete UTF-8 sequence
while generating, but at the end of a cut answer emits U+FFFD for it: dropped here), the tool
call scanner (calls taken out, `mlx_tools`), the stop-string scanner (cut at the first stop
string, holding back a tail that may begin one). Each token's log-probability, when asked,
travels with the piece that carries its text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from router.backends.mlx.sampling import token_logprob, without_partial_character
from router.backends.mlx.tools import scanner_for
from router.wire import TokenLogprob, ToolCall


class Piece(msgspec.Struct, frozen=True):
    """Output of choice `index`: text (a token's worth, or the tokens since the last piece
    while a character was incomplete), their log-probabilities when asked, tool calls."""

    text: str
    index: int = 0
    logprobs: list[TokenLogprob] | None = None
    tool_calls: list[ToolCall] | None = None


class StopScanner:
    """Cuts generated text at the first stop string, holding back a tail that may start one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = stops
        self.longest = max((len(s) for s in stops), default=0)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that is safe to send now, and whether a stop string was reached."""
        if not self.stops:
            return text, False
        buffer = self.pending + text
        hits = [i for s in self.stops if (i := buffer.find(s)) >= 0]
        if hits:
            self.pending = ""
            return buffer[: min(hits)], True
        hold = 0
        for k in range(min(len(buffer), self.longest - 1), 0, -1):
            if any(s.startswith(buffer[-k:]) for s in self.stops):
                hold = k
                break
        self.pending = buffer[len(buffer) - hold :]
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        """The held-back text, once generation ended without reaching a stop string."""
        rest, self.pending = self.pending, ""
        return rest


class ChoiceOutput:
    """One choice's output on its way to the client: tool calls taken out, cut at a stop
    string, no partial character at the very end, log-probabilities gathered per piece."""

    def __init__(
        self,
        index: int,
        tokenizer: Any,
        post: Callable[[Piece], None],
        *,
        stops: list[str],
        tools: list[dict[str, Any]] | None,
        top_logprobs: int | None,
        one_tool_call: bool,
    ) -> None:
        self.index, self.tokenizer, self.post = index, tokenizer, post
        self.stops = StopScanner(stops)
        self.tools = scanner_for(tokenizer, tools)
        self.top_logprobs, self.one_tool_call = top_logprobs, one_tool_call
        self.pending: list[TokenLogprob] = []

    def take(self, response: Any, eos: bool) -> bool:
        """Post what this response makes sendable; True when a stop string was reached."""
        final = response.finish_reason is not None
        if self.top_logprobs is not None and not eos:
            self.pending.append(
                token_logprob(self.tokenizer, response.logprobs, response.token, self.top_logprobs)
            )
        text = without_partial_character(response.text) if final else response.text
        calls: list[ToolCall] = []
        if self.tools is not None:
            before = self.tools.made
            text, calls = self.tools.feed(text, final=final)
            calls = calls[: max(0, 1 - before)] if self.one_tool_call else calls
        text, hit = self.stops.feed(text)
        if final and not hit:
            text += self.stops.flush()
        if text or calls or ((final or hit) and self.pending):
            self.post(Piece(text, self.index, self.pending or None, calls or None))
            self.pending = []
        return hit

    def finish(self, reason: str) -> str:
        made_calls = self.tools is not None and self.tools.made > 0
        return "tool_calls" if made_calls and reason == "stop" else reason
