"""A GGUF file's tensors as mlx-lm's llama weights: names mapped, q/k rows restored, quantized.

Apart from `router.modelfiles.gguf` because it is the arithmetic of the import: `mx.load` reads
the tensors (Q4_0, Q4_1 and Q8_0 stay quantized as weight/scales/biases triplets; the other types
come back unpacked), each GGUF name becomes mlx-lm's module path, llama.cpp's row permutation of
the q/k projections is undone, float tensors take the chosen dtype, and the quantized modules'
bit widths become mlx-lm's `quantization` config. `requantize` (the importer's `bits`) stores
the quantized modules with fewer bits: how the tests make a deliberately worse twin of a model.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import mlx.core as mx

from router.errors import ModelFileError

GROUP_SIZE = 32  # every block format mlx keeps quantized (Q4_0, Q4_1, Q8_0) has 32 weights a block
REQUANT_BITS = (2, 3, 4, 6, 8)  # what `requantize` accepts (bit widths mlx quantizes to)

_LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_TOP_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}


def load_tensors(src: Path) -> dict[str, mx.array]:
    try:
        arrays = mx.load(str(src), format="gguf")
    except (RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{src}: cannot read tensors ({exc})") from None
    assert isinstance(arrays, dict)
    return arrays


def _hf_name(base: str, src: Path) -> str:
    """The mlx-lm module path for a GGUF tensor name without its last component."""
    if base in _TOP_NAMES:
        return _TOP_NAMES[base]
    parts = base.split(".")
    if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _LAYER_NAMES:
        return f"model.layers.{parts[1]}.{_LAYER_NAMES[parts[2]]}"
    raise ModelFileError(f"{src}: unexpected tensor {base!r} for a llama model")


def unpermute_rows(arr: mx.array, n_heads: int) -> mx.array:
    """Undo llama.cpp's q/k row order (pairs interleaved per head) along axis 0.

    Applies unchanged to a quantized weight's packed rows, scales and biases, and to a bias.
    """
    rows = arr.shape[0]
    if rows % (2 * n_heads):
        raise ValueError(f"{rows} rows do not split into {n_heads} heads")
    rest = arr.shape[1:]
    split = arr.reshape(n_heads, rows // n_heads // 2, 2, *rest)
    return split.swapaxes(1, 2).reshape(arr.shape)


def convert_weights(
    arrays: dict[str, mx.array], config: dict[str, Any], src: Path
) -> dict[str, mx.array]:
    heads = {"q_proj": config["num_attention_heads"], "k_proj": config["num_key_value_heads"]}
    target = getattr(mx, config["torch_dtype"])
    out: dict[str, mx.array] = {}
    for name, arr in arrays.items():
        base, _, suffix = name.rpartition(".")
        module = _hf_name(base, src)
        if (n := heads.get(module.rpartition(".")[2])) is not None:
            try:
                arr = unpermute_rows(arr, n)
            except ValueError as exc:
                raise ModelFileError(f"{src}: tensor {name!r}: {exc}") from None
        if arr.dtype in (mx.float32, mx.float16, mx.bfloat16):
            arr = arr.astype(target)
        out[f"{module}.{suffix}"] = arr
    return out


def quantization(weights: dict[str, mx.array]) -> dict[str, Any]:
    """mlx-lm's `quantization` config: the commonest bit width, plus every module that differs."""
    bits: dict[str, int] = {}
    for key, scales in weights.items():
        if key.endswith(".scales"):
            module = key.removesuffix(".scales")
            in_features = scales.shape[-1] * GROUP_SIZE
            bits[module] = weights[f"{module}.weight"].shape[-1] * 32 // in_features
    if not bits:
        return {}
    default = collections.Counter(bits.values()).most_common(1)[0][0]
    quant: dict[str, Any] = {"group_size": GROUP_SIZE, "bits": default}
    for module, b in sorted(bits.items()):
        if b != default:
            quant[module] = {"group_size": GROUP_SIZE, "bits": b}
    return quant


def requantize(weights: dict[str, mx.array], bits: int) -> dict[str, mx.array]:
    """Store every quantized module wider than `bits` with `bits` bits (groups of 32).

    Each module is dequantized from its own width and quantized again; float tensors (norms)
    are left alone. Requantizing 4-bit weights to 3 or 2 bits loses information for good.
    """
    if bits not in REQUANT_BITS:
        raise ValueError(f"bits must be one of {', '.join(map(str, REQUANT_BITS))}, not {bits!r}")
    out = dict(weights)
    widths = quantization(weights)
    for key in [k for k in weights if k.endswith(".scales")]:
        module = key.removesuffix(".scales")
        width = widths.get(module, widths)["bits"]
        if width <= bits:
            continue
        parts = (weights[f"{module}.weight"], weights[key], weights[f"{module}.biases"])
        full = mx.dequantize(*parts, group_size=GROUP_SIZE, bits=width)
        packed, scales, biases = mx.quantize(full, group_size=GROUP_SIZE, bits=bits)
        out[f"{module}.weight"], out[key], out[f"{module}.biases"] = packed, scales, biases
    return out
