"""router.backends.translate: the one place lower-layer errors become the router's."""

from __future__ import annotations

import asyncio

import httpx
import msgspec
import pytest

from router.backends.http.pool import MalformedResponse, ResponseTooLarge
from router.backends.translate import translated
from router.errors import (
    AnswerTooLarge,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeout,
    BackendUnavailable,
    BackendUnreachable,
    QueueTimeout,
)

WHERE = "lmstudio (http://127.0.0.1:1234/v1)"


def _undecodable() -> Exception:
    try:
        msgspec.json.decode(b"{not json")
    except msgspec.DecodeError as err:
        return err
    raise AssertionError("decoded")


@pytest.mark.parametrize(
    ("lower", "expected", "code"),
    [
        (httpx.PoolTimeout("busy"), QueueTimeout, "queue_timeout"),
        (httpx.ConnectTimeout(""), BackendUnreachable, "upstream_unavailable"),
        (httpx.ConnectError("refused"), BackendUnreachable, "upstream_unavailable"),
        (httpx.ReadTimeout("slow"), BackendTimeout, "upstream_timeout"),
        (httpx.WriteTimeout("slow"), BackendTimeout, "upstream_timeout"),
        (httpx.RemoteProtocolError("gone"), BackendUnavailable, "upstream_unavailable"),
        (httpx.ReadError("reset"), BackendUnavailable, "upstream_unavailable"),
        (MalformedResponse("not HTTP"), BackendProtocolError, "upstream_protocol_error"),
        (ResponseTooLarge("big"), AnswerTooLarge, "upstream_answer_too_large"),
        (_undecodable(), BackendProtocolError, "upstream_protocol_error"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), BackendProtocolError, None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_lower_errors_become_the_routers(
    lower: Exception, expected: type[BackendError], code: str | None
) -> None:
    with pytest.raises(BackendError) as caught, translated(WHERE, "answer"):
        raise lower
    assert type(caught.value) is expected
    assert caught.value.message.startswith(WHERE + ": ")
    assert code is None or caught.value.code == code
    assert caught.value.__suppress_context__  # one line, not a chain


def test_a_decoders_error_names_the_body() -> None:
    with (
        pytest.raises(BackendProtocolError, match="unreadable model list: "),
        translated(WHERE, "model list"),
    ):
        msgspec.json.decode(b"[1,")


def test_a_size_cap_names_its_setting() -> None:
    with (
        pytest.raises(AnswerTooLarge, match=r"too big \(max_answer_bytes\)$"),
        translated(WHERE, "answer", cap="max_answer_bytes"),
    ):
        raise ResponseTooLarge("too big")


@pytest.mark.parametrize(
    "own",
    [BackendStatusError(500, "x: 500"), BackendTimeout("x: slow"), ValueError("a bug")],
)
def test_other_errors_pass_unchanged(own: Exception) -> None:
    with pytest.raises(type(own)) as caught, translated(WHERE, "answer"):
        raise own
    assert caught.value is own


def test_a_cancellation_passes() -> None:
    async def cancelled() -> None:
        with translated(WHERE, "answer"):
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled())
