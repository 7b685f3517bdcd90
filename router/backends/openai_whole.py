"""Whole answers from an OpenAI-compatible upstream: read within a size cap, judged, their
usage found, and the message of an error body.

A body is read into one growing buffer (no join of its pieces at the end) and refused at once
when it declares more than the cap. An answer larger than `WHOLE_DECODE_BYTES` is not decoded
whole: one msgspec pass over 50 MB holds the GIL for tens of milliseconds, so every other
client would wait; it must look like a JSON object at both ends, and its usage is read from its
tail, where servers put it. A 200 whose body is an OpenAI error object is a failure.
"""

from __future__ import annotations

import io
import re

import httpx
import msgspec

from router.backends.http.pool import ResponseTooLarge
from router.errors import BackendError, BackendProtocolError
from router.wire import Usage, decode_reply_head, decode_upstream_error, decode_usage

WHOLE_DECODE_BYTES = 2**20  # a larger answer is not decoded whole
_OBJECT_START = re.compile(rb"\s*\{")
_OBJECT_END = re.compile(rb"\}\s*\Z")
_USAGE_KEY = re.compile(rb'[{,\s]"usage"\s*:\s*\{')  # a key: never inside a string


async def read_whole(response: httpx.Response, cap: int, what: str) -> bytes:
    """A response's body, refused early when it declares more than `cap` bytes and cut off
    when it grows past it (`ResponseTooLarge`, which names `what`)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ResponseTooLarge(f"the {what} declares {declared} bytes, over {cap}")
    buffer, size = io.BytesIO(), 0
    async for piece in response.aiter_raw():
        size += len(piece)
        if size > cap:
            raise ResponseTooLarge(f"the {what} is larger than {cap} bytes")
        buffer.write(piece)
    return buffer.getvalue()


def answer_usage(name: str, content: bytes) -> Usage | None:
    """A whole answer's usage; an answer that is not JSON, or is an error object (a 200 some
    servers send), is the upstream's (named `name`) failure. Called within the caller's
    `router.backends.translate.translated`, which turns a decoder's error into one."""
    if len(content) > WHOLE_DECODE_BYTES:
        if _OBJECT_START.match(content) and _OBJECT_END.search(content, len(content) - 64):
            return tail_usage(content)
        raise BackendProtocolError(f"{name}: the answer is not a JSON object")
    head = decode_reply_head(content)
    if head.error and not head.choices and not head.data and bytes(head.error) != b"null":
        message = error_message(content) or "an error object"
        raise BackendError(f"{name}: answered 200 with an error: {message}")
    return head.usage


def tail_usage(content: bytes) -> Usage | None:
    """The usage object among an answer's last 4 KiB, if any."""
    tail = content[-4096:]
    keys = list(_USAGE_KEY.finditer(tail))
    if not keys:
        return None
    start = keys[-1].end() - 1
    end = start
    for _ in range(8):  # its closing brace: the first that makes it decode
        end = tail.find(b"}", end + 1)
        if end < 0:
            return None
        try:
            return decode_usage(tail[start : end + 1])
        except (msgspec.DecodeError, UnicodeDecodeError):
            continue
    return None


def error_message(body: bytes) -> str:
    """The message an upstream put in its error body, whatever its shape."""
    try:
        parsed = decode_upstream_error(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace").strip()
    return parsed.message()
