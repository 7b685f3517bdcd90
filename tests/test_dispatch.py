"""Dispatch: replicas of one model on several backends, fallback before the first token."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from tests.conftest import RunningRouter, backend_toml, free_port
from tests.fakes.upstream import FakeModel, FakeUpstream

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def two_macs() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    """Two LM Studio machines serving the same model id."""
    with (
        FakeUpstream([FakeModel("gemma", answer="from mac one")]) as one,
        FakeUpstream([FakeModel("gemma", answer="from mac two")]) as two,
    ):
        yield one, two


@pytest.fixture
def replicated(
    two_macs: tuple[FakeUpstream, FakeUpstream], start_router: Callable[[str], RunningRouter]
) -> RunningRouter:
    one, two = two_macs
    return start_router(backend_toml("mac1", one.base_url) + backend_toml("mac2", two.base_url))


def _client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)


@pytest.mark.parametrize("failure", ["500", "503", "hang", "drop", "malformed"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_failing_replica_is_replaced_before_the_first_token(
    two_macs: tuple[FakeUpstream, FakeUpstream],
    start_router: Callable[[str], RunningRouter],
    failure: str,
    stream: bool,
) -> None:
    one, two = two_macs
    router = start_router(
        backend_toml("mac1", one.base_url, "read_timeout = 0.5")
        + backend_toml("mac2", two.base_url)
    )
    one.model("gemma").failure = failure
    raw = _client(router).chat.completions.with_raw_response.create(
        model="gemma", messages=MESSAGES, stream=stream
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    else:
        text = raw.parse().choices[0].message.content or ""
    assert text == "from mac two"
    assert raw.headers["x-router-backend"] == "mac2"
    assert raw.headers["x-router-reason"].startswith("direct; fell back from gemma (")
    assert router.metric("router_fallbacks_total", from_model="gemma", to_model="gemma") == 1


def test_a_client_error_is_not_retried_elsewhere(
    two_macs: tuple[FakeUpstream, FakeUpstream], replicated: RunningRouter
) -> None:
    one, two = two_macs
    one.model("gemma").failure = "400"
    with pytest.raises(openai.BadRequestError):
        _client(replicated).chat.completions.create(model="gemma", messages=MESSAGES)

    def chats(fake: FakeUpstream) -> int:
        return sum(r.path == "/v1/chat/completions" for r in fake.requests)

    assert chats(one) == 1 and chats(two) == 0


def test_requests_spread_over_idle_replicas_and_skip_a_down_one(
    start_router: Callable[[str], RunningRouter],
    two_macs: tuple[FakeUpstream, FakeUpstream],
) -> None:
    one, two = two_macs
    dead = backend_toml("dead", f"http://127.0.0.1:{free_port()}/v1", 'models = ["gemma"]')
    router = start_router(
        dead + backend_toml("mac1", one.base_url) + backend_toml("mac2", two.base_url)
    )
    client = _client(router)
    backends = {
        client.chat.completions.with_raw_response.create(model="gemma", messages=MESSAGES).headers[
            "x-router-backend"
        ]
        for _ in range(4)
    }
    assert "dead" not in backends and backends <= {"mac1", "mac2"}
    assert not router.metric("router_fallbacks_total", from_model="gemma", to_model="gemma")


def test_every_replica_failing_reports_each_failure(
    two_macs: tuple[FakeUpstream, FakeUpstream], replicated: RunningRouter
) -> None:
    for fake in two_macs:
        fake.model("gemma").failure = "500"
    with pytest.raises(openai.APIStatusError) as caught:
        _client(replicated).chat.completions.create(model="gemma", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "Every candidate failed" in caught.value.message
    assert "mac1" in caught.value.message and "mac2" in caught.value.message
