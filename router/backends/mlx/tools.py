"""Tool calls of in-process models, found in the generated text with mlx-lm's tool parsers.

A tokenizer that mlx-lm knows a tool-call format for (`TokenizerWrapper.has_tool_calling`)
marks each call with `tool_call_start` ... `tool_call_end`; the text between goes to its
`tool_parser`, whose result becomes OpenAI's tool call. Text outside the markers is the answer;
a tail that may begin a marker is held back until the next piece tells.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from router.wire import ToolCall, ToolCallFunction

log = logging.getLogger("router")
Parser = Callable[[str, Any], Any]


class ToolCallScanner:
    def __init__(self, start: str, end: str, parse: Parser, tools: list[dict[str, Any]]) -> None:
        self.start, self.end, self.parse, self.tools = start, end, parse, tools
        self.buffer = ""
        self.inside = False
        self.made = 0

    def feed(self, text: str, *, final: bool = False) -> tuple[str, list[ToolCall]]:
        """The text that is answer (safe to send now), and the tool calls completed."""
        self.buffer += text
        out: list[str] = []
        calls: list[ToolCall] = []
        while True:
            if not self.inside:
                at = self.buffer.find(self.start)
                if at < 0:
                    keep = 0 if final else _tail_of(self.buffer, self.start)
                    out.append(self.buffer[: len(self.buffer) - keep])
                    self.buffer = self.buffer[len(self.buffer) - keep :]
                    break
                out.append(self.buffer[:at])
                self.buffer, self.inside = self.buffer[at + len(self.start) :], True
                continue
            at = self.buffer.find(self.end) if self.end else -1
            if at < 0:
                if final:  # cut at max_tokens or no end marker: parse what there is
                    calls += self._parsed(self.buffer)
                    self.buffer = ""
                break
            calls += self._parsed(self.buffer[:at])
            self.buffer, self.inside = self.buffer[at + len(self.end) :], False
        self.made += len(calls)
        return "".join(out), calls

    def _parsed(self, text: str) -> list[ToolCall]:
        try:
            found = self.parse(text.strip(), self.tools)
        except (ValueError, KeyError, TypeError) as err:  # as mlx_lm.server: log, go on
            log.warning("a tool call could not be parsed (%s): %.200r", err, text)
            return []
        return [_call(c) for c in (found if isinstance(found, list) else [found])]


def _call(found: dict[str, Any]) -> ToolCall:
    arguments = found.get("arguments", {})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    call_id = found.get("id") or f"call_{uuid.uuid4().hex[:24]}"
    return ToolCall(call_id, ToolCallFunction(str(found.get("name", "")), text))


def _tail_of(text: str, marker: str) -> int:
    """How many characters at the end of `text` may begin `marker`."""
    for k in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-k:]):
            return k
    return 0


def scanner_for(tokenizer: Any, tools: list[dict[str, Any]] | None) -> ToolCallScanner | None:
    """A scanner for the tokenizer's tool-call format; None without tools. Raises `LookupError`
    when tools were given and mlx-lm knows no tool-call format for this tokenizer."""
    if not tools:
        return None
    if not getattr(tokenizer, "has_tool_calling", False) or tokenizer.tool_parser is None:
        raise LookupError("this model has no tool-call format mlx-lm can parse")
    return ToolCallScanner(
        tokenizer.tool_call_start, tokenizer.tool_call_end or "", tokenizer.tool_parser, tools
    )
