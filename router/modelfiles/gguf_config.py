"""A GGUF file's metadata as mlx-lm's llama `config.json`: sizes, rope, special tokens.

Apart from `router.modelfiles.gguf` because it only reads metadata keys (`llama.*`,
`tokenizer.ggml.*_token_id`) and the llama-3 `rope_freqs` tensor, and says which models the
importer refuses (other architectures, mixture of experts, partial rotary embeddings, other rope
scaling); the tensors and the folder are the importer's. Every failure is a one-line
`ModelFileError` naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlx.core as mx

from router.errors import ModelFileError
from router.modelfiles.gguf_file import GGUFHeader

SUPPORTED_ARCHITECTURES = ("llama",)


def model_config(header: GGUFHeader, src: Path, dtype: str) -> dict[str, Any]:
    """config.json (all but rope scaling and quantization) for a supported architecture."""
    arch = header.metadata.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelFileError(
            f"{src}: unsupported architecture {arch!r} (supported: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)})"
        )
    try:
        return {**_llama_config(header.metadata, header, src), "torch_dtype": dtype}
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelFileError(f"{src}: malformed GGUF metadata ({exc})") from None


def _get(meta: dict[str, Any], key: str, src: Path, default: Any = None) -> Any:
    value = meta.get(f"{meta['general.architecture']}.{key}", default)
    if value is None:
        raise ModelFileError(f"{src}: GGUF metadata lacks {meta['general.architecture']}.{key}")
    return value


def _llama_config(meta: dict[str, Any], header: GGUFHeader, src: Path) -> dict[str, Any]:
    """config.json for mlx-lm's llama model, from the GGUF metadata."""
    if _get(meta, "expert_count", src, 0):
        raise ModelFileError(f"{src}: mixture-of-experts llama models are not supported")
    embd = header.tensors.get("token_embd.weight")
    if embd is None:
        raise ModelFileError(f"{src}: GGUF file has no token_embd.weight tensor")
    hidden = int(_get(meta, "embedding_length", src))
    heads = int(_get(meta, "attention.head_count", src))
    head_dim = int(_get(meta, "attention.key_length", src, hidden // heads))
    if int(_get(meta, "rope.dimension_count", src, head_dim)) != head_dim:
        raise ModelFileError(f"{src}: partial rotary embeddings are not supported")
    tensors = header.tensors
    config: dict[str, Any] = {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": int(_get(meta, "block_count", src)),
        "intermediate_size": int(_get(meta, "feed_forward_length", src)),
        "num_attention_heads": heads,
        "num_key_value_heads": int(_get(meta, "attention.head_count_kv", src, heads)),
        "head_dim": head_dim,
        "rms_norm_eps": float(_get(meta, "attention.layer_norm_rms_epsilon", src, 1e-5)),
        "rope_theta": float(_get(meta, "rope.freq_base", src, 10000.0)),
        "vocab_size": int(embd.shape[0]),
        "max_position_embeddings": int(_get(meta, "context_length", src, 4096)),
        "tie_word_embeddings": "output.weight" not in tensors,
        "attention_bias": "blk.0.attn_q.bias" in tensors,
        "mlp_bias": "blk.0.ffn_up.bias" in tensors,
    }
    return config | _special_tokens(meta)


def _special_tokens(meta: dict[str, Any]) -> dict[str, Any]:
    """`bos_token_id`, and `eos_token_id`: each distinct stop token (eos, eot, eom) named."""
    config: dict[str, Any] = {}
    if (bos := meta.get("tokenizer.ggml.bos_token_id")) is not None:
        config["bos_token_id"] = int(bos)
    stops = [
        int(meta[f"tokenizer.ggml.{k}_token_id"])
        for k in ("eos", "eot", "eom")
        if meta.get(f"tokenizer.ggml.{k}_token_id") is not None
    ]
    stops = list(dict.fromkeys(stops))
    if stops:
        config["eos_token_id"] = stops[0] if len(stops) == 1 else stops
    return config


def rope_scaling(
    meta: dict[str, Any], freqs: mx.array | None, config: dict[str, Any], src: Path
) -> dict[str, Any] | None:
    """mlx-lm's `rope_scaling` from the GGUF's scaling keys or its llama-3 `rope_freqs` tensor."""
    kind = _get(meta, "rope.scaling.type", src, "none")
    if freqs is not None:
        return _llama3_scaling(freqs, config, src)
    if kind == "none":
        return None
    if kind == "linear":
        return {"type": "linear", "factor": float(_get(meta, "rope.scaling.factor", src))}
    raise ModelFileError(f"{src}: unsupported rope scaling {kind!r}")


def _llama3_scaling(freqs: mx.array, config: dict[str, Any], src: Path) -> dict[str, Any]:
    """Recover llama-3 rope scaling parameters from the per-frequency divisors llama.cpp stores."""
    found = [float(x) for x in freqs.astype(mx.float32).tolist()]
    factor, low, high, old_ctx = max(found), 1.0, 4.0, 8192
    dim, theta = config["head_dim"], config["rope_theta"]
    expected = []
    for i in range(0, dim, 2):
        wavelen = 2 * 3.141592653589793 * theta ** (i / dim)
        if wavelen < old_ctx / high:
            expected.append(1.0)
        elif wavelen > old_ctx / low:
            expected.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            expected.append(1 / ((1 - smooth) / factor + smooth))
    if len(expected) != len(found) or any(
        abs(a - b) > 1e-3 * max(1.0, b) for a, b in zip(expected, found, strict=True)
    ):
        raise ModelFileError(f"{src}: unsupported rope_freqs tensor (not llama-3 scaling)")
    return {
        "rope_type": "llama3",
        "factor": factor,
        "low_freq_factor": low,
        "high_freq_factor": high,
        "original_max_position_embeddings": old_ctx,
    }
