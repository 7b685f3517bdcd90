"""The GGUF container (llama.cpp's model file): its metadata and tensor table, read and checked.

Apart from `router.modelfiles.gguf` because reading the file's layout (magic bytes, version,
typed metadata values, the tensor table, alignment, and which tensor types mlx can read) is a
format of its own, independent of what a llama model needs from it; the importer and the
embedded model's checks only see the parsed `GGUFHeader`. Every failure is a one-line
`ModelFileError` naming the file.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.errors import ModelFileError

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
