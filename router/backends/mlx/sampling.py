"""Sampling for in-process models: which settings a request gets, and mlx-lm's machinery for them.

A setting comes from the first of these that sets it: the request, the model's `defaults` in
the config, the backend's `defaults`, the model folder's `generation_config.json` (read as
transformers reads it: temperature, top_p and top_k count only with `do_sample = true`), and
last mlx_lm.server's default, greedy. The model's EOS ids in `generation_config.json` are
mlx-lm's own business (`mlx_lm.load` adds them to the tokenizer's).

`build` turns the settings into mlx-lm's sampler and logits processors (`make_sampler`,
`make_logits_processors`); `token_logprob` shapes one generated token's log-probability as
OpenAI does. Both run on the generation thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from router.config import SamplingDefaults
from router.wire import TokenLogprob, TopLogprob

REPLACEMENT = "\ufffd"


class _GenerationConfig(msgspec.Struct):
    """The fields of a model folder's `generation_config.json` that sampling reads."""

    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None


_decode_generation_config = msgspec.json.Decoder(_GenerationConfig).decode


class Sampling(msgspec.Struct, frozen=True, kw_only=True):
    """The settings one generation runs with (greedy unless something says otherwise)."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[int, float] | None = None
    seed: int | None = None


class Asked(msgspec.Struct, kw_only=True):
    """The sampling fields a request may set (OpenAI's, and mlx_lm.server's top_k, min_p and
    repetition_penalty); None is unset."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[int, float] | None = None
    seed: int | None = None


_LAYERED = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")


def model_defaults(path: Path) -> SamplingDefaults:
    """A model folder's own sampling defaults; none when it has no readable config."""
    try:
        found = _decode_generation_config((path / "generation_config.json").read_bytes())
    except (OSError, msgspec.DecodeError):
        return SamplingDefaults()
    sampled = found.do_sample and found.temperature != 0
    return SamplingDefaults(
        temperature=(found.temperature if found.temperature is not None else 1.0)
        if sampled
        else None,
        top_p=found.top_p if sampled and found.top_p and 0 < found.top_p <= 1 else None,
        top_k=found.top_k if sampled and found.top_k and found.top_k > 0 else None,
        min_p=found.min_p if sampled and found.min_p and 0 <= found.min_p <= 1 else None,
        repetition_penalty=found.repetition_penalty
        if found.repetition_penalty and found.repetition_penalty > 0
        else None,
    )


def resolve(asked: Asked, layers: Sequence[SamplingDefaults | None]) -> Sampling:
    """The settings: the request's, else the first layer's that sets one, else greedy."""
    chosen: dict[str, Any] = {}
    for name in _LAYERED:
        value = getattr(asked, name)
        for layer in layers:
            if value is not None:
                break
            value = getattr(layer, name) if layer is not None else None
        if value is not None:
            chosen[name] = value
    return Sampling(
        **chosen,
        presence_penalty=asked.presence_penalty or None,
        frequency_penalty=asked.frequency_penalty or None,
        logit_bias=asked.logit_bias or None,
        seed=asked.seed,
    )


def build(sampling: Sampling, tokenizer: Any) -> tuple[Callable[..., Any], list[Any]]:
    """mlx-lm's sampler and logits processors for these settings."""
    from mlx_lm.sample_utils import make_logits_processors, make_sampler

    top_p = sampling.top_p if sampling.top_p < 1 else 0.0
    sampler = make_sampler(
        temp=sampling.temperature, top_p=top_p, min_p=sampling.min_p, top_k=sampling.top_k
    )
    processors = make_logits_processors(
        logit_bias=sampling.logit_bias,
        repetition_penalty=sampling.repetition_penalty,
        presence_penalty=sampling.presence_penalty,
        frequency_penalty=sampling.frequency_penalty,
    )
    return sampler, processors


def token_logprob(tokenizer: Any, logprobs: Any, token: int, top: int) -> TokenLogprob:
    """The token's log-probability and the `top` likeliest alternatives (mlx arrays in)."""
    import mlx.core as mx

    alternatives: list[TopLogprob] = []
    if top > 0:
        ids = mx.argpartition(-logprobs, kth=top - 1)[:top]
        values = logprobs[ids].tolist()
        pairs = sorted(zip(ids.tolist(), values, strict=True), key=lambda p: -p[1])
        alternatives = [_top(tokenizer, i, v) for i, v in pairs]
    raw = token_bytes(tokenizer, token)
    text = raw.decode("utf-8", "replace")
    return TokenLogprob(text, float(logprobs[token].item()), list(raw), alternatives)


def _top(tokenizer: Any, token: int, logprob: float) -> TopLogprob:
    raw = token_bytes(tokenizer, token)
    return TopLogprob(raw.decode("utf-8", "replace"), float(logprob), list(raw))


def token_bytes(tokenizer: Any, token: int) -> bytes:
    """A token's own bytes: byte-level BPE (`Ġ` is a space), SentencePiece (`▁`, `<0x..>`),
    else its decoded text."""
    from mlx_lm.tokenizer_utils import _byte_decoder

    piece = tokenizer.convert_ids_to_tokens(token)
    if not isinstance(piece, str):
        return b""
    table = _byte_decoder()
    if piece and all(c in table for c in piece) and not piece.startswith("<"):
        return bytes(table[c] for c in piece)
    if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
        return bytes([int(piece[3:5], 16)])
    if "\u2581" in piece:
        return piece.replace("\u2581", " ").encode()
    return tokenizer.decode([token]).encode()


def without_partial_character(text: str) -> str:
    """The text without the replacement characters a detokenizer makes of an incomplete UTF-8
    sequence at its very end (an answer cut at max_tokens in the middle of a character)."""
    return text.rstrip(REPLACEMENT)
