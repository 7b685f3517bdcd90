"""Import a GGUF file (llama.cpp's model format) into a model folder that `mlx_lm.load` reads.

`import_gguf(src, out)` reads the GGUF header itself (metadata, tensor table, sanity checks),
lets `mlx.core.load` read the tensors (Q4_0, Q4_1 and Q8_0 stay quantized as mlx
weight/scales/biases triplets; F32, F16, BF16, Q2_K, Q4_K and Q6_K come back unpacked and are
stored as float), undoes llama.cpp's row permutation of the q/k projections, and writes
`config.json` (with the per-layer quantization), `tokenizer.json` (rebuilt from the GGUF
vocabulary by `router.modelfiles.gguf_tokenizer`), `tokenizer_config.json` (special tokens, chat
template)
and `model.safetensors`. The folder is built beside `out`, checked by building the mlx-lm
model from it, and renamed into place, so a folder at `out` is always complete.
Every failure is a one-line `ModelFileError`.
"""

from __future__ import annotations

import collections
import mmap
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import msgspec
from tokenizers import Tokenizer

from router.errors import ModelFileError
from router.modelfiles.gguf_tokenizer import build_tokenizer

IMPORT_RECORD = "router-import.json"
SUPPORTED_ARCHITECTURES = ("llama",)
GROUP_SIZE = 32  # every block format mlx keeps quantized (Q4_0, Q4_1, Q8_0) has 32 weights a block

# ggml type id -> (name, weights per block, bytes per block) for the types mlx can read.
_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    8: ("Q8_0", 32, 34),
    10: ("Q2_K", 256, 84),
    12: ("Q4_K", 256, 144),
    14: ("Q6_K", 256, 210),
    30: ("BF16", 1, 2),
}
_OTHER_TYPES = {
    6: "Q5_0",
    7: "Q5_1",
    9: "Q8_1",
    11: "Q3_K",
    13: "Q5_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
}
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}

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


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # row-major (numpy / mlx) order
    type_name: str
    offset: int  # from the start of the data section
    nbytes: int


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo]


class ImportRecord(msgspec.Struct):
    """What `import_gguf` writes into the folder: where it came from."""

    source: str
    source_bytes: int
    architecture: str
    name: str | None
    tensor_types: dict[str, int]


class _Reader:
    """Sequential little-endian reads over a memory-mapped file."""

    def __init__(self, buf: mmap.mmap) -> None:
        self.buf, self.pos = buf, 0

    def scalar(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        if self.pos + n > len(self.buf):
            raise EOFError
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype == 8:
            return self.string()
        if vtype == 9:
            itype, count = self.scalar("<I"), self.scalar("<Q")
            if count > len(self.buf):
                raise ValueError(f"array of {count} items")
            return [self.value(itype) for _ in range(count)]
        if vtype not in _SCALARS:
            raise ValueError(f"unknown metadata value type {vtype}")
        return self.scalar(_SCALARS[vtype])


def read_header(path: Path) -> GGUFHeader:
    """Parse a GGUF file's metadata and tensor table, checking it is whole and readable."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if fh.read(4) != b"GGUF":
                raise ModelFileError(f"{path}: not a GGUF file (bad magic bytes)")
            if size < 24:
                raise EOFError
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(_Reader(buf), path, size)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a GGUF file") from None
    except (EOFError, struct.error, IndexError):
        raise ModelFileError(f"{path}: truncated GGUF header (incomplete download?)") from None
    except (ValueError, OverflowError, MemoryError, ZeroDivisionError) as exc:
        raise ModelFileError(f"{path}: corrupt GGUF header ({exc})") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _parse(r: _Reader, path: Path, size: int) -> GGUFHeader:
    r.pos = 4
    version = r.scalar("<I")
    if version not in (2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
    if n_tensors > size or n_kv > size:
        raise ModelFileError(f"{path}: corrupt GGUF header (impossible counts)")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        metadata[key] = r.value(r.scalar("<I"))
    infos = [_tensor_info(r, path) for _ in range(n_tensors)]
    align = int(metadata.get("general.alignment", 32))
    data_start = -(-r.pos // align) * align
    tensors = {}
    for info in infos:
        if data_start + info.offset + info.nbytes > size:
            raise ModelFileError(
                f"{path}: truncated: tensor {info.name!r} extends past the end of the file"
            )
        tensors[info.name] = info
    return GGUFHeader(version, metadata, tensors)


def _tensor_info(r: _Reader, path: Path) -> TensorInfo:
    name = r.string()
    n_dims = r.scalar("<I")
    if n_dims > 8:
        raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
    dims = [r.scalar("<Q") for _ in range(n_dims)]
    type_id, offset = r.scalar("<I"), r.scalar("<Q")
    if type_id not in _TYPES:
        type_name = _OTHER_TYPES.get(type_id, f"type {type_id}")
        supported = ", ".join(t[0] for t in _TYPES.values())
        raise ModelFileError(
            f"{path}: tensor {name!r} has unsupported tensor type {type_name}"
            f" (supported: {supported})"
        )
    type_name, block, block_bytes = _TYPES[type_id]
    count = 1
    for d in dims:
        count *= d
    if count % block:
        raise ValueError(f"tensor {name!r} size is not a whole number of {type_name} blocks")
    return TensorInfo(name, tuple(reversed(dims)), type_name, offset, count // block * block_bytes)


def import_gguf(src: Path, out: Path, *, dtype: str | None = None) -> Path:
    """Convert the GGUF file `src` into an mlx-lm model folder at `out`; returns `out`.

    `dtype` ("float16" or "float32") is what unpacked tensors, scales and biases are stored as;
    by default float16 where mlx has a GPU (Metal) and float32 on CPU, where mlx's float16
    kernels are many times slower.
    """
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if dtype is None:
        dtype = "float16" if mx.metal.is_available() else "float32"
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be float16 or float32, not {dtype!r}")
    header = read_header(src)
    meta = header.metadata
    arch = meta.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ModelFileError(
            f"{src}: unsupported architecture {arch!r} (supported: "
            f"{', '.join(SUPPORTED_ARCHITECTURES)})"
        )
    try:
        config = {**_llama_config(meta, header, src), "torch_dtype": dtype}
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ModelFileError(f"{src}: malformed GGUF metadata ({exc})") from None
    arrays = _load_tensors(src)
    config["rope_scaling"] = _rope_scaling(meta, arrays.pop("rope_freqs.weight", None), config, src)
    weights = _convert_weights(arrays, config, src)
    if quantization := _quantization(weights):
        config["quantization"] = quantization
    tokenizer, tok_config = build_tokenizer(meta, src, int(config["max_position_embeddings"]))
    record = ImportRecord(
        source=src.name,
        source_bytes=src.stat().st_size,
        architecture=arch,
        name=meta.get("general.name"),
        tensor_types=dict(collections.Counter(t.type_name for t in header.tensors.values())),
    )
    files = {
        "config.json": config,
        "tokenizer_config.json": tok_config,
        IMPORT_RECORD: msgspec.to_builtins(record),
    }
    return _write_folder(src, out, weights, tokenizer, files)


def _load_tensors(src: Path) -> dict[str, mx.array]:
    try:
        arrays = mx.load(str(src), format="gguf")
    except (RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{src}: cannot read tensors ({exc})") from None
    assert isinstance(arrays, dict)
    return arrays


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


def _rope_scaling(
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


def _convert_weights(
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


def _quantization(weights: dict[str, mx.array]) -> dict[str, Any]:
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


def _write_folder(
    src: Path,
    out: Path,
    weights: dict[str, mx.array],
    tokenizer: Tokenizer,
    files: dict[str, Any],
) -> Path:
    """Build the folder beside `out`, then rename it into place (replacing an older import)."""
    if out.exists() and not _replaceable(out):
        raise ModelFileError(f"{out}: exists and was not made by import-gguf; not replacing it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as exc:
        raise ModelFileError(f"{out}: cannot create model folder ({exc.strerror or exc})") from None
    try:
        mx.save_safetensors(str(tmp / "model.safetensors"), weights, metadata={"format": "mlx"})
        tokenizer.save(str(tmp / "tokenizer.json"))
        for name, data in files.items():
            (tmp / name).write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2))
        tmp.chmod(0o755)
        _check_loads(src, tmp)
        _swap_in(tmp, out)
    except (OSError, RuntimeError) as exc:
        raise ModelFileError(f"{out}: cannot write model folder ({exc})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _check_loads(src: Path, folder: Path) -> None:
    """Build the mlx-lm model from the new folder (lazily) so a mismatch fails the import."""
    from mlx_lm.utils import load_model  # imports transformers: only when importing a model

    try:
        load_model(folder, lazy=True)
    except (ValueError, KeyError, TypeError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise ModelFileError(f"{src}: tensors do not fit a llama model ({message})") from None


def _replaceable(out: Path) -> bool:
    return out.is_dir() and ((out / IMPORT_RECORD).is_file() or not any(out.iterdir()))


def _swap_in(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rename(out, old / out.name)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
