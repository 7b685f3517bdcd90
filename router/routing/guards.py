"""Guards on answers: checks that decide, without I/O, whether an answer may go out as it is.

- `answer_problem` (checked escalation): for a non-streamed request the router chose, the whole
  answer is read before the client sees it and run through the fast, deterministic graders
  that fit any task: empty, cut short by the model's own limit, degenerate repetition, leaked
  reasoning, invalid JSON when JSON was asked, and the wrong language (Japanese asked, English
  or Chinese answered; not for `translate`). A failing answer is asked again of the next
  candidate. The checks read at most `EDGE_BYTES` of the answer's text at its head and as
  much at its tail (where a loop shows), so their cost is bounded whatever the answer's
  size. A body over `WHOLE_BYTES` is not decoded whole (one msgspec pass over 50 MB holds
  the GIL for tens of milliseconds, and so stalls the event loop even from a thread): its
  text is found by a chunked scan and the rest, with a marker in the text's place, decoded.
  The dispatcher runs the check of any but a short answer in a worker thread.
- `LoopGuard`: for a stream, the text so far is watched for degenerate repetition (the seed's
  model that repeated a mail subject endlessly); when it trips, the router cuts the stream.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import msgspec

from router.grading.checks import check_json
from router.grading.gates import check_language, check_loop, check_reasoning, detect_lang
from router.grading.textscan import LOOP_WINDOW, loop_detected, loop_reason
from router.wire import ChatRequest, CheckedReply, CompletionRequest, decode_checked_reply

EDGE_BYTES = 32 * 1024  # of an answer's text (as JSON), what the checks read at each end
ASKED_CHARS = 2000  # of the request's last user text, what its language is judged by
WHOLE_BYTES = 2**20  # a body larger than this is not decoded whole (see the module doc)
_SCAN_CHUNK = 2**20  # the most bytes one search call reads (the GIL is held through it)
_TEXT_KEY = re.compile(rb'[{,\s]"(?:content|text)"\s*:\s*"')  # a key, never inside a string
_MARK = b'"\\u0000router\\u0000"'  # what stands in for the text of a large body


_decode_str = msgspec.json.Decoder(str).decode
_JSON_FORMATS = ("json_object", "json_schema")


class Excerpt(NamedTuple):
    """An answer's text: whole, or its head and tail when it is long."""

    head: str
    tail: str = ""
    whole: bool = True

    def joined(self) -> str:
        return self.head if self.whole else f"{self.head}\n{self.tail}"


def excerpt(raw: msgspec.Raw | memoryview) -> Excerpt | None:
    """The text of a JSON string (null or absent: ""), its ends only when longer than twice
    EDGE_BYTES; None when it is not a string (content parts: not ours to judge)."""
    view = memoryview(raw)
    if not view or (len(view) == 4 and view == b"null"):
        return Excerpt("")
    if view[:1] != b'"':
        return None
    try:
        if len(view) <= 2 * EDGE_BYTES + 2:
            return Excerpt(_decode_str(view))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return Excerpt(_end(view[:EDGE_BYTES], b"", b'"'), _end(view[-EDGE_BYTES:], b'"', b""), False)


def _end(piece: memoryview, before: bytes, after: bytes) -> str:
    """A piece cut out of a JSON string, decoded; a cut through an escape or a UTF-8
    sequence is moved by up to 12 bytes until the piece decodes."""
    for cut in range(13):
        part = piece[: len(piece) - cut] if after else piece[cut:]
        try:
            return _decode_str(before + bytes(part) + after)
        except (msgspec.DecodeError, UnicodeDecodeError):
            continue
    return ""


def _located(body: bytes) -> tuple[bytes, memoryview] | None:
    """Of a large body: the body with its first text (`content` or `text`) replaced by
    `_MARK`, and that text's JSON string; None when there is none, or the rest is large too."""
    found = _TEXT_KEY.search(body, 0, min(len(body), EDGE_BYTES))
    if found is None:
        return None
    start = found.end() - 1
    end = _string_end(body, start + 1)
    if end < 0 or len(body) - (end - start) > WHOLE_BYTES:
        return None
    return body[:start] + _MARK + body[end + 1 :], memoryview(body)[start : end + 1]


def _string_end(body: bytes, at: int) -> int:
    """Where the JSON string whose text starts at `at` ends (its closing quote), or -1.
    Linear, in searches of at most _SCAN_CHUNK bytes each."""
    size = len(body)
    while at < size:
        stop = min(at + _SCAN_CHUNK, size)
        quote = body.find(b'"', at, stop)
        if quote < 0:
            at = stop
            continue
        back = quote
        while body[back - 1] == 0x5C:  # backslashes before it: an odd count escapes it
            back -= 1
        if (quote - back) % 2 == 0:
            return quote
        at = quote + 1
    return -1


def _reply(body: bytes) -> tuple[CheckedReply, memoryview | None] | None:
    """The decoded reply, and the text's JSON string when a large body's was cut out; None
    when it cannot be read (not ours to judge: the client gets it as it is)."""
    token = None
    if len(body) > WHOLE_BYTES:
        located = _located(body)
        if located is None:
            return None
        body, token = located
    try:
        return decode_checked_reply(body), token
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


def answer_problem(task: str, body: bytes, parsed: ChatRequest | CompletionRequest) -> str | None:
    """The failure kind of an answer (`empty`, `truncated`, `loop`, ...), None when it passes."""
    read = _reply(body)
    if read is None:
        return None
    reply, token = read
    if not reply.choices:
        return "empty"
    choice = reply.choices[0]
    message = choice.message
    if message is not None and message.tool_calls:
        return None
    raw = message.content if message is not None else choice.text
    if token is not None and bytes(raw) != _MARK:
        return None  # the text cut out was not the answer's
    text = excerpt(raw if token is None else token)
    if text is None:
        return None
    if not (text.head.strip() or text.tail.strip()):
        return "empty"
    if choice.finish_reason == "length" and parsed.token_limit() is None:
        return "truncated"
    return _text_problem(task, text, parsed)


def _text_problem(task: str, text: Excerpt, parsed: ChatRequest | CompletionRequest) -> str | None:
    """What is wrong with the text itself: loop, leaked reasoning, JSON, language."""
    joined = text.joined()
    if not check_loop(text.head).passed or (not text.whole and loop_reason(text.tail)):
        return "loop"
    if not check_reasoning(joined).passed:
        return "leaked_reasoning"
    if _wants_json(parsed) and not _json_ok(text):
        return "invalid_json"
    if task != "translate":
        asked = detect_lang(parsed.last_user_text()[:ASKED_CHARS])
        if not check_language(joined, asked).passed:
            return "wrong_language"
    return None


def _json_ok(text: Excerpt) -> bool:
    """Valid JSON (fences allowed); of a long answer, only its ends can be seen: an object
    or a fence at both."""
    if text.whole:
        try:
            return check_json(text.head, {}, allow_fence=True).passed
        except RecursionError:  # nested deeper than msgspec decodes
            return False
    head, tail = text.head.lstrip(), text.tail.rstrip()
    return head.startswith(("{", "```")) and tail.endswith(("}", "```"))


def _wants_json(parsed: ChatRequest | CompletionRequest) -> bool:
    fmt = getattr(parsed, "response_format", None)
    return fmt is not None and fmt.type in _JSON_FORMATS


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
