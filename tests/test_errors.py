"""router.errors: what a client sees when every candidate failed (`AllCandidatesFailed`)."""

from __future__ import annotations

import math

import msgspec
import pytest

from router.errors import (
    AllCandidatesFailed,
    BackendError,
    BackendStatusError,
    BackendTimeout,
    BackendUnreachable,
    Failure,
    Overloaded,
    QueueTimeout,
    retry_after_seconds,
)


def _failed(*errors: BackendError) -> AllCandidatesFailed:
    return AllCandidatesFailed(
        [Failure(f"m{i}", f"b{i}", err) for i, err in enumerate(errors, start=1)]
    )


def _body(err: BackendError) -> dict[str, object]:
    return msgspec.json.decode(err.body())["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "alone",
    [
        BackendUnreachable("lmstudio (http://h/v1): cannot connect: refused"),
        BackendStatusError(429, "lmstudio: slow down", retry_after="7"),
        BackendStatusError(404, "lmstudio: no such model"),
        QueueTimeout("gemma on lmstudio: waited 60s in the queue without a turn."),
        Overloaded("gemma on lmstudio is busy", retry_after=3),
    ],
    ids=lambda e: type(e).__name__,
)
def test_one_failure_is_reported_as_it_is(alone: BackendError) -> None:
    err = _failed(alone)
    assert (err.status, err.headers(), err.body()) == (alone.status, alone.headers(), alone.body())
    assert (err.model, err.backend) == ("m1", "b1")


def test_several_name_each_model_and_why_in_order() -> None:
    err = _failed(BackendTimeout("b1: timed out"), BackendStatusError(500, "b2: 500"))
    assert err.message == "Every candidate failed. m1: b1: timed out; m2: b2: 500"
    assert [f.model for f in err.failures] == ["m1", "m2"]
    assert (err.model, err.backend) == ("m2", "b2")  # counted under the last one tried


@pytest.mark.parametrize(
    ("errors", "status", "code"),
    [
        ((BackendTimeout("t"), BackendStatusError(500, "x")), 502, "upstream_error"),
        ((BackendStatusError(500, "x"), BackendTimeout("t")), 504, "upstream_timeout"),
        ((BackendStatusError(500, "x"), Overloaded("busy")), 502, "upstream_error"),
        ((Overloaded("busy"), QueueTimeout("q")), 503, "queue_timeout"),
        ((BackendStatusError(404, "x"), BackendStatusError(404, "y")), 404, "upstream_rejected"),
        ((BackendStatusError(404, "x"), Overloaded("busy")), 429, "rate_limit_exceeded"),
    ],
)
def test_the_status_follows_the_failures(
    errors: tuple[BackendError, ...], status: int, code: str
) -> None:
    err = _failed(*errors)
    assert (err.status, err.code, _body(err)["code"]) == (status, code, code)


def test_all_busy_is_429_with_the_shortest_retry_after() -> None:
    err = _failed(
        Overloaded("m1 busy", retry_after=9),
        BackendStatusError(429, "b2: slow down", retry_after="2"),
        BackendStatusError(429, "b3: slow down"),  # none given: not the shortest
    )
    assert err.status == 429 and err.type == "rate_limit_exceeded"
    assert err.headers() == {"retry-after": "2"}


def test_a_5xx_keeps_its_own_retry_after() -> None:
    err = _failed(BackendStatusError(429, "b1: slow down", retry_after="1"), QueueTimeout("q"))
    assert err.status == 503 and err.headers() == {"retry-after": "5"}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3", 3.0), (" 2.5 ", 2.5), (None, math.inf), ("soon", math.inf), ("nan", math.inf)],
)
def test_retry_after_seconds(value: str | None, seconds: float) -> None:
    assert retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:00 GMT", wall_now=30.0) == 30.0
