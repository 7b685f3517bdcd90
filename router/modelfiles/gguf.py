"""Import a GGUF file (llama.cpp's model format) into a model folder that `mlx_lm.load` reads.

`import_gguf(src, out)` reads the GGUF header (`router.modelfiles.gguf_file`: metadata, tensor
table, sanity checks), builds `config.json` from the metadata (`router.modelfiles.gguf_config`,
with the per-layer quantization), lets `mlx.core.load` read the tensors and maps them onto mlx-lm's
llama weights (`router.modelfiles.gguf_tensors`: Q4_0, Q4_1 and Q8_0 stay quantized, the other
types are stored as float, llama.cpp's q/k row permutation undone), rebuilds `tokenizer.json` and
`tokenizer_config.json` (special tokens, chat template) from the GGUF vocabulary
(`router.modelfiles.gguf_tokenizer`), and writes them with `model.safetensors`. This module holds
the import's order and the folder: built beside `out`, checked by building the mlx-lm model from
it, and renamed into place, so a folder at `out` is always complete.
Every failure is a one-line `ModelFileError`.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlx.core as mx
import msgspec
from tokenizers import Tokenizer

from router.errors import ModelFileError
from router.modelfiles.gguf_config import model_config, rope_scaling
from router.modelfiles.gguf_file import GGUFHeader, read_header
from router.modelfiles.gguf_tensors import (
    REQUANT_BITS,
    convert_weights,
    load_tensors,
    quantization,
    requantize,
)
from router.modelfiles.gguf_tokenizer import build_tokenizer

IMPORT_RECORD = "router-import.json"


class ImportRecord(msgspec.Struct):
    """What `import_gguf` writes into the folder: where it came from."""

    source: str
    source_bytes: int
    architecture: str
    name: str | None
    tensor_types: dict[str, int]
    requantized_bits: int | None = None  # `bits`: stored with fewer bits than the file's


def import_gguf(src: Path, out: Path, *, dtype: str | None = None, bits: int | None = None) -> Path:
    """Convert the GGUF file `src` into an mlx-lm model folder at `out`; returns `out`.

    `dtype` ("float16" or "float32") is what unpacked tensors, scales and biases are stored as;
    by default float16 where mlx has a GPU (Metal) and float32 on CPU, where mlx's float16
    kernels are many times slower. `bits` (2, 3, 4, 6 or 8) stores the quantized tensors with
    at most that many bits: a smaller, worse model (the tests' twin of the embedded model).
    """
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if dtype is None:
        dtype = "float16" if mx.metal.is_available() else "float32"
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be float16 or float32, not {dtype!r}")
    if bits is not None and bits not in REQUANT_BITS:
        raise ValueError(f"bits must be one of {', '.join(map(str, REQUANT_BITS))}, not {bits!r}")
    header = read_header(src)
    meta = header.metadata
    config = model_config(header, src, dtype)
    arrays = load_tensors(src)
    config["rope_scaling"] = rope_scaling(meta, arrays.pop("rope_freqs.weight", None), config, src)
    weights = convert_weights(arrays, config, src)
    if bits is not None:
        weights = requantize(weights, bits)
    if quant := quantization(weights):
        config["quantization"] = quant
    tokenizer, tok_config = build_tokenizer(meta, src, int(config["max_position_embeddings"]))
    files = {
        "config.json": config,
        "tokenizer_config.json": tok_config,
        IMPORT_RECORD: msgspec.to_builtins(_record(src, header, bits)),
    }
    return _write_folder(src, out, weights, tokenizer, files)


def _record(src: Path, header: GGUFHeader, bits: int | None) -> ImportRecord:
    return ImportRecord(
        source=src.name,
        source_bytes=src.stat().st_size,
        architecture=header.metadata["general.architecture"],
        name=header.metadata.get("general.name"),
        tensor_types=dict(collections.Counter(t.type_name for t in header.tensors.values())),
        requantized_bits=bits,
    )


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
