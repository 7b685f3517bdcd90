"""A generating request's KV cache, counted: bytes per token from real models' config.json shapes
(table-driven), a request's need, and the embedded model's figure checked against the KV cache
mlx-lm actually makes for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.backends.mlx.kv import KVBudget, need, per_token, read_per_token

SMOLLM2_135M = {
    "model_type": "llama",
    "hidden_size": 576,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "torch_dtype": "bfloat16",
}
LLAMA_32_1B = {
    "model_type": "llama",
    "hidden_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "torch_dtype": "bfloat16",
}
GEMMA_3_12B = {  # multimodal: the language model's shape is in text_config, head_dim implied
    "model_type": "gemma3",
    "text_config": {
        "model_type": "gemma3_text",
        "hidden_size": 3840,
        "num_hidden_layers": 48,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "sliding_window": 1024,
    },
    "torch_dtype": "bfloat16",
}
QWEN3_06B = {  # head_dim 128, not hidden_size / heads (64)
    "model_type": "qwen3",
    "hidden_size": 1024,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "torch_dtype": "bfloat16",
}
QWEN3_8B = {**QWEN3_06B, "hidden_size": 4096, "num_hidden_layers": 36, "num_attention_heads": 32}
LLAMA_2_7B = {  # no grouped-query attention: as many KV heads as heads
    "model_type": "llama",
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "torch_dtype": "float16",
}

CASES = [
    # (name, config, bytes per token: 2 x layers x kv heads x head_dim x bytes)
    ("SmolLM2-135M", SMOLLM2_135M, 2 * 30 * 3 * 64 * 2),  # 23,040
    ("SmolLM2-135M in float32", {**SMOLLM2_135M, "torch_dtype": "float32"}, 2 * 30 * 3 * 64 * 4),
    ("Llama-3.2-1B", LLAMA_32_1B, 2 * 16 * 8 * 64 * 2),  # 32,768
    ("gemma-3-12b (every layer full: an upper bound)", GEMMA_3_12B, 2 * 48 * 8 * 256 * 2),
    ("Qwen3-0.6B", QWEN3_06B, 2 * 28 * 8 * 128 * 2),  # 114,688
    ("Qwen3-8B", QWEN3_8B, 2 * 36 * 8 * 128 * 2),  # 147,456
    ("Llama-2-7B: no num_key_value_heads", LLAMA_2_7B, 2 * 32 * 32 * 128 * 2),
    ("no dtype: 2 bytes", {k: v for k, v in LLAMA_32_1B.items() if k != "torch_dtype"}, 32768),
    ("DeepSeek's latent attention: unknown", {**QWEN3_8B, "kv_lora_rank": 512}, None),
    ("no layers: unknown", {"hidden_size": 64, "num_attention_heads": 4}, None),
    ("nonsense values: unknown", {**LLAMA_32_1B, "num_hidden_layers": "16"}, None),
    ("empty: unknown", {}, None),
]


@pytest.mark.parametrize(("config", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_per_token(config: dict[str, Any], expected: int | None) -> None:
    assert per_token(config) == expected


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "context", "expected"),
    [
        (100, 50, None, 150 * 10),  # the prompt and every token it may make
        (100, 50, 120, 120 * 10),  # never more than the model's context
        (0, 1, 8192, 10),
    ],
)
def test_need(prompt: int, max_tokens: int, context: int | None, expected: int) -> None:
    assert need(prompt, max_tokens, 10, context) == expected
    assert KVBudget(10, 0, context).need(prompt, max_tokens) == expected


def test_read_per_token_without_a_config(tmp_path: Path) -> None:
    assert read_per_token(tmp_path) is None
    (tmp_path / "config.json").write_text("[not json")
    assert read_per_token(tmp_path) is None
    (tmp_path / "config.json").write_text("[1, 2]")
    assert read_per_token(tmp_path) is None


def test_the_embedded_model_holds_what_its_config_says(
    embedded_model_path: Path, embedded_mlx_model: tuple[Any, Any]
) -> None:
    """The figure from config.json against the bytes mlx-lm's KV cache holds for 8 tokens."""
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    model, _ = embedded_mlx_model
    cache = make_prompt_cache(model)
    model(mx.array([[1, 2, 3, 4, 5, 6, 7, 8]]), cache=cache)
    mx.eval([c.state for c in cache])
    allocated = cache[0].keys.shape[2]  # mlx-lm allocates in steps of 256 tokens
    held = sum(c.nbytes for c in cache)
    assert read_per_token(embedded_model_path) == held // allocated
    assert held % allocated == 0
