"""The OpenAI contract as the official SDK and browsers see it: model entries, names the router
keeps for itself, ids with slashes, nulls in requests, CORS, endpoints it does not serve.

Every check runs against a real router on loopback in front of the fake upstream; the request
fields come from the official `openai` package's own request types.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import openai
import pytest
from openai.types import Model
from openai.types import completion_create_params as completion_params
from openai.types import embedding_create_params as embedding_params
from openai.types.chat import completion_create_params as chat_params

from tests.conftest import RunningRouter, backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeModel, FakeUpstream

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
ORIGIN = "http://localhost:5173"  # a chat UI's dev server


def sdk(router: RunningRouter, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)


# --- /v1/models entries match OpenAI's Model ---------------------------------------------------


def test_every_model_entry_matches_openais_model_schema(
    router: RunningRouter, http: httpx.Client
) -> None:
    raw = http.get("/v1/models").json()["data"]
    required = [name for name, field in Model.model_fields.items() if field.is_required()]
    assert required == ["id", "created", "object", "owned_by"]
    for entry in raw:
        assert all(entry.get(name) is not None for name in required), entry
        Model.model_validate(entry, strict=True)  # created an int, object "model", all present
    models = list(sdk(router).models.list())
    assert len(models) == len(raw)
    for model in models:
        assert None not in (model.id, model.created, model.object, model.owned_by), model
        assert model.object == "model" and model.created > 1_600_000_000
    owners = {m.id: m.owned_by for m in models}
    assert owners["fast-model"] == "fake"  # the upstream's own owned_by
    assert owners["auto"] == owners["router/qa"] == "router"
    again = {m.id: m.created for m in sdk(router).models.list()}
    assert again == {m.id: m.created for m in models}  # stable from one listing to the next
    one = http.get("/v1/models/router/qa").json()
    Model.model_validate(one, strict=True)


def test_an_upstream_without_owned_by_or_created_is_owned_by_its_backend(
    start_router: Callable[[str], RunningRouter],
) -> None:
    with FakeUpstream([FakeModel("bare")]) as bare:
        bare.model("bare").card = lambda: {"id": "bare"}  # type: ignore[method-assign]
        router = start_router(backend_toml("studio", bare.base_url))
        started = time.time()
        (model,) = [m for m in sdk(router).models.list() if m.id == "bare"]
    assert model.owned_by == "studio" and model.object == "model"
    assert abs(model.created - started) < 120  # the router's start


def test_in_process_models_are_dated_by_their_folder(
    tmp_path: Path, start_router: Callable[[str], RunningRouter]
) -> None:
    folder = tmp_path / "models" / "tiny-model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(b"\0" * 16)
    os.utime(folder, (1_700_000_000, 1_700_000_000))
    config = f'[[backends]]\nname = "local"\nkind = "mlx"\nmodel_dirs = ["{tmp_path / "models"}"]\n'
    router = start_router(config)
    model = sdk(router).models.retrieve("tiny-model")
    assert (model.created, model.owned_by, model.object) == (1_700_000_000, "local", "model")
    listed = httpx.get(router.base_url + "/models").json()["data"]
    assert "tiny-model" in [entry["id"] for entry in listed]
    for entry in listed:  # the in-process entry and auto, router/<task> beside it
        Model.model_validate(entry, strict=True)


# --- the router's own names win ----------------------------------------------------------------


@pytest.fixture
def shadowing() -> Iterator[FakeUpstream]:
    """An upstream (an OpenRouter-style gateway) whose models take the router's own names."""
    models = [
        FakeModel("fast-model", answer="The capital of France is Paris."),
        FakeModel("auto", answer="The gateway's auto answered."),
        FakeModel("router/qa", answer="The gateway's router/qa answered."),
        FakeModel("quick", answer="The gateway's quick answered."),
    ]
    with FakeUpstream(models) as upstream:
        yield upstream


def last_post(upstream: FakeUpstream) -> dict:
    """The body of the last generation request (the catalogue's refreshes come between)."""
    return next(r.json for r in reversed(upstream.requests) if r.method == "POST")


def test_an_upstream_model_named_auto_never_shadows_the_routers(
    shadowing: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="router")
    config = backend_toml("gateway", shadowing.base_url)
    config += "[server]\ndiscovery_interval = 0.05\n"
    config += '[routing]\ndefault_model = "fast-model"\naliases = { quick = "fast-model" }\n'
    router = start_router(config)
    client = sdk(router)
    for name in ("auto", "router/qa", "quick"):
        raw = client.chat.completions.with_raw_response.create(model=name, messages=MESSAGES)
        assert raw.headers["x-router-model"] == "fast-model", name
        assert raw.headers["x-router-reason"] != "direct", name
        assert last_post(shadowing)["model"] == "fast-model"
    for name in ("auto", "router/qa", "quick"):
        renamed = f"gateway/{name}"
        raw = client.chat.completions.with_raw_response.create(model=renamed, messages=MESSAGES)
        assert raw.headers["x-router-model"] == renamed
        assert raw.parse().choices[0].message.content == f"The gateway's {name} answered."
        assert last_post(shadowing)["model"] == name  # the upstream's own name
    stream = client.chat.completions.create(model="gateway/auto", messages=MESSAGES, stream=True)
    assert "gateway's auto" in "".join(c.choices[0].delta.content or "" for c in stream)
    ids = [m.id for m in client.models.list()]
    assert len(ids) == len(set(ids)), ids
    assert {"auto", "router/qa", "gateway/auto", "gateway/router/qa", "gateway/quick"} <= set(ids)
    assert client.models.retrieve("auto").owned_by == "router"
    for entry in httpx.get(router.base_url + "/models").json()["data"]:
        Model.model_validate(entry, strict=True)  # the renamed <backend>/<id> entries too
    one = httpx.get(router.base_url + "/models/gateway/router/qa").json()
    assert Model.model_validate(one, strict=True).id == "gateway/router/qa"
    assert client.models.retrieve("gateway/auto").id == "gateway/auto"
    time.sleep(0.3)  # several refreshes of the catalogue
    said = [r.getMessage() for r in caplog.records if "'auto'" in r.getMessage()]
    assert len(said) == 1 and "gateway/auto" in said[0], said


# --- ids with slashes --------------------------------------------------------------------------


def test_model_ids_that_are_absolute_paths_resolve(
    start_router: Callable[[str], RunningRouter],
) -> None:
    path_id = "/root/.cache/huggingface/hub/models--mlx-community--Qwen3-0.6B-4bit"
    with FakeUpstream([FakeModel(path_id), FakeModel("org/name")]) as mlx_server:
        router = start_router(backend_toml("mlx-server", mlx_server.base_url))
        client = sdk(router)
        assert path_id in [m.id for m in client.models.list()]
        assert client.models.retrieve(path_id).id == path_id  # the SDK sends %2F
        assert client.models.retrieve("org/name").id == "org/name"
        encoded = path_id.replace("/", "%2F")
        for url in (
            f"/v1/models/{path_id}",
            f"/v1/models/{encoded}",
            "/v1/models/%2Froot/.cache/huggingface/hub/models--mlx-community--Qwen3-0.6B-4bit",
        ):
            answer = httpx.get(router.root + url)
            assert answer.status_code == 200 and answer.json()["id"] == path_id, url
        missing = httpx.get(router.root + "/v1/models//root/nothing")
        assert missing.status_code == 404
        assert "'/root/nothing'" in missing.json()["error"]["message"]
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("root/.cache/huggingface/hub")


# --- null is absent ----------------------------------------------------------------------------


def optional_keys(*types: type) -> list[str]:
    """The keys of the SDK's request TypedDicts not marked Required, in all its variants."""
    keys: set[str] = set()
    for td in types:
        for key, hint in typing.get_type_hints(td, include_extras=True).items():
            if typing.get_origin(hint) is not typing.Required:
                keys.add(key)
    return sorted(keys)


CHAT_KEYS = optional_keys(
    chat_params.CompletionCreateParamsNonStreaming, chat_params.CompletionCreateParamsStreaming
)
COMPLETION_KEYS = optional_keys(
    completion_params.CompletionCreateParamsNonStreaming,
    completion_params.CompletionCreateParamsStreaming,
)
EMBEDDING_KEYS = optional_keys(embedding_params.EmbeddingCreateParams)


CHAT = {"model": "fast-model", "messages": MESSAGES}
CHAT_EXPECTED = {"stream", "stream_options", "max_tokens", "temperature", "tools", "user"}
CHAT_EXPECTED |= {"response_format", "metadata", "n", "stop", "logprobs", "seed"}


@pytest.mark.parametrize(
    ("path", "base", "keys", "expected"),
    [
        ("/v1/chat/completions", CHAT, CHAT_KEYS, CHAT_EXPECTED),
        (
            "/v1/completions",
            {"model": "fast-model", "prompt": "Say it"},
            COMPLETION_KEYS,
            {"stream", "stream_options", "max_tokens", "suffix", "echo", "user"},
        ),
        (
            "/v1/embeddings",
            {"model": "fast-model", "input": "a"},
            EMBEDDING_KEYS,
            {"dimensions", "encoding_format", "user"},
        ),
    ],
)
def test_null_is_absent_for_every_optional_field(
    http: httpx.Client,
    fake: FakeUpstream,
    path: str,
    base: dict,
    keys: list[str],
    expected: set[str],
) -> None:
    assert expected <= set(keys) and {"model", "messages", "prompt", "input"}.isdisjoint(keys)
    refused = {}
    for key in keys:
        body = msgspec.json.encode({**base, key: None})
        answer = http.post(path, content=body)
        if answer.status_code != 200:
            refused[key] = answer.text
            continue
        assert fake.requests[-1].body == body, key  # forwarded byte for byte, null and all
        assert answer.headers["content-type"].startswith("application/json"), key
    assert not refused, refused


def test_nulls_inside_a_stream_request(router: RunningRouter) -> None:
    client = sdk(router)
    for options in (None, {"include_usage": None}):
        stream = client.chat.completions.create(
            model="fast-model",
            messages=MESSAGES,
            stream=True,
            stream_options=options,  # type: ignore[arg-type]
            max_tokens=None,
            temperature=None,
            tools=None,  # type: ignore[arg-type]
        )
        chunks = list(stream)
        assert "Paris" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert all(c.usage is None for c in chunks)


# --- CORS --------------------------------------------------------------------------------------

V1_ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/fast-model"),
    ("GET", "/v1/models/router/qa"),
    ("GET", "/v1/models//root/models--x"),  # mlx_lm.server's absolute-path ids
    ("GET", "/v1/models/%2Froot%2Fmodels--x"),
]


def preflight(
    url: str, method: str, origin: str = ORIGIN, headers: str = "authorization, content-type"
) -> httpx.Response:
    asked = {"origin": origin, "access-control-request-method": method}
    if headers:
        asked["access-control-request-headers"] = headers
    return httpx.options(url, headers=asked)


@pytest.fixture
def keyed_router(fake: FakeUpstream, start_router: Callable[[str], RunningRouter]) -> RunningRouter:
    """A router on loopback with an API key and the default CORS setting."""
    return start_router('[server]\napi_keys = ["sk-right"]\n' + backend_toml("lm", fake.base_url))


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
def test_preflights_are_answered_on_every_v1_route_without_a_key(
    keyed_router: RunningRouter, method: str, path: str
) -> None:
    answer = preflight(keyed_router.root + path, method, headers="authorization, x-stainless-os")
    assert answer.status_code == 204, answer.text
    assert answer.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert method in answer.headers["access-control-allow-methods"]
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-stainless-os" in allowed


def test_answers_to_a_page_carry_the_allowed_origin(keyed_router: RunningRouter) -> None:
    page = {"origin": ORIGIN}
    client = openai.OpenAI(
        base_url=keyed_router.base_url, api_key="sk-right", max_retries=0, default_headers=page
    )
    raw = client.chat.completions.with_raw_response.create(model="fast-model", messages=MESSAGES)
    assert raw.headers["access-control-allow-origin"] in ("*", ORIGIN)
    assert "x-router-model" in raw.headers["access-control-expose-headers"]
    with client.chat.completions.with_streaming_response.create(
        model="fast-model", messages=MESSAGES, stream=True
    ) as streamed:
        assert streamed.headers["access-control-allow-origin"] in ("*", ORIGIN)
        assert "Paris" in "".join(streamed.iter_lines())
    models = client.models.with_raw_response.list()
    assert models.headers["access-control-allow-origin"] in ("*", ORIGIN)
    refused = httpx.get(keyed_router.base_url + "/models", headers=page)  # no key: 401
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] in ("*", ORIGIN)  # readable by the page


def test_cors_origins_decides_which_pages_may_call(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    config = '[server]\ncors_origins = ["https://chat.example.com"]\n'
    router = start_router(config + backend_toml("lm", fake.base_url))
    url = router.base_url + "/chat/completions"
    allowed = preflight(url, "POST", origin="https://chat.example.com")
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.com"
    assert "origin" in allowed.headers["vary"].lower()
    refused = preflight(url, "POST", origin="https://evil.example.net")
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    body = {"model": "fast-model", "messages": MESSAGES}
    other = httpx.post(url, json=body, headers={"origin": "https://evil.example.net"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("server", ['host = "0.0.0.0"\napi_keys = ["k"]', "cors_origins = []"])
def test_no_origin_by_default_on_the_network_or_when_configured_so(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter], server: str
) -> None:
    router = start_router(f"[server]\n{server}\n" + backend_toml("lm", fake.base_url))
    answer = preflight(router.base_url + "/chat/completions", "POST")
    assert answer.status_code == 403 and "access-control-allow-origin" not in answer.headers
    assert "cors_origins" in answer.json()["error"]["message"]


# --- endpoints the router does not serve ---------------------------------------------------------


def test_an_unserved_endpoint_is_named_with_what_is_served(router: RunningRouter) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(router).audio.speech.create(model="tts-1", voice="alloy", input="Hello")
    message = caught.value.message
    assert "router does not serve POST /v1/audio/speech" in message
    assert "POST /v1/chat/completions" in message and "GET /v1/models" in message
    assert caught.value.body["code"] == "endpoint_not_found"  # type: ignore[index]
    answer = httpx.get(router.root + "/v1/foo")
    assert answer.status_code == 404
    assert "router does not serve GET /v1/foo" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/models", "GET"),
        ("POST", "/v1/models/fast-model", "GET"),
        ("GET", "/v1/chat/completions", "POST"),
        ("PUT", "/v1/embeddings", "POST"),
        ("PURGE", "/v1/models", "GET"),  # a method string no route knows
        ("PROPFIND", "/v1/completions", "POST"),
    ],
)
def test_a_wrong_method_is_405_in_openai_shape(
    http: httpx.Client, method: str, path: str, allow: str
) -> None:
    answer = http.request(method, path)
    assert answer.status_code == 405
    assert allow in answer.headers["allow"]
    error = answer.json()["error"]
    assert error["code"] == "method_not_allowed" and error["type"] == "invalid_request_error"
    assert f"with {allow}, not {method}" in error["message"]


@pytest.mark.parametrize("method", [b"FOO", b"BREW", b"G3T"])
def test_a_method_no_parser_knows_is_a_400_in_openai_shape(
    router: RunningRouter, method: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", router.port), timeout=5) as sock:
        sock.sendall(method + b" /v1/models HTTP/1.1\r\nhost: x\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head
    error = msgspec.json.decode(body)["error"]
    assert error["code"] == "invalid_request" and "unknown method" in error["message"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_the_network_allows_no_origin_by_default(
    fake: FakeUpstream, tmp_path: Path, workers: str
) -> None:
    """`--host` decides, not the config's host (127.0.0.1 here), in workers too."""
    config = tmp_path / "router.toml"
    config.write_text('[server]\napi_keys = ["k"]\n' + backend_toml("lm", fake.base_url))
    port = str(free_port())
    command = [sys.executable, "-m", "router", "serve", "--config", str(config), "--port", port]
    command += ["--host", "0.0.0.0", "--workers", workers, "--calibrate", "off"]
    env = {**os.environ, "ROUTER_CONFIG": ""}
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, env=env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        answer = preflight(f"http://127.0.0.1:{port}/v1/chat/completions", "POST")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert answer.status_code == 403 and "access-control-allow-origin" not in answer.headers
