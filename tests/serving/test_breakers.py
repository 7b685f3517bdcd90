"""The circuit breakers on a real router, where real sockets matter: an upstream's 404 for an
endpoint it lacks closes nothing, refused connections open the backend-wide breaker, and hung
streams to one model do not starve another (the per-model share of the connection pool).

The breakers' logic (4xx, 429 and the router's own queue never count, one model's failures
spare its neighbours, one half-open probe, a health check closes nothing) is tested without
sockets in `tests/serving/test_dispatch.py`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

HELLO = [{"role": "user", "content": "hello"}]


def _chat(router: RunningRouter, model: str, **extra: object) -> httpx.Response:
    body = {"model": model, "messages": HELLO, **extra}
    return httpx.post(router.base_url + "/chat/completions", json=body, timeout=10)


@pytest.fixture
def chat_only() -> Iterator[FakeUpstream]:
    """An upstream that serves chat but has no /v1/embeddings (404 there)."""
    with FakeUpstream([FakeModel("chat", answer="A chat answer.")]) as fake:
        del fake.asgi_app.routes["/v1/embeddings"]
        yield fake


def test_404s_for_an_endpoint_the_upstream_lacks_do_not_close_it_for_chats(
    chat_only: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(
        backend_toml("lmstudio", chat_only.base_url) + '[routing]\ndefault_model = "chat"\n'
    )
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)
    for _ in range(3):
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="chat", input="hello")
    for model in ("auto", "chat"):
        reply = client.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
        assert reply.choices[0].message.content == "A chat answer."
    assert httpx.get(router.root + "/readyz").status_code == 200


def test_connection_failures_open_the_backend_wide_breaker(
    start_router: Callable[[str], RunningRouter],
) -> None:
    with FakeUpstream([FakeModel("a"), FakeModel("b")]) as fake:
        config = backend_toml(
            "lmstudio", fake.base_url, 'models = ["a", "b"]\nfailure_threshold = 2\ncooldown = 30'
        )
        router = start_router(config)
    # the upstream is gone: connections are refused, whichever model is asked
    assert [_chat(router, m).status_code for m in ("a", "b")] == [502, 502]
    cooling = _chat(router, "a")
    assert cooling.status_code == 503 and "cooling down" in cooling.json()["error"]["message"]
    assert _chat(router, "b").status_code == 503
    assert router.metric("router_backend_up", backend="lmstudio") == 0
    assert httpx.get(router.root + "/readyz").status_code == 503


def test_hung_streams_to_one_model_do_not_starve_another_on_the_same_upstream(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(backend_toml("lmstudio", fake.base_url, "read_timeout = 5"))
    fake.model("slow-model").failure = "hang"

    async def scenario() -> tuple[list[int], float, int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            body = {"model": "slow-model", "messages": HELLO, "stream": True}
            url = router.base_url + "/chat/completions"
            hung = [asyncio.create_task(client.post(url, json=body)) for _ in range(70)]
            await asyncio.sleep(1.0)  # every one of them is in: running, queued or refused
            refused = [t.result().status_code for t in hung if t.done()]
            start = time.perf_counter()
            fast = await client.post(url, json={"model": "fast-model", "messages": HELLO})
            waited = time.perf_counter() - start
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
            return refused, waited, fast.status_code

    refused, waited, status = asyncio.run(scenario())
    assert status == 200 and waited < 1.0, f"the healthy model waited {waited:.1f}s"
    assert refused == [429] * (70 - 32 - 16)  # 32 at once, 16 waiting, the rest told to wait
