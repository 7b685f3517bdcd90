"""The `mlx` backend end to end: the official SDK -> a running router -> SmolLM2 in process.

A real model on a CPU (~8 tokens/s, and about as slow to read the prompt), so every request
asks for a few tokens only, and the plain tests share one router (the model loads once).
Residency runs its own routers with two ids for the same weights and a budget that holds
only one of them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlx.core as mx
import openai
import pytest

from router.backends.mlx.backend import MLXBackend
from router.backends.mlx.job import JobStats
from router.cli import main as cli_main
from tests.conftest import RunningRouter

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def mlx_toml(model_path: Path, *, models: str = "", **settings: object) -> str:
    extra = "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items())
    models = models or f'{{ id = "smollm2", path = "{model_path}" }}'
    return f'[[backends]]\nname = "local"\nkind = "mlx"\nmodels = [{models}]\n{extra}'


def weights_bytes(model_path: Path) -> int:
    return sum(f.stat().st_size for f in model_path.glob("*.safetensors"))


def backend_of(router: RunningRouter) -> MLXBackend:
    backend = router.service.backends[0]
    assert isinstance(backend, MLXBackend)
    return backend


def client_of(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="unused", max_retries=0, timeout=60)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run `work` in a thread; its result or exception lands in the returned dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except Exception as err:
            out["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


@pytest.fixture(scope="module")
def broken_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken-model")
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_bytes(b"not safetensors")
    return folder


@pytest.fixture(scope="module")
def config_file(
    tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path, broken_model: Path
) -> Path:
    models = (
        f'{{ id = "smollm2", path = "{embedded_model_path}" }}, '
        f'{{ id = "broken", path = "{broken_model}" }}'
    )
    path = tmp_path_factory.mktemp("mlx-router") / "router.toml"
    settings = {"max_concurrency": 1, "max_queue": 1, "idle_ttl": 0}  # one at a time
    path.write_text(mlx_toml(embedded_model_path, models=models, **settings))
    return path


@pytest.fixture(scope="module")
def shared(config_file: Path) -> Iterator[RunningRouter]:
    router = RunningRouter(config_file).start()
    yield router
    router.stop()


@pytest.fixture(scope="module")
def client(shared: RunningRouter) -> openai.OpenAI:
    return client_of(shared)


def test_router_models_shows_the_model_on_disk(
    config_file: Path, embedded_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["models", "--json", "--config", str(config_file)]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    row = rows["smollm2"]
    assert (row["backend"], row["kind"], row["state"]) == ("local", "mlx", "on disk")
    assert row["size_bytes"] == weights_bytes(embedded_model_path)
    assert row["context_length"] == 8192 and row["load_seconds"] is None


def test_chat_answers_and_the_model_is_then_loaded(
    shared: RunningRouter, client: openai.OpenAI
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="smollm2", messages=FRANCE, temperature=0, max_tokens=12
    )
    answer = raw.parse()
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.choices[0].finish_reason == "stop" and answer.object == "chat.completion"
    assert raw.headers["x-router-backend"] == "local"
    usage = answer.usage
    assert usage is not None and usage.prompt_tokens > 10
    assert usage.completion_tokens == backend_of(shared).recent[answer.id].generated
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    card = client.models.retrieve("smollm2").model_dump()
    assert card["state"] == "loaded" and card["size_bytes"] > 100_000_000
    assert 0 < card["load_seconds"] < 30
    assert shared.metric("router_model_loaded", model="smollm2", backend="local") == 1
    assert shared.metric("router_model_load_seconds_count", model="smollm2") == 1
    # a whole answer from an in-process model is still timed to its first token
    assert shared.metric("router_time_to_first_token_seconds_count", model="smollm2") >= 1
    assert shared.metric("router_time_per_output_token_seconds_count", model="smollm2") >= 1


def test_chat_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="smollm2",
            messages=FRANCE,
            temperature=0,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert "Paris" in text
    assert content[0].choices[0].delta.role == "assistant"
    finished = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finished[-1] == "stop" and set(finished[:-1]) == {None}
    usage = chunks[-1].usage
    assert usage is not None and not chunks[-1].choices
    assert usage.completion_tokens == len(content)  # one event per token, all ASCII here


def test_stop_string_cuts_the_stream(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="smollm2",
            messages=FRANCE,
            temperature=0,
            max_tokens=12,
            stream=True,
            stop=[" Paris"],
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("The capital of France") and "Paris" not in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)  # the client did not ask for usage


def test_max_tokens_gives_finish_reason_length(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=3, temperature=0
    )
    assert answer.object == "text_completion" and answer.choices[0].text
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 3


def test_embeddings_are_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="not supported by in-process models"):
        client.embeddings.create(model="smollm2", input="hello")


def test_a_broken_model_folder_is_a_one_line_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as err:
        client.completions.create(model="broken", prompt="hi", max_tokens=1)
    assert err.value.status_code == 502
    body: Any = err.value.body
    assert body["code"] == "model_load_failed" and "cannot load broken" in body["message"]
    assert "\n" not in body["message"]


def test_disconnect_stops_generation(shared: RunningRouter, client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smollm2",
        stream=True,
        max_tokens=200,
        temperature=0,
        messages=[{"role": "user", "content": "Count from 1 to 100, one number per line."}],
    )
    received = 0
    for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 3:
            break
    stream.close()
    stats: JobStats = backend_of(shared).recent[chunk.id]
    wait_for(lambda: stats.done, 10)
    assert stats.finish_reason == "cancelled"
    assert stats.generated - received <= 3, stats
    # the thread moved on: the next request is answered
    answer = client.completions.create(model="smollm2", prompt="Hi", max_tokens=1)
    assert answer.choices[0].finish_reason == "length"


def test_a_request_queues_behind_another_and_the_queue_is_bounded(
    shared: RunningRouter, client: openai.OpenAI
) -> None:
    gate = shared.service.catalog.replicas("smollm2")[0].gate  # the model's one queue
    assert gate is not None and gate.limit == 1  # max_concurrency = 1: one at a time
    first = client.completions.create(
        model="smollm2", prompt="One, two, three,", max_tokens=8, temperature=0, stream=True
    )
    head = next(iter(first))
    assert head.choices[0].text
    thread, second = in_thread(
        lambda: client.completions.create(model="smollm2", prompt="Hi", max_tokens=2)
    )
    wait_for(lambda: gate.waiting == 1)
    assert shared.metric("router_queue_depth", model="smollm2") == 1
    with pytest.raises(openai.RateLimitError, match="max_queue = 1"):
        client.completions.create(model="smollm2", prompt="Hi", max_tokens=1)
    rest = list(first)
    assert rest[-1].choices[0].finish_reason == "length"
    thread.join(30)
    assert "error" not in second, second
    assert second["result"].usage.completion_tokens == 2
    assert shared.metric("router_queue_depth", model="smollm2") == 0


# --- residency: two ids for the same weights, a budget that holds one -----------------------


def two_models(model_path: Path, **settings: object) -> str:
    models = f'{{ id = "a", path = "{model_path}" }}, {{ id = "b", path = "{model_path}" }}'
    budget = int(weights_bytes(model_path) * 1.5)
    return mlx_toml(model_path, models=models, memory_budget_bytes=budget, **settings)


def loaded(router: RunningRouter, model: str) -> float:
    return router.metric("router_model_loaded", model=model, backend="local")


def test_using_a_second_model_evicts_the_idle_first(
    start_router: Callable[[str], RunningRouter], embedded_model_path: Path
) -> None:
    router = start_router(two_models(embedded_model_path, idle_ttl=0))
    client = client_of(router)
    client.completions.create(model="a", prompt="Hi", max_tokens=1)
    assert (loaded(router, "a"), loaded(router, "b")) == (1, 0)
    with_a = mx.get_active_memory()
    client.completions.create(model="b", prompt="Hi", max_tokens=1)
    assert (loaded(router, "a"), loaded(router, "b")) == (1 - 1, 1)
    cards = {c.id: c.model_dump() for c in client.models.list()}
    assert (cards["a"]["state"], cards["b"]["state"]) == ("on disk", "loaded")
    # a's memory really came back: b's weights took its place instead of adding to it
    assert mx.get_active_memory() < with_a + weights_bytes(embedded_model_path) / 2


def test_a_generating_model_is_never_evicted_the_other_waits(
    start_router: Callable[[str], RunningRouter], embedded_model_path: Path
) -> None:
    router = start_router(two_models(embedded_model_path, idle_ttl=0, load_wait=60))
    client = client_of(router)
    slot_b = backend_of(router).residency.slots["b"]
    stream = client.completions.create(
        model="a", prompt="One, two, three,", max_tokens=8, temperature=0, stream=True
    )
    next(iter(stream))
    thread, second = in_thread(
        lambda: client.completions.create(model="b", prompt="Hi", max_tokens=1)
    )
    wait_for(lambda: slot_b.pending == 1)
    time.sleep(0.3)
    assert (loaded(router, "a"), loaded(router, "b")) == (1, 0)  # b waits, a keeps generating
    assert slot_b.state == "on disk"
    assert list(stream)[-1].choices[0].finish_reason == "length"
    thread.join(30)
    assert "error" not in second, second
    assert (loaded(router, "a"), loaded(router, "b")) == (0, 1)


def test_a_load_that_cannot_wait_fails_with_503_then_idle_ttl_unloads(
    start_router: Callable[[str], RunningRouter], embedded_model_path: Path
) -> None:
    router = start_router(two_models(embedded_model_path, idle_ttl=1, load_wait=0.3))
    client = client_of(router)
    stream = client.completions.create(
        model="a", prompt="One, two, three,", max_tokens=6, temperature=0, stream=True
    )
    next(iter(stream))
    with pytest.raises(openai.APIStatusError, match="does not fit the memory budget") as err:
        client.completions.create(model="b", prompt="Hi", max_tokens=1)
    assert err.value.status_code == 503
    list(stream)
    assert loaded(router, "a") == 1
    wait_for(lambda: loaded(router, "a") == 0, 10)  # idle for idle_ttl: unloaded
    assert client.models.retrieve("a").model_dump()["state"] == "on disk"


# --- without a real model: a fake loader and a scripted generation --------------------------


class FakeTokenizer:
    bos_token = None

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> list[int]:
        if "fail in template" in messages[-1]["content"]:
            raise ValueError("the chat template broke\nwith a second line")
        return [1, 2, 3]

    def encode(self, text: str, **_: Any) -> list[int]:
        return [1] * len(text.split())


class Step:
    def __init__(self, text: str, finish_reason: str | None = None) -> None:
        self.text, self.finish_reason = text, finish_reason
        self.token = 0


def scripted(pieces: list[str | Exception]) -> Callable[..., Iterator[Step]]:
    """A stand-in for mlx_lm.stream_generate: yields the pieces, raising the exceptions."""

    def generate(model: Any, tokenizer: Any, prompt: list[int], **options: Any) -> Iterator[Step]:
        limit = options["max_tokens"]
        for n, piece in enumerate(pieces[:limit]):
            if isinstance(piece, Exception):
                raise piece
            last = n + 1 == limit or n + 1 == len(pieces)
            yield Step(piece, ("length" if n + 1 == limit else "stop") if last else None)

    return generate


def fake_backend(tmp_path: Path, **settings: Any) -> MLXBackend:
    from router.config import MLXBackendConfig, ModelEntry

    folder = tmp_path / "fake"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text('{"max_position_embeddings": 2048}')
    (folder / "model.safetensors").write_bytes(b"x" * 1000)
    settings = {"prompt_cache_bytes": 0, **settings}  # the fake model has no KV cache
    config = MLXBackendConfig(
        name="local", models=[ModelEntry("fake", path=str(folder))], **settings
    )
    return MLXBackend(config, loader=lambda path: ("model", FakeTokenizer()))


def chat_request(text: str, **fields: Any) -> Any:
    from router.backends.protocol import BackendRequest
    from router.wire import decode_chat, encode

    body = encode({"model": "fake", "messages": [{"role": "user", "content": text}], **fields})
    return BackendRequest("chat/completions", "fake", body, decode_chat(body))


async def collect(backend: MLXBackend, request: Any) -> list[Any]:
    return [event.chunk async for event in backend.stream(request)]


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str | Exception]], None]:
    import mlx_lm

    def use(pieces: list[str | Exception]) -> None:
        monkeypatch.setattr(mlx_lm, "stream_generate", scripted(pieces))

    return use


async def test_a_stop_string_split_across_tokens_is_never_sent(
    tmp_path: Path, script: Callable[[list[str | Exception]], None]
) -> None:
    script(["Hel", "lo w", "orld", "!"])
    backend = fake_backend(tmp_path)
    chunks = await collect(backend, chat_request("hi", stream=True, stop=["o wo", "zzz"]))
    texts = [c.text() for c in chunks[:-1] if c.text()]
    assert texts == ["Hel", "l"]  # "o w" was held back, then cut with the stop string
    assert chunks[-3].choices[0].finish_reason == "stop"
    assert chunks[-2].usage.completion_tokens == 3 and chunks[-1] is None
    await backend.close()


async def test_a_failure_before_the_first_token_raises_from_the_first_event(
    tmp_path: Path, script: Callable[[list[str | Exception]], None]
) -> None:
    from router.errors import GenerationFailed

    script(["never"])
    backend = fake_backend(tmp_path)
    events = backend.stream(chat_request("please fail in template", stream=True))
    with pytest.raises(GenerationFailed, match=r"ValueError: the chat template broke$") as err:
        await anext(events)
    assert err.value.retryable  # the router may try its next candidate
    await backend.close()


async def test_a_failure_after_the_first_token_ends_the_stream_with_an_error(
    tmp_path: Path, script: Callable[[list[str | Exception]], None]
) -> None:
    from router.errors import GenerationFailed

    script(["One", RuntimeError("out of memory"), "never"])
    backend = fake_backend(tmp_path)
    events = backend.stream(chat_request("hi", stream=True))
    assert (await anext(events)).chunk.text() == "One"
    with pytest.raises(GenerationFailed, match="RuntimeError: out of memory"):
        await anext(events)
    # the thread goes on with the next request
    script(["Two"])
    assert next(c.text() for c in await collect(backend, chat_request("hi")) if c) == "Two"
    await backend.close()


async def test_model_dirs_are_scanned_for_model_folders(tmp_path: Path) -> None:
    from router.config import MLXBackendConfig

    for name, files in [
        ("tiny", ["config.json", "model.safetensors"]),
        ("no-weights", ["config.json"]),
        ("stray", []),
    ]:
        (tmp_path / "models" / name).mkdir(parents=True)
        for file in files:
            (tmp_path / "models" / name / file).write_text('{"max_position_embeddings": 4096}')
    config = MLXBackendConfig(name="local", model_dirs=[str(tmp_path / "models")])
    backend = MLXBackend(config)
    assert backend.listed() == []
    cards = await backend.models()
    assert [(c.id, c.state, c.context_length) for c in cards] == [("tiny", "on disk", 4096)]
    assert cards[0].size_bytes == len('{"max_position_embeddings": 4096}')
    await backend.close()


def test_hugging_face_cache_and_lm_studio_layouts_are_found(tmp_path: Path) -> None:
    from router.backends.mlx.backend import _scan

    def model_at(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_text("")

    hub = tmp_path / "hub"
    model_at(hub / "models--mlx-community--SmolLM2-135M-Instruct" / "snapshots" / "abc123")
    lmstudio = tmp_path / "lmstudio"
    model_at(lmstudio / "google" / "gemma-3-12b")
    model_at(lmstudio / "plain-model")
    found = _scan([hub, lmstudio, tmp_path / "missing"])
    assert found == {
        "mlx-community/SmolLM2-135M-Instruct": hub
        / "models--mlx-community--SmolLM2-135M-Instruct"
        / "snapshots"
        / "abc123",
        "google/gemma-3-12b": lmstudio / "google" / "gemma-3-12b",
        "plain-model": lmstudio / "plain-model",
    }


STOP_CASES = [
    # (stops, pieces fed, text sent for each, stopped at)
    ([], ["a", "b"], ["a", "b"], None),
    (["\n\n"], ["one\n", "\ntwo"], ["one", ""], 1),
    (["END"], ["xE", "N", "Dy"], ["x", "", ""], 2),
    (["END"], ["xE", "N", "o"], ["x", "", "ENo"], None),
    (["ab", "b"], ["xab"], ["x"], 0),  # the earliest stop wins
    (["halt"], ["no stops here", " h", "a", "lo"], ["no stops here", " ", "", "halo"], None),
]


@pytest.mark.parametrize(("stops", "pieces", "sent", "stopped_at"), STOP_CASES)
def test_stop_scanner(
    stops: list[str], pieces: list[str], sent: list[str], stopped_at: int | None
) -> None:
    from router.backends.mlx.output import StopScanner

    scanner = StopScanner(stops)
    results = [scanner.feed(piece) for piece in pieces]
    assert [text for text, _ in results] == sent
    hits = [i for i, (_, hit) in enumerate(results) if hit]
    assert (hits[0] if hits else None) == stopped_at
