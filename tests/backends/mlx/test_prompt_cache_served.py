"""The prompt cache end to end: the official SDK -> a running router -> SmolLM2 in process.

One router, two backends on the same weights: `cached` (the prompt cache on, as by default)
and `plain` (`prompt_cache_bytes = 0`), so every cached answer is checked against the answer
the model gives reading the whole prompt. Greedy, a few tokens per answer. The plain backend
answers first (the cached model is not loaded yet, so its idle TTL cannot run out between its
turns); at the end the cached model's idle TTL unloads it, and its cache goes with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from router.backends.mlx.prompt_cache import common_prefix
from tests.backends.mlx.test_backend import client_of, wait_for
from tests.conftest import RunningRouter

SYSTEM = (
    "You are a terse geography tutor. Answer every question with the name of one city and "
    "nothing else. Never explain. Never add punctuation."
)
OTHER_SYSTEM = "You are a poet who writes about the sea, in short lines."
TURN_1 = "What is the capital of France?"
TURN_2 = "And the capital of Italy?"
TTL = 2.0  # the cached model unloads after this long idle
TOKENS = 4


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("prompt-cache") / "router.toml"
    path.write_text(
        f'[[backends]]\nname = "cached"\nkind = "mlx"\nidle_ttl = {TTL}\n'
        f'models = [{{ id = "smollm2", path = "{embedded_model_path}" }}]\n'
        f'[[backends]]\nname = "plain"\nkind = "mlx"\nidle_ttl = 0\nprompt_cache_bytes = 0\n'
        f'models = [{{ id = "smollm2-plain", path = "{embedded_model_path}" }}]\n'
    )
    running = RunningRouter(path).start()
    yield running
    running.stop()


def ask(client: openai.OpenAI, model: str, messages: list[dict[str, str]]) -> Any:
    return client.chat.completions.create(
        model=model, messages=messages, temperature=0, max_tokens=TOKENS
    )


def streamed(client: openai.OpenAI, model: str, messages: list[dict[str, str]]) -> tuple[str, Any]:
    """A streamed answer's text and its final usage chunk's usage."""
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=messages,
            temperature=0,
            max_tokens=TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks[-1].usage


def conversation(first_answer: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": TURN_1},
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": TURN_2},
    ]


def template(embedded_model_path: Path, messages: list[dict[str, str]]) -> list[int]:
    """The prompt's tokens, as the router makes them (mlx-lm's tokenizer, the chat template)."""
    from mlx_lm.utils import load_tokenizer

    tokenizer = load_tokenizer(embedded_model_path)
    return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True))


def test_a_second_turn_reads_only_its_new_tokens_and_answers_the_same(
    router: RunningRouter, embedded_model_path: Path
) -> None:
    client = client_of(router)
    opening = conversation("")[:2]
    other = [{"role": "system", "content": OTHER_SYSTEM}, {"role": "user", "content": TURN_1}]
    # the reference: the whole prompt read every time
    plain_1 = ask(client, "smollm2-plain", opening)
    plain_2 = ask(client, "smollm2-plain", conversation(plain_1.choices[0].message.content))
    plain_other = ask(client, "smollm2-plain", other)
    assert plain_2.usage.prompt_tokens_details.cached_tokens == 0

    first = ask(client, "smollm2", opening)
    assert first.choices[0].message.content == plain_1.choices[0].message.content
    assert first.usage.prompt_tokens_details.cached_tokens == 0  # nothing cached yet
    text, usage = streamed(client, "smollm2", conversation(first.choices[0].message.content))
    assert text == plain_2.choices[0].message.content  # the same greedy answer
    cached = usage.prompt_tokens_details.cached_tokens
    read_before = first.usage.prompt_tokens + first.usage.completion_tokens
    assert read_before - 2 <= cached <= read_before < usage.prompt_tokens
    assert router.metric("router_prompt_cache_hit_tokens_total", model="smollm2") == cached
    assert router.metric("router_prompt_cache_bytes", model="smollm2", backend="cached") > 0
    card = client.models.retrieve("smollm2").model_extra["prompt_cache"]  # GET /v1/models/{id}
    assert card["bytes"] > 0 and card["entries"] >= 1 and card["hit_tokens"] == cached
    prompts = first.usage.prompt_tokens + usage.prompt_tokens
    assert card["prompt_tokens"] == prompts and card["hit_rate"] == round(cached / prompts, 4)

    # another conversation shares only the chat template's opening tokens: no false hit
    elsewhere = ask(client, "smollm2", other)
    assert elsewhere.choices[0].message.content == plain_other.choices[0].message.content
    held = template(embedded_model_path, conversation(first.choices[0].message.content))
    shared = common_prefix(template(embedded_model_path, other), held)  # "<|im_start|>system..."
    assert elsewhere.usage.prompt_tokens_details.cached_tokens == shared < 8


def test_unloading_the_model_drops_its_cache(router: RunningRouter) -> None:
    assert router.metric("router_prompt_cache_bytes", model="smollm2") > 0
    wait_for(lambda: router.metric("router_model_loaded", model="smollm2") == 0, TTL * 10)
    assert router.metric("router_prompt_cache_bytes", model="smollm2") == 0
    # loaded again, it starts with an empty cache
    again = ask(client_of(router), "smollm2", conversation("")[:2])
    assert again.usage.prompt_tokens_details.cached_tokens == 0
