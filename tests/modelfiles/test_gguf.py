"""GGUF import: the shipped SmolLM2 model answers, tiny hand-made GGUF files check the
tensor conversion (q/k row order, mixed quantization, tied embeddings, rope scaling), and
broken files (missing, corrupt, truncated, other architecture, unsupported tensor type) fail
with a one-line ModelFileError.

The GGUF files here are written byte by byte by `write_gguf` (the format is a small header,
a key/value table, a tensor table and aligned tensor data), so no extra package is needed.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx_lm
import numpy as np
import pytest
from tokenizers import pre_tokenizers

from router.errors import ModelFileError
from router.modelfiles.gguf import IMPORT_RECORD, import_gguf
from router.modelfiles.gguf_file import read_header
from router.modelfiles.gguf_tensors import unpermute_rows
from router.modelfiles.gguf_tokenizer import build_tokenizer

F32, F16, Q4_0, Q4_1, Q8_0, Q5_K = 0, 1, 2, 3, 8, 13


# --- a minimal GGUF writer ----------------------------------------------------------------


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _value(v: Any) -> bytes:
    if isinstance(v, bool):
        return struct.pack("<I?", 7, v)
    if isinstance(v, int):
        return struct.pack("<IQ", 10, v) if v >= 2**31 else struct.pack("<Ii", 5, v)
    if isinstance(v, float):
        return struct.pack("<If", 6, v)
    if isinstance(v, str):
        return struct.pack("<I", 8) + _str(v)
    if v and isinstance(v[0], str):
        return struct.pack("<IIQ", 9, 8, len(v)) + b"".join(_str(x) for x in v)
    if v and isinstance(v[0], float):
        return struct.pack("<IIQ", 9, 6, len(v)) + struct.pack(f"<{len(v)}f", *v)
    return struct.pack("<IIQ", 9, 5, len(v)) + struct.pack(f"<{len(v)}i", *v)


def write_gguf(
    path: Path, meta: dict[str, Any], tensors: dict[str, tuple[int, tuple, bytes]]
) -> Path:
    """Write a GGUF v3 file; each tensor is (ggml type, row-major shape, raw block bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for key, value in meta.items():
        out += _str(key) + _value(value)
    data, offset = bytearray(), 0
    for name, (kind, shape, raw) in tensors.items():
        dims = b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += _str(name) + struct.pack("<I", len(shape)) + dims + struct.pack("<IQ", kind, offset)
        padded = raw + b"\0" * (-len(raw) % 32)
        data += padded
        offset += len(padded)
    out += b"\0" * (-len(out) % 32)
    path.write_bytes(bytes(out + data))
    return path


def q8_0(x: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q8_0 blocks for `x` (rows of multiples of 32) and the values they decode to."""
    blocks = x.reshape(-1, 32).astype(np.float32)
    d = (np.abs(blocks).max(axis=1) / 127).astype(np.float16)
    q = np.round(blocks / np.maximum(d.astype(np.float32), 1e-8)[:, None]).astype(np.int8)
    raw = b"".join(d[i].tobytes() + q[i].tobytes() for i in range(len(q)))
    return raw, (q * d.astype(np.float32)[:, None]).reshape(x.shape)


def q4_1(x: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Q4_1 blocks for `x` and the values they decode to."""
    blocks = x.reshape(-1, 32).astype(np.float32)
    lo = blocks.min(axis=1).astype(np.float16)
    d = ((blocks.max(axis=1) - lo.astype(np.float32)) / 15).astype(np.float16)
    q = np.clip(
        np.round(
            (blocks - lo.astype(np.float32)[:, None])
            / np.maximum(d.astype(np.float32), 1e-8)[:, None]
        ),
        0,
        15,
    ).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    raw = b"".join(d[i].tobytes() + lo[i].tobytes() + packed[i].tobytes() for i in range(len(q)))
    decoded = q * d.astype(np.float32)[:, None] + lo.astype(np.float32)[:, None]
    return raw, decoded.reshape(x.shape)


def llamacpp_permute(w: np.ndarray, n_heads: int) -> np.ndarray:
    """llama.cpp's conversion: interleave each head's two rotary halves (rows)."""
    return (
        w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


# --- a tiny llama -------------------------------------------------------------------------

HIDDEN, HEADS, KV_HEADS, FFN, THETA = 64, 4, 2, 128, 10000.0
HEAD_DIM = HIDDEN // HEADS


def _vocab_meta() -> dict[str, Any]:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = ["<s>", "</s>", *alphabet, "ab", "abc"]
    return {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "default",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [3, 3] + [1] * 258,
        "tokenizer.ggml.merges": ["a b", "ab c"],
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    }


def tiny_llama_meta(arch: str = "llama") -> dict[str, Any]:
    return {
        "general.architecture": arch,
        "general.name": "tiny",
        "general.alignment": 32,
        f"{arch}.block_count": 1,
        f"{arch}.context_length": 256,
        f"{arch}.embedding_length": HIDDEN,
        f"{arch}.feed_forward_length": FFN,
        f"{arch}.attention.head_count": HEADS,
        f"{arch}.attention.head_count_kv": KV_HEADS,
        f"{arch}.rope.freq_base": THETA,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-5,
        **_vocab_meta(),
    }


def tiny_llama(
    path: Path, rng: np.random.Generator, extra: dict[str, tuple[int, tuple, bytes]] | None = None
) -> tuple[Path, dict[str, np.ndarray]]:
    """Write a one-layer llama GGUF mixing F32, F16, Q8_0 and Q4_1; return the HF-order
    weights it decodes to (q/k as the model must see them, not as stored)."""
    vocab = len(_vocab_meta()["tokenizer.ggml.tokens"])
    shapes = {
        "token_embd": (vocab, HIDDEN),
        "blk.0.attn_q": (HIDDEN, HIDDEN),
        "blk.0.attn_k": (KV_HEADS * HEAD_DIM, HIDDEN),
        "blk.0.attn_v": (KV_HEADS * HEAD_DIM, HIDDEN),
        "blk.0.attn_output": (HIDDEN, HIDDEN),
        "blk.0.ffn_gate": (FFN, HIDDEN),
        "blk.0.ffn_up": (FFN, HIDDEN),
        "blk.0.ffn_down": (HIDDEN, FFN),
        "output": (vocab, HIDDEN),
    }
    kinds = {"token_embd": Q8_0, "blk.0.ffn_up": Q8_0, "blk.0.ffn_gate": F16, "output": F32}
    tensors: dict[str, tuple[int, tuple, bytes]] = {}
    expected: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        w = rng.normal(0, 0.2, size=shape).astype(np.float32)
        heads = {"blk.0.attn_q": HEADS, "blk.0.attn_k": KV_HEADS}.get(name)
        stored = llamacpp_permute(w, heads) if heads else w
        kind = kinds.get(name, Q4_1)
        if kind == F32:
            raw, decoded = stored.tobytes(), stored
        elif kind == F16:
            raw, decoded = stored.astype(np.float16).tobytes(), stored.astype(np.float16)
        else:
            raw, decoded = (q8_0 if kind == Q8_0 else q4_1)(stored)
        if heads:  # undo the permutation by index, independently of router.modelfiles.gguf_tensors
            order = llamacpp_permute(np.arange(shape[0]), heads)
            decoded = decoded[np.argsort(order)]
        tensors[f"{name}.weight"] = (kind, shape, raw)
        expected[name] = np.asarray(decoded, dtype=np.float32)
    for norm in ("blk.0.attn_norm", "blk.0.ffn_norm", "output_norm"):
        tensors[f"{norm}.weight"] = (F32, (HIDDEN,), np.ones(HIDDEN, np.float32).tobytes())
    return write_gguf(path, tiny_llama_meta(), {**tensors, **(extra or {})}), expected


# --- the shipped model --------------------------------------------------------------------


def test_embedded_model_answers_capital_of_france(embedded_mlx_model: tuple[Any, Any]) -> None:
    model, tokenizer = embedded_mlx_model
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    text = "".join(r.text for r in mlx_lm.stream_generate(model, tokenizer, prompt, max_tokens=12))
    assert "Paris" in text, text


def test_embedded_model_folder(embedded_model_path: Path) -> None:
    config = json.loads((embedded_model_path / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert (config["num_hidden_layers"], config["num_attention_heads"]) == (30, 9)
    assert config["num_key_value_heads"] == 3 and config["tie_word_embeddings"] is True
    assert config["quantization"] == {
        "group_size": 32,
        "bits": 4,
        "model.embed_tokens": {"group_size": 32, "bits": 8},
    }
    tok_config = json.loads((embedded_model_path / "tokenizer_config.json").read_text())
    assert tok_config["eos_token"] == "<|im_end|>" and "<|im_start|>" in tok_config["chat_template"]
    weights = mx.load(str(embedded_model_path / "model.safetensors"))
    assert "model.layers.29.self_attn.q_proj.scales" in weights and "lm_head.weight" not in weights


# --- conversion details, on tiny files ----------------------------------------------------


def _dequantized(layer: Any) -> np.ndarray:
    if hasattr(layer, "scales"):
        w = mx.dequantize(layer.weight, layer.scales, layer.biases, layer.group_size, layer.bits)
    else:
        w = layer.weight
    return np.array(w.astype(mx.float32))


def test_tiny_llama_imports_with_qk_rows_restored(tmp_path: Path) -> None:
    src, expected = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(0))
    out = import_gguf(src, tmp_path / "tiny", dtype="float32")
    config = json.loads((out / "config.json").read_text())
    assert config["tie_word_embeddings"] is False and config["head_dim"] == HEAD_DIM
    assert config["quantization"] == {
        "group_size": 32,
        "bits": 4,
        "model.embed_tokens": {"group_size": 32, "bits": 8},
        "model.layers.0.mlp.up_proj": {"group_size": 32, "bits": 8},
    }
    model, tokenizer = mlx_lm.load(str(out))
    layer = model.model.layers[0]
    modules = {
        "blk.0.attn_q": layer.self_attn.q_proj,
        "blk.0.attn_k": layer.self_attn.k_proj,
        "blk.0.attn_v": layer.self_attn.v_proj,
        "blk.0.ffn_up": layer.mlp.up_proj,
        "blk.0.ffn_gate": layer.mlp.gate_proj,
        "blk.0.ffn_down": layer.mlp.down_proj,
        "token_embd": model.model.embed_tokens,
        "output": model.lm_head,
    }
    for name, module in modules.items():
        np.testing.assert_allclose(_dequantized(module), expected[name], atol=2e-3, err_msg=name)
    assert tokenizer.encode("abc") == [0, 259]
    text = "".join(r.text for r in mlx_lm.stream_generate(model, tokenizer, "ab", max_tokens=3))
    assert isinstance(text, str)


def test_unpermute_applies_to_quantized_rows() -> None:
    w = mx.array(np.random.default_rng(1).normal(size=(HIDDEN, HIDDEN)).astype(np.float32))
    packed, scales, biases = mx.quantize(w, group_size=32, bits=4)
    order = np.argsort(llamacpp_permute(np.arange(HIDDEN), HEADS))
    parts = [unpermute_rows(a, HEADS) for a in (packed, scales, biases)]
    got = mx.dequantize(*parts, group_size=32, bits=4)
    want = mx.dequantize(packed, scales, biases, group_size=32, bits=4)
    np.testing.assert_array_equal(np.array(got), np.array(want)[order])


def test_llama3_rope_freqs_become_rope_scaling(tmp_path: Path) -> None:
    factor, old_ctx = 8.0, 8192
    freqs = []
    for i in range(0, HEAD_DIM, 2):
        wavelen = 2 * np.pi * THETA ** (i / HEAD_DIM)
        smooth = min(max((old_ctx / wavelen - 1) / 3, 0.0), 1.0)
        freqs.append(1 / ((1 - smooth) / factor + smooth))
    tensors = {"rope_freqs.weight": (F32, (len(freqs),), np.array(freqs, np.float32).tobytes())}
    src, _ = tiny_llama(tmp_path / "l3.gguf", np.random.default_rng(2), tensors)
    out = import_gguf(src, tmp_path / "l3")
    scaling = json.loads((out / "config.json").read_text())["rope_scaling"]
    assert scaling["rope_type"] == "llama3" and scaling["factor"] == pytest.approx(factor)
    mlx_lm.load(str(out))


def test_sentencepiece_vocabulary() -> None:
    tokens = ["<unk>", "<s>", "</s>", "<0x0A>", "▁", "h", "i", "▁h", "▁hi"]
    meta = {
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [2, 3, 3, 6, 1, 1, 1, 1, 1],
        "tokenizer.ggml.scores": [0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -0.5, -0.1],
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
    }
    tok, config = build_tokenizer(meta, Path("spm.gguf"), 64)
    encoded = tok.encode("hi\n")
    assert encoded.tokens == ["<s>", "▁hi", "<0x0A>"]
    assert tok.decode(encoded.ids) == "hi\n"
    assert config["bos_token"] == "<s>" and config["add_bos_token"] is True


# --- broken files -------------------------------------------------------------------------


def _import_error(src: Path, tmp_path: Path) -> str:
    with pytest.raises(ModelFileError) as info:
        import_gguf(src, tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _import_error(tmp_path / "absent.gguf", tmp_path)


def test_corrupt_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(np.random.default_rng(3).bytes(4096))
    assert "not a GGUF file" in _import_error(junk, tmp_path)
    bad_counts = tmp_path / "counts.gguf"
    bad_counts.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**60, 2**60) + b"\0" * 64)
    assert "corrupt" in _import_error(bad_counts, tmp_path)


def test_truncated_file(tmp_path: Path) -> None:
    src, _ = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(4))
    blob = src.read_bytes()
    (tmp_path / "short.gguf").write_bytes(blob[:-1000])
    message = _import_error(tmp_path / "short.gguf", tmp_path)
    assert "truncated" in message and "extends past the end" in message
    (tmp_path / "head.gguf").write_bytes(blob[:300])
    assert "truncated GGUF header" in _import_error(tmp_path / "head.gguf", tmp_path)


def test_unsupported_architecture(tmp_path: Path) -> None:
    meta = {**tiny_llama_meta("mamba")}
    src = write_gguf(
        tmp_path / "mamba.gguf",
        meta,
        {"token_embd.weight": (F32, (4, 32), np.zeros((4, 32), np.float32).tobytes())},
    )
    message = _import_error(src, tmp_path)
    assert "unsupported architecture 'mamba'" in message


def test_unsupported_tensor_type(tmp_path: Path) -> None:
    src = write_gguf(
        tmp_path / "q5k.gguf",
        tiny_llama_meta(),
        {"token_embd.weight": (Q5_K, (4, 256), b"\0" * 176 * 4)},
    )
    message = _import_error(src, tmp_path)
    assert "unsupported tensor type Q5_K" in message and "token_embd.weight" in message


def test_missing_tensor(tmp_path: Path) -> None:
    src, _ = tiny_llama(tmp_path / "full.gguf", np.random.default_rng(6))
    header = read_header(src)
    blob = src.read_bytes()
    start = len(blob) - sum(-(-t.nbytes // 32) * 32 for t in header.tensors.values())
    kinds = {"F32": F32, "F16": F16, "Q4_1": Q4_1, "Q8_0": Q8_0}
    tensors = {
        name: (kinds[t.type_name], t.shape, blob[start + t.offset :][: t.nbytes])
        for name, t in header.tensors.items()
        if name != "blk.0.ffn_down.weight"
    }
    partial = write_gguf(tmp_path / "partial.gguf", tiny_llama_meta(), tensors)
    assert "do not fit a llama model" in _import_error(partial, tmp_path)


def test_existing_output_folder(tmp_path: Path) -> None:
    src, _ = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(5))
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ModelFileError, match="not made by import-gguf"):
        import_gguf(src, foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    out = import_gguf(src, tmp_path / "again")
    (out / "stale.bin").write_bytes(b"x")
    import_gguf(src, out)  # a previous import is replaced whole
    assert (out / IMPORT_RECORD).is_file() and not (out / "stale.bin").exists()
