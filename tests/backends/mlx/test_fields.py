"""In-process models honour or refuse every answer-changing field (issue 12, points 2, 9, 10).

The official SDK against a router serving the embedded SmolLM2 in process (a few tokens per
request: this CPU makes ~6 a second), and the backend alone with a scripted generation for
what the small model cannot show (tool calls, a JSON answer that needs a second try).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_type_hints

import msgspec
import openai
import pytest

from router.backends.mlx.backend import MLXBackend
from router.backends.mlx.fields import Fields
from router.backends.mlx.job import Job, JobStats
from router.backends.mlx.sampling import Sampling
from router.backends.mlx.stepping import prompt_tokens
from router.config import MLXBackendConfig, ModelEntry, SamplingDefaults
from router.errors import BadOutput
from router.routing.decide import _prior_speed
from router.tasks import ANSWER_TOKENS
from router.wire import ModelCard
from tests.backends.mlx.test_backend import backend_of, chat_request, client_of, collect
from tests.conftest import RunningRouter

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def router(
    tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path
) -> Iterator[RunningRouter]:
    path = tmp_path_factory.mktemp("mlx-fields") / "router.toml"
    entry = f'{{ id = "smollm2", path = "{embedded_model_path}" }}'
    path.write_text(f'[[backends]]\nname = "local"\nkind = "mlx"\nmodels = [{entry}]\n')
    running = RunningRouter(path).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(router: RunningRouter) -> openai.OpenAI:
    return client_of(router)


# --- point 2: the README's first example -------------------------------------------------------


def test_the_readme_example_is_greedy_capped_and_its_latency_counts_those_tokens(
    router: RunningRouter, client: openai.OpenAI
) -> None:
    answers = []
    for _ in range(2):
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=FRANCE)
        answer = raw.parse()
        assert time.monotonic() - started < 30
        answers.append(answer.choices[0].message.content or "")
        assert answer.choices[0].finish_reason == "stop"
    assert "Paris" in answers[0] and answers[0] == answers[1]  # greedy: the same every time
    task = raw.headers["x-router-task"]
    assert task == "qa"
    stats = backend_of(router).recent[answer.id]
    assert stats.max_tokens == ANSWER_TOKENS["qa"]  # the task's cap, not the backend's 512
    card = next(c for c in router.service.catalog.cards() if c.id == "smollm2")
    first, per_token = _prior_speed(ModelCard("smollm2", size_bytes=card.size_bytes))
    promised = re.search(r"~(\d+\.\d)s", raw.headers["x-router-reason"])
    assert promised and float(promised[1]) == round(first + stats.max_tokens * per_token, 1)


def test_sampling_defaults_come_from_request_config_then_generation_config(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x")
    generation = {
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.9,
        "top_k": 20,
        "repetition_penalty": 1.05,
        "eos_token_id": [2, 7],
    }
    (folder / "generation_config.json").write_text(json.dumps(generation))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    entries = [
        ModelEntry("own", path=str(folder)),
        ModelEntry("mine", path=str(folder), defaults=SamplingDefaults(temperature=0.2)),
        ModelEntry("plain", path=str(plain)),
    ]
    config = MLXBackendConfig(name="local", models=entries, defaults=SamplingDefaults(top_k=5))
    backend = MLXBackend(config, loader=lambda path: ("model", None))
    asked = Fields(temperature=1.3)
    assert backend.sampling("own", Fields()) == Sampling(
        temperature=0.6, top_p=0.9, top_k=5, repetition_penalty=1.05
    )
    assert backend.sampling("mine", Fields()).temperature == 0.2
    assert backend.sampling("mine", asked).temperature == 1.3
    assert backend.sampling("plain", Fields()) == Sampling(top_k=5)  # else greedy


# --- point 9: every field honoured or refused --------------------------------------------------


def test_n_and_logprobs(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="smollm2", messages=FRANCE, max_tokens=2, n=2, logprobs=True, top_logprobs=2
    )
    assert [c.index for c in answer.choices] == [0, 1]
    assert answer.usage is not None and answer.usage.completion_tokens == 4
    for choice in answer.choices:
        assert choice.logprobs is not None and choice.logprobs.content is not None
        entries = choice.logprobs.content
        assert "".join(e.token for e in entries) == choice.message.content
        assert all(e.logprob <= 0 and len(e.top_logprobs) == 2 for e in entries)
        assert entries[0].top_logprobs[0].logprob == entries[0].logprob  # greedy: the top one


def test_a_stream_of_two_choices(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="smollm2", messages=FRANCE, max_tokens=1, n=2, stream=True, logprobs=True
    )
    chunks = list(stream)
    ended = {c.choices[0].index for c in chunks if c.choices and c.choices[0].finish_reason}
    assert ended == {0, 1}
    assert any(c.choices[0].logprobs and c.choices[0].logprobs.content for c in chunks if c.choices)


def test_text_logprobs_and_logit_bias(client: openai.OpenAI, embedded_model_path: Path) -> None:
    from transformers import AutoTokenizer

    def next_token(**fields: Any) -> Any:
        return client.completions.create(
            model="smollm2", prompt="The capital of France is", max_tokens=1, **fields
        ).choices[0]

    choice = next_token(logprobs=3)
    first = choice.text
    assert first.strip() == "Paris"
    assert choice.logprobs is not None and choice.logprobs.tokens == [" Paris"]
    assert choice.logprobs.top_logprobs and len(choice.logprobs.top_logprobs[0]) == 3
    tokenizer = AutoTokenizer.from_pretrained(str(embedded_model_path))
    # mlx-lm's detokenizer drops the first token's leading space: the token is " Paris"
    banned = {str(tokenizer.encode(" Paris", add_special_tokens=False)[0]): -100}
    assert next_token(logit_bias=banned).text != first


REFUSED = [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"modalities": ["text", "audio"]}, "modalities"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"reasoning_effort": "low"}, "reasoning_effort"),
    ({"n": 9}, "n"),
    ({"top_logprobs": 21, "logprobs": True}, "top_logprobs"),
    ({"response_format": {"type": "yaml"}}, "response_format"),
    ({"verbosity": "low"}, "verbosity"),  # a shorter answer: it changes the answer
    ({"moderation": {"model": "omni-moderation-latest"}}, "moderation"),
    ({"chat_template_kwargs": {"chat_template": "{{ 7 * 7 }}"}}, "chat_template_kwargs"),
]


@pytest.mark.parametrize(("extra", "param"), REFUSED)
def test_fields_it_cannot_honour_are_a_400_naming_them(
    client: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="smollm2", messages=FRANCE, max_tokens=1, extra_body=extra
        )
    body: Any = err.value.body
    assert body["param"] == param and param in body["message"]


def test_every_sdk_field_is_read_routed_or_known_to_change_nothing() -> None:
    """A field of the SDK's request the in-process backend neither reads (`Fields`, the wire
    request) nor lists as changing nothing would be dropped silently: none may be."""
    from openai.types import completion_create_params as text_params
    from openai.types.chat import completion_create_params as chat_params

    from router.backends.mlx.fields import NO_EFFECT
    from router.wire import ChatRequest, CompletionRequest

    read = set(Fields.__struct_fields__) | NO_EFFECT
    for params, wire in (
        (chat_params.CompletionCreateParamsBase, ChatRequest),
        (text_params.CompletionCreateParamsBase, CompletionRequest),
    ):
        keys = set(get_type_hints(params)) | {"stream"}
        assert not keys - read - set(wire.__struct_fields__), wire


def test_chat_template_variables_reach_the_template(client: openai.OpenAI) -> None:
    """`chat_template_kwargs` (Anthropic's `thinking` arrives as `enable_thinking`) are the
    template's variables: SmolLM2's template reads none, so the answer is the same."""
    asked = {"model": "smollm2", "messages": FRANCE, "max_tokens": 2}
    plain = client.chat.completions.create(**asked)
    thinking = {"chat_template_kwargs": {"enable_thinking": True, "effort": "low"}}
    told = client.chat.completions.create(**asked, extra_body=thinking)
    assert told.choices[0].message.content == plain.choices[0].message.content
    assert told.usage and plain.usage
    assert told.usage.prompt_tokens == plain.usage.prompt_tokens


async def test_the_job_hands_its_template_variables_to_apply_chat_template() -> None:
    seen: dict[str, Any] = {}

    class Tokenizer:
        def apply_chat_template(self, messages: list, **options: Any) -> list[int]:
            seen.update(options)
            return [1, 2, 3]

    job = Job(JobStats("id", "m"), FRANCE, max_tokens=1, template={"enable_thinking": False})
    assert prompt_tokens(job, Tokenizer(), "m") == [1, 2, 3]
    assert seen == {"add_generation_prompt": True, "enable_thinking": False}


def test_null_is_absent_for_every_optional_field(client: openai.OpenAI) -> None:
    from openai.types import completion_create_params as text_params
    from openai.types.chat import completion_create_params as chat_params

    for params, create, given in (
        (chat_params.CompletionCreateParamsBase, client.chat.completions, {"messages": FRANCE}),
        (text_params.CompletionCreateParamsBase, client.completions, {"prompt": "Paris is"}),
    ):
        nulls = dict.fromkeys(set(get_type_hints(params)) - {"model", *given} | {"stream"})
        nulls["max_tokens" if "prompt" in given else "max_completion_tokens"] = 1
        answer = create.with_raw_response.create(model="smollm2", extra_body=nulls, **given)
        assert answer.status_code == 200 and answer.parse().usage.completion_tokens == 1


def test_echo_is_refused_for_text_completions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="echo"):
        client.completions.create(model="smollm2", prompt="Hi", max_tokens=1, echo=True)


# --- point 10: no U+FFFD at the end of a cut Japanese answer -----------------------------------


def test_a_japanese_answer_cut_mid_character_ends_clean(client: openai.OpenAI) -> None:
    # greedy SmolLM2 answers "、" then the first byte of a katakana: cut there
    prompt, cut = "日本の首都は", {"model": "smollm2", "max_tokens": 2}
    text = client.completions.create(prompt=prompt, **cut)
    assert text.choices[0].text == "、" and text.choices[0].finish_reason == "length"
    pieces = list(client.completions.create(prompt=prompt, stream=True, **cut))
    assert "".join(c.choices[0].text for c in pieces if c.choices) == "、"
    # chat: "こ", "の", then the first two bytes of a third character: the cut is mid-character
    chat = {"model": "smollm2", "max_tokens": 4, "messages": [{"role": "user", "content": prompt}]}
    whole = client.chat.completions.create(logprobs=True, **chat).choices[0]
    assert whole.logprobs is not None and whole.logprobs.content is not None
    made = b"".join(bytes(e.bytes or []) for e in whole.logprobs.content)
    with pytest.raises(UnicodeDecodeError):
        made.decode()  # the tokens end inside a character
    assert whole.message.content == "この" and whole.finish_reason == "length"
    chunks = list(client.chat.completions.create(stream=True, **chat))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == "この" and "\ufffd" not in streamed


# --- without a real model: tool calls and a JSON answer that needs a second try ---------------


class Step:
    def __init__(self, text: str, finish_reason: str | None = None) -> None:
        self.text, self.finish_reason = text, finish_reason
        self.token = 0


def answers(monkeypatch: pytest.MonkeyPatch, *texts: list[str]) -> None:
    """Each generation (one per call) yields the next list of pieces, then stops."""
    import mlx_lm

    queue = list(texts)

    def generate(model: Any, tokenizer: Any, prompt: list[int], **_: Any) -> Iterator[Step]:
        pieces = queue.pop(0)
        for n, piece in enumerate(pieces):
            yield Step(piece, "stop" if n + 1 == len(pieces) else None)

    monkeypatch.setattr(mlx_lm, "stream_generate", generate)


class ToolTokenizer:
    """A tokenizer mlx-lm knows a tool-call format for (its json_tools parser)."""

    bos_token = None
    has_tool_calling = True
    tool_call_start, tool_call_end = "<tool_call>", "</tool_call>"

    def __init__(self) -> None:
        from mlx_lm.tool_parsers.json_tools import parse_tool_call

        self.tool_parser = parse_tool_call
        self.templated: list[Any] = []

    def apply_chat_template(self, messages: list[Any], **options: Any) -> list[int]:
        self.templated.append((messages, options.get("tools")))
        return [1, 2, 3]


def tool_backend(tmp_path: Path) -> tuple[MLXBackend, ToolTokenizer]:
    folder = tmp_path / "fake"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x")
    tokenizer = ToolTokenizer()
    entries = [ModelEntry("fake", path=str(folder))]
    config = MLXBackendConfig(name="local", models=entries, prompt_cache_bytes=0)  # no KV cache
    return MLXBackend(config, loader=lambda path: ("model", tokenizer)), tokenizer


WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def test_tool_calls_go_through_the_template_and_mlx_lms_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, tokenizer = tool_backend(tmp_path)
    answers(
        monkeypatch,
        [
            "Let me look.",
            "<tool_",
            'call>\n{"name": "weather", "arguments": ',
            '{"city": "Paris"}}\n</tool_call>',
        ],
    )
    reply = await backend.complete(chat_request("Weather in Paris?", tools=[WEATHER]))
    choice = msgspec.json.decode(reply.body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look."
    call = choice["message"]["tool_calls"][0]
    assert call["function"] == {"name": "weather", "arguments": '{"city": "Paris"}'}
    assert tokenizer.templated[-1][1] == [WEATHER]
    await backend.close()


async def test_a_json_answer_is_checked_and_asked_again_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, tokenizer = tool_backend(tmp_path)
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}
    answers(monkeypatch, ['{"town": "Paris"}'], ["```json\n", '{"city": "Paris"}', "\n```"])
    events = await collect(
        backend, chat_request("Capital of France?", stream=True, response_format=fmt)
    )
    assert "".join(e.text() for e in events if e) == '{"city": "Paris"}'
    retry = tokenizer.templated[-1][0]
    assert "missing 'city'" in retry[-1]["content"] and "JSON Schema" in retry[0]["content"]
    answers(monkeypatch, ["no"], ["still no"])
    with pytest.raises(BadOutput, match="twice: not valid JSON"):
        await backend.complete(chat_request("Capital?", response_format={"type": "json_object"}))
    await backend.close()
