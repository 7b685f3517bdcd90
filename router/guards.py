"""Guards on answers: checks that decide, without I/O, whether an answer may go out as it is.

- `answer_problem` (checked escalation): for a non-streamed request the router chose, the whole
  answer is read before the client sees it and run through the fast, deterministic graders
  that fit any task: empty, cut short by the model's own limit, degenerate repetition, leaked
  reasoning, invalid JSON when JSON was asked, and the wrong language (Japanese asked, English
  or Chinese answered; not for `translate`). A failing answer is asked again of the next
  candidate.
- `LoopGuard`: for a stream, the text so far is watched for degenerate repetition (the seed's
  model that repeated a mail subject endlessly); when it trips, the router cuts the stream.
"""

from __future__ import annotations

import msgspec

from router.graders import check_json, check_language, check_loop, check_reasoning, detect_lang
from router.textscan import LOOP_WINDOW, loop_detected
from router.wire import ChatRequest, CompletionRequest


class _Message(msgspec.Struct):
    content: str | None = None
    tool_calls: list[msgspec.Raw] | None = None


class _Choice(msgspec.Struct):
    message: _Message | None = None
    text: str | None = None
    finish_reason: str | None = None


class _Reply(msgspec.Struct):
    choices: list[_Choice] = []


_decode_reply = msgspec.json.Decoder(_Reply).decode
_JSON_FORMATS = ("json_object", "json_schema")


def answer_problem(task: str, body: bytes, parsed: ChatRequest | CompletionRequest) -> str | None:
    """The failure kind of an answer (`empty`, `truncated`, `loop`, ...), None when it passes."""
    try:
        reply = _decode_reply(body)
    except msgspec.DecodeError:
        return None  # not ours to judge; the client gets it as it is
    if not reply.choices:
        return "empty"
    choice = reply.choices[0]
    if choice.message is not None and choice.message.tool_calls:
        return None
    text = (choice.message.content if choice.message else choice.text) or ""
    if not text.strip():
        return "empty"
    if choice.finish_reason == "length" and parsed.token_limit() is None:
        return "truncated"
    for verdict in (check_loop(text), check_reasoning(text)):
        if not verdict.passed:
            return verdict.kind
    if _wants_json(parsed) and not check_json(text, {}, allow_fence=True).passed:
        return "invalid_json"
    if task != "translate":
        asked = detect_lang(_asked_text(parsed))
        if not check_language(text, asked).passed:
            return "wrong_language"
    return None


def _wants_json(parsed: ChatRequest | CompletionRequest) -> bool:
    fmt = getattr(parsed, "response_format", None)
    return fmt is not None and fmt.type in _JSON_FORMATS


def _asked_text(parsed: ChatRequest | CompletionRequest) -> str:
    if isinstance(parsed, CompletionRequest):
        return parsed.prompt if isinstance(parsed.prompt, str) else " ".join(parsed.prompt)
    users = [m.text() for m in parsed.messages if m.role == "user"]
    return users[-1][:2000] if users else ""


class LoopGuard:
    """Watches a growing text; `feed` says when it has become a loop.

    `loop_detected` looks at a bounded tail (about 0.5 ms), so it runs once every `every`
    characters of new text rather than on every token."""

    __slots__ = ("_checked", "_parts", "_size", "every")

    def __init__(self, every: int = 64) -> None:
        self.every = every
        self._parts: list[str] = []
        self._size = 0
        self._checked = 0

    def feed(self, text: str) -> bool:
        if not text:
            return False
        self._parts.append(text)
        self._size += len(text)
        if self._size - self._checked < self.every:
            return False
        self._checked = self._size
        joined = "".join(self._parts)
        self._parts = [joined[-LOOP_WINDOW:]]
        return loop_detected(joined)
