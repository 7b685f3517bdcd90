"""Sanity tests of the scripted fake upstream, with httpx and the official openai SDK."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.fakes import FakeModel, FakeUpstream

ANSWER = "Hello from the fake model."  # 5 tokens: "Hello ", "from ", "the ", "fake ", "model."
ERROR_KEYS = {"message", "type", "param", "code"}
USER = [{"role": "user", "content": "say hello please"}]  # 3 prompt tokens


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    models = [
        FakeModel("chat", capabilities=["vision", "tools"]),
        FakeModel("echo", answer=lambda req: f"You said: {req['messages'][-1]['content']}"),
    ]
    with FakeUpstream(models) as server:
        yield server


@pytest.fixture
def client(up: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=up.base_url, timeout=5) as http:
        yield http


def sdk(up: FakeUpstream, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=up.base_url, api_key="unused", max_retries=0, **kw)  # type: ignore[arg-type]


def chat_body(model: str = "chat", **extra: object) -> dict:
    return {"model": model, "messages": USER, **extra}


def stream_lines(client: httpx.Client, body: dict, path: str = "/chat/completions") -> list[str]:
    with client.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        return [line for line in response.iter_lines() if line]


# --- the openai SDK ---------------------------------------------------------------------------


def test_models_list_reports_capabilities(up: FakeUpstream) -> None:
    models = {m.id: m.to_dict() for m in sdk(up).models.list()}
    assert set(models) == {"chat", "echo"}
    assert models["chat"]["capabilities"] == ["vision", "tools"]
    assert "capabilities" not in models["echo"]


def test_chat_non_stream(up: FakeUpstream) -> None:
    reply = sdk(up).chat.completions.create(model="chat", messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == ANSWER
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (3, 5)
    assert reply.usage.total_tokens == 8


async def test_chat_stream_with_usage_async(up: FakeUpstream) -> None:
    client = openai.AsyncOpenAI(base_url=up.base_url, api_key="unused", max_retries=0)
    stream = await client.chat.completions.create(
        model="chat",
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    chunks = [chunk async for chunk in stream]
    await client.close()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5 and chunks[-1].usage.prompt_tokens == 3


def test_callable_answer_sees_the_request(up: FakeUpstream) -> None:
    reply = sdk(up).chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "You said: say hello please"


def test_completions_sync_and_stream(up: FakeUpstream, client: httpx.Client) -> None:
    reply = sdk(up).completions.create(model="chat", prompt="one two", max_tokens=3)
    assert reply.object == "text_completion"
    assert reply.choices[0].text == "Hello from the "
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.prompt_tokens == 2
    lines = stream_lines(client, {"model": "chat", "prompt": "x"}, "/completions")
    assert lines[-1] == "data: [DONE]" and len(lines) == 5 + 2


async def test_embeddings_deterministic(up: FakeUpstream, client: httpx.Client) -> None:
    client_async = openai.AsyncOpenAI(base_url=up.base_url, api_key="unused", max_retries=0)
    first = await client_async.embeddings.create(model="chat", input="hello world")  # base64
    await client_async.close()
    vector = first.data[0].embedding
    assert len(vector) == 8 and abs(sum(v * v for v in vector) - 1) < 1e-3
    floats = client.post(
        "/embeddings", json={"model": "chat", "input": ["hello world", "other"]}
    ).json()
    assert [d["index"] for d in floats["data"]] == [0, 1]
    assert floats["data"][0]["embedding"] == pytest.approx(vector, abs=1e-5)
    assert floats["data"][1]["embedding"] != floats["data"][0]["embedding"]
    assert floats["usage"]["prompt_tokens"] == 3


# --- request shaping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "content", "finish", "tokens"),
    [
        ({"max_tokens": 2}, "Hello from ", "length", 2),
        ({"max_completion_tokens": 4}, "Hello from the fake ", "length", 4),
        ({"max_tokens": 5}, ANSWER, "stop", 5),
        ({"stop": ["fake", "the"]}, "Hello from ", "stop", 2),
        ({"stop": "ake"}, "Hello from the f", "stop", 4),
        ({"stop": "model", "max_tokens": 2}, "Hello from ", "length", 2),
    ],
)
def test_max_tokens_and_stop(
    client: httpx.Client, extra: dict, content: str, finish: str, tokens: int
) -> None:
    reply = client.post("/chat/completions", json=chat_body(**extra)).json()
    assert reply["choices"][0]["message"]["content"] == content
    assert reply["choices"][0]["finish_reason"] == finish
    assert reply["usage"]["completion_tokens"] == tokens


def test_loop_repeats_last_sentence_until_max_tokens(
    up: FakeUpstream, client: httpx.Client
) -> None:
    model = up.model("chat")
    model.answer, model.failure = "One. Two three.", "loop"
    reply = client.post("/chat/completions", json=chat_body(max_tokens=10)).json()
    assert reply["choices"][0]["message"]["content"] == "One." + " Two three." * 4 + " Two "
    assert reply["choices"][0]["finish_reason"] == "length"
    lines = stream_lines(client, chat_body())
    assert len(lines) == 256 + 2  # default limit, then the finish chunk and [DONE]


def test_errors_and_recording(up: FakeUpstream, client: httpx.Client) -> None:
    bad = client.post("/chat/completions", content=b"{nope", headers={"X-Trace": "1"})
    assert bad.status_code == 400 and set(bad.json()["error"]) == ERROR_KEYS
    missing = client.post("/chat/completions", json=chat_body("nope"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert client.get("/nowhere").status_code == 404
    assert client.get("/models/nope").status_code == 404
    assert [r.path for r in up.requests] == [
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/nowhere",
        "/v1/models/nope",
    ]
    first = up.requests[0]
    assert first.method == "POST" and first.body == b"{nope" and first.json is None
    assert first.headers["x-trace"] == "1"
    assert up.requests[1].json == chat_body("nope")
    up.reset()
    assert up.requests == []


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["500", "503", "429", "400"])
def test_status_failures(up: FakeUpstream, client: httpx.Client, status: str) -> None:
    up.model("chat").failure = status
    for body in (chat_body(), chat_body(stream=True)):
        response = client.post("/chat/completions", json=body)
        assert response.status_code == int(status)
        assert set(response.json()["error"]) == ERROR_KEYS
        assert ("retry-after" in response.headers) == (status in ("503", "429"))


def test_fail_times_then_success(up: FakeUpstream, client: httpx.Client) -> None:
    model = up.model("chat")
    model.failure, model.fail_times = "503", 2
    statuses = [client.post("/chat/completions", json=chat_body()).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert len(up.requests) == 4  # failing requests are recorded too
    up.reset()
    assert client.post("/chat/completions", json=chat_body()).status_code == 503


def test_drop(up: FakeUpstream, client: httpx.Client) -> None:
    model = up.model("chat")
    model.failure, model.fail_after_tokens = "drop", 2
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response,
    ):
        assert response.status_code == 200
        received.extend(line for line in response.iter_lines() if line)
    assert len(received) == 2 and all(line.startswith("data: {") for line in received)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat_body())
    assert client.get("/models").status_code == 200  # the server lives on


def test_malformed(up: FakeUpstream, client: httpx.Client) -> None:
    model = up.model("chat")
    model.failure, model.fail_after_tokens = "malformed", 1
    lines = stream_lines(client, chat_body())
    assert lines[1:] == ["data: {not json", "data: [DONE]"]
    response = client.post("/chat/completions", json=chat_body())
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_hang_times_out(up: FakeUpstream) -> None:
    up.model("chat").failure = "hang"
    with httpx.Client(base_url=up.base_url, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post("/chat/completions", json=chat_body())
        assert time.monotonic() - started < 2
    assert up.requests[-1].json == chat_body()


def test_hang_after_headers(up: FakeUpstream) -> None:
    up.model("chat").failure = "hang_after_headers"
    with (
        httpx.Client(base_url=up.base_url, timeout=0.3) as client,
        client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with pytest.raises(httpx.ReadTimeout):
            list(response.iter_lines())


def test_stop_with_hanging_request_in_flight() -> None:
    up = FakeUpstream([FakeModel("chat", failure="hang")]).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.post(f"{up.base_url}/chat/completions", json=chat_body(), timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while up.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    up.stop()
    assert time.monotonic() - started < 1
    caller.join(5)
    assert not caller.is_alive() and len(errors) == 1


# --- pacing, keys, speed -----------------------------------------------------------------------


def test_ttft_honoured(up: FakeUpstream, client: httpx.Client) -> None:
    up.model("chat").ttft = 0.2
    started = time.monotonic()
    with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        first = next(line for line in response.iter_lines() if line)
        elapsed = time.monotonic() - started
    assert first.startswith("data: {") and 0.2 <= elapsed < 1.5
    started = time.monotonic()
    assert client.post("/chat/completions", json=chat_body()).status_code == 200
    assert 0.2 <= time.monotonic() - started < 1.5


def test_tokens_per_s_honoured(up: FakeUpstream, client: httpx.Client) -> None:
    up.model("chat").answer, up.model("chat").tokens_per_s = "w " * 11, 20.0
    stamps = []
    with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as response:
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                stamps.append(time.monotonic())
    assert len(stamps) == 11
    assert 0.45 <= stamps[-1] - stamps[0] < 1.5  # ten gaps of 1/20 s
    started = time.monotonic()
    client.post("/chat/completions", json=chat_body())
    assert 0.45 <= time.monotonic() - started < 1.5


def test_api_key_enforced() -> None:
    with FakeUpstream([FakeModel("chat")], api_key="sekret") as up:
        assert httpx.get(f"{up.base_url}/models").status_code == 401
        wrong = httpx.get(f"{up.base_url}/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            sdk(up).models.list()
        good = openai.OpenAI(base_url=up.base_url, api_key="sekret", max_retries=0)
        assert [m.id for m in good.models.list()] == ["chat"]
        assert up.requests[-1].headers["authorization"] == "Bearer sekret"


async def test_concurrent_streams(up: FakeUpstream) -> None:
    up.model("chat").tokens_per_s = 50.0
    async with httpx.AsyncClient(base_url=up.base_url, timeout=5) as client:

        async def one() -> int:
            async with client.stream("POST", "/chat/completions", json=chat_body(stream=True)) as r:
                return len([line async for line in r.aiter_lines() if line])

        assert await asyncio.gather(*(one() for _ in range(8))) == [7] * 8
    assert up.peak_in_flight == 8


async def test_non_stream_server_time_well_under_a_millisecond(up: FakeUpstream) -> None:
    body = b'{"model":"chat","messages":[{"role":"user","content":"hi there"}]}'
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        await up.asgi_app(scope, receive, send)
    per_request = (time.perf_counter() - started) / rounds
    assert sent[0]["status"] == 200 and b"Hello from" in sent[1]["body"]
    assert per_request < 0.0005, f"{per_request * 1e6:.0f} µs per request"
