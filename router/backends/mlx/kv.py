"""What a generating request's KV cache costs an in-process model: bytes per token, read from the
model folder's `config.json`, and a request's need (its prompt and its `max_tokens`).

Per token, every layer keeps a key and a value per KV head:

    2 (K and V) x num_hidden_layers x num_key_value_heads x head_dim x bytes per value

`num_key_value_heads` falls back to `num_attention_heads` (no grouped-query attention);
`head_dim` to the model family's default (Gemma's 256, as mlx-lm's model classes have it), else
`hidden_size / num_attention_heads`. Values are 2 bytes (the fp16/bf16 activations mlx-lm keeps
the cache in, quantized weights included), 4 for a float32 model. A multimodal model's language
model reads its `text_config`.

An upper bound: sliding-window layers (Gemma 3's local layers, Mistral's window) keep a rotating
cache of at most the window, and are counted as if they kept every token. Models whose attention
this formula does not describe (DeepSeek's latent attention: `kv_lora_rank`) are unknown (None),
and their requests are not counted.

Pure, apart from `read_per_token` (the file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

HEAD_DIM_DEFAULTS = {"gemma": 256, "gemma2": 256, "gemma3": 256, "gemma3_text": 256}
FLOAT32 = {"float32", "fp32"}


def per_token(config: dict[str, Any]) -> int | None:
    """KV cache bytes per token of a model with this `config.json`; None when unknown."""
    text = config.get("text_config")
    if isinstance(text, dict):  # a multimodal model: its language model's shape
        config = {"model_type": config.get("model_type"), **config, **text}
    if config.get("kv_lora_rank"):
        return None
    layers = _positive(config.get("num_hidden_layers"))
    heads = _positive(config.get("num_attention_heads"))
    kv_heads = _positive(config.get("num_key_value_heads")) or heads
    head_dim = _positive(config.get("head_dim")) or HEAD_DIM_DEFAULTS.get(
        str(config.get("model_type"))
    )
    if head_dim is None and heads and (hidden := _positive(config.get("hidden_size"))):
        head_dim = hidden // heads
    if not (layers and kv_heads and head_dim):
        return None
    width = 4 if str(config.get("torch_dtype", "")).lower() in FLOAT32 else 2
    return 2 * layers * kv_heads * head_dim * width


def need(prompt_tokens: int, max_tokens: int, per_token: int, context: int | None = None) -> int:
    """The KV bytes a request holds at its end: its prompt and every token it may make, at most
    the model's context."""
    tokens = prompt_tokens + max_tokens
    return per_token * (min(tokens, context) if context else tokens)


def read_per_token(path: Path) -> int | None:
    """`per_token` of the model folder at `path`; None when its config is missing or unread."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return per_token(config) if isinstance(config, dict) else None


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class KVBudget(msgspec.Struct, frozen=True):
    """One model's in-flight KV: bytes per token, and the allowance its batch decodes within
    (`batching.plan`); `context`: its context length, which caps a request's need."""

    per_token: int
    allowance: int
    context: int | None = None

    def need(self, prompt_tokens: int, max_tokens: int) -> int:
        return need(prompt_tokens, max_tokens, self.per_token, self.context)
