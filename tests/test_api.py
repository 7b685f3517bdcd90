"""The OpenAI-compatible API end to end: the official SDK -> router -> fake upstream."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.conftest import RunningRouter, backend_toml, free_port
from tests.fakes.upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="unused", max_retries=0)


@pytest.fixture
def aclient(router: RunningRouter) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=router.base_url, api_key="unused", max_retries=0)


def test_models_lists_upstream_and_virtual_ids(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["fast-model", "slow-model", "vision-model"]
    assert "auto" in ids and "router/summarize" in ids and "router/qa" in ids


def test_model_retrieve_takes_ids_with_slashes(client: openai.OpenAI) -> None:
    assert client.models.retrieve("router/business_mail").id == "router/business_mail"
    assert client.models.retrieve("fast-model").owned_by == "fake"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_chat_non_stream_goes_to_the_named_model(client: openai.OpenAI, fake: FakeUpstream) -> None:
    raw = client.chat.completions.with_raw_response.create(model="fast-model", messages=MESSAGES)
    answer = raw.parse()
    assert answer.choices[0].message.content == "The capital of France is Paris."
    assert answer.usage is not None and answer.usage.completion_tokens == 6
    assert raw.headers["x-router-model"] == "fast-model"
    assert raw.headers["x-router-backend"] == "lmstudio"
    assert raw.headers["x-router-reason"] == "direct"
    assert raw.headers["x-router-task"] == "none"
    assert fake.requests[-1].json["model"] == "fast-model"


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="slow-model",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "A slow but careful answer."
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_stream_without_usage_hides_the_usage_the_router_asked_for(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    stream = client.chat.completions.create(model="fast-model", messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}


async def test_async_client_chat_and_stream(aclient: openai.AsyncOpenAI) -> None:
    answer = await aclient.chat.completions.create(model="fast-model", messages=MESSAGES)
    assert "Paris" in (answer.choices[0].message.content or "")
    stream = await aclient.chat.completions.create(model="auto", messages=MESSAGES, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert "Paris" in text


def test_completions_and_embeddings(client: openai.OpenAI) -> None:
    completion = client.completions.create(model="fast-model", prompt="Say it", max_tokens=3)
    assert completion.choices[0].text == "The capital of "
    assert completion.choices[0].finish_reason == "length"
    embedding = client.embeddings.create(model="fast-model", input=["a", "b"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) == 8


def test_without_a_profile_auto_goes_to_the_default_model(client: openai.OpenAI) -> None:
    for model in ("auto", "router/summarize"):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
        assert raw.headers["x-router-model"] == "fast-model"
        assert raw.headers["x-router-reason"].endswith("default")
    raw = client.chat.completions.with_raw_response.create(
        model="router/summarize", messages=MESSAGES
    )
    assert raw.headers["x-router-task"] == "summarize"


def test_task_hint_header_is_honoured_and_checked(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=MESSAGES, extra_headers={"x-router-task": "translate"}
    )
    assert raw.headers["x-router-task"] == "translate"
    with pytest.raises(openai.BadRequestError, match="unknown task"):
        client.chat.completions.create(
            model="auto", messages=MESSAGES, extra_headers={"x-router-task": "juggling"}
        )


def test_unread_fields_reach_the_upstream_untouched(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    client.chat.completions.create(
        model="fast-model",
        messages=MESSAGES,
        tools=tools,
        response_format=response_format,
        seed=7,
        logprobs=True,
        extra_body={"top_k": 40, "min_p": 0.05},
    )
    sent = fake.requests[-1].json
    assert sent["tools"] == tools and sent["response_format"] == response_format
    assert (sent["seed"], sent["logprobs"], sent["top_k"], sent["min_p"]) == (7, True, 40, 0.05)


def test_body_is_forwarded_byte_for_byte(http: httpx.Client, fake: FakeUpstream) -> None:
    body = b'{"model": "fast-model",  "messages": [{"role": "user", "content": "hi"}], "x": [1, 2]}'
    assert http.post("/v1/chat/completions", content=body).status_code == 200
    assert fake.requests[-1].body == body


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        (b"{not json", 400, "invalid_request", None),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "invalid_request", None),
        (b'{"model": "fast-model"}', 400, "invalid_request", None),
        (b'{"model": "fast-model", "messages": []}', 400, "invalid_request", "messages"),
        (
            b'{"model": "fast-model", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "invalid_request",
            "messages[0].role",
        ),
        (b'{"model": "fast-model", "messages": "hi"}', 400, "invalid_request", "messages"),
        (
            b'{"model": "fast-model", "max_tokens": -5, "messages": [{"role": "user"}]}',
            400,
            "invalid_request",
            "max_tokens",
        ),
        (
            b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model_not_found",
            "model",
        ),
        (
            b'{"model": "router/juggling", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "model_not_found",
            "model",
        ),
        (b"\xff\xfe\x00", 400, "invalid_request", None),
    ],
)
def test_bad_requests_get_openai_errors(
    http: httpx.Client, body: bytes, status: int, code: str, param: str | None
) -> None:
    response = http.post("/v1/chat/completions", content=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["param"] == param
    assert error["message"] and error["type"]


def test_unknown_path_and_method_are_openai_errors(http: httpx.Client) -> None:
    missing = http.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = http.get("/v1/chat/completions")
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]["message"]


def test_oversized_body_is_413(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(
        "[server]\nmax_body_bytes = 2048\n" + backend_toml("lmstudio", fake.base_url)
    )
    big = json.dumps({"model": "fast-model", "messages": [{"role": "user", "content": "x" * 5000}]})
    response = httpx.post(router.base_url + "/chat/completions", content=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        ("500", 502, "upstream_error"),
        ("503", 502, "upstream_error"),
        ("400", 400, "upstream_rejected"),
        ("429", 429, "rate_limit_exceeded"),
        ("hang", 504, "upstream_timeout"),
        ("drop", 502, "upstream_unavailable"),
    ],
)
def test_upstream_failures_map_to_statuses(
    fake: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    failure: str,
    status: int,
    code: str,
) -> None:
    router = start_router(backend_toml("lmstudio", fake.base_url, "read_timeout = 0.5"))
    fake.model("fast-model").failure = failure
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fast-model", messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.body["code"] == code  # type: ignore[index]
    if failure in ("429", "503"):  # the upstream's Retry-After reaches the client
        assert caught.value.response.headers["retry-after"] == "1"


def test_upstream_down_is_502(start_router: Callable[[str], RunningRouter]) -> None:
    config = backend_toml("gone", f"http://127.0.0.1:{free_port()}/v1", 'models = ["m"]')
    router = start_router(config)
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "cannot connect" in caught.value.message
    ready = httpx.get(router.root + "/readyz")
    assert ready.status_code == 503 and ready.json()["backends"]["gone"]["up"] is False


def test_failure_mid_stream_ends_with_an_error_event(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    fake.model("fast-model").failure = "drop"
    fake.model("fast-model").fail_after_tokens = 2
    stream = client.chat.completions.create(model="fast-model", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIError, match="connection dropped"):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["The ", "capital "]


def test_api_keys_are_required_when_configured(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(
        '[server]\napi_keys = ["sk-right"]\n' + backend_toml("lmstudio", fake.base_url)
    )
    for key in ("sk-wrong", "sk-righ", "sk-right-and-more"):
        wrong = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="fast-model", messages=MESSAGES)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
    right = openai.OpenAI(base_url=router.base_url, api_key="sk-right", max_retries=0)
    assert right.chat.completions.create(model="fast-model", messages=MESSAGES).choices
    assert httpx.get(router.root + "/healthz").status_code == 200


def test_upstream_api_key_is_sent_to_its_upstream_only(
    start_router: Callable[[str], RunningRouter], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-upstream")
    with FakeUpstream([], api_key="sk-upstream") as locked:
        from tests.fakes.upstream import FakeModel

        locked.add_model(FakeModel("locked-model"))
        router = start_router(backend_toml("locked", locked.base_url, 'api_key_env = "FAKE_KEY"'))
        client = openai.OpenAI(base_url=router.base_url, api_key="client-key", max_retries=0)
        assert client.chat.completions.create(model="locked-model", messages=MESSAGES).choices
        assert locked.requests[-1].headers["authorization"] == "Bearer sk-upstream"


def test_health_ready_and_metrics(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["backends"]["lmstudio"]["up"] is True
    http.post("/v1/chat/completions", json={"model": "fast-model", "messages": MESSAGES})
    text = http.get("/metrics").text
    labels = 'api="chat",backend="lmstudio",model="fast-model",status="200"'
    assert "router_requests_total{" + labels in text
