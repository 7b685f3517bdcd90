"""`import_gguf(..., bits=N)`: the quantized tensors stored with fewer bits (the worse twin).

The tiny hand-made llama of test_gguf mixes Q8_0, Q4_1, F16 and F32 tensors: requantizing to
2 bits must narrow every quantized module (8- and 4-bit alike), leave the float ones as they
are, keep the weights near what the file holds (within 2-bit error, but no longer exact) and
still give a model mlx-lm loads and runs; a wider `bits` only narrows the modules above it.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx_lm
import numpy as np
import pytest

from router.modelfiles.gguf import IMPORT_RECORD, import_gguf
from tests.modelfiles.test_gguf import _dequantized, tiny_llama


def _modules(model) -> dict:
    layer = model.model.layers[0]
    return {
        "blk.0.attn_q": layer.self_attn.q_proj,
        "blk.0.ffn_up": layer.mlp.up_proj,
        "blk.0.ffn_gate": layer.mlp.gate_proj,
        "blk.0.ffn_down": layer.mlp.down_proj,
        "token_embd": model.model.embed_tokens,
        "output": model.lm_head,
    }


def test_two_bits_narrows_every_quantized_module(tmp_path: Path) -> None:
    src, expected = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(0))
    out = import_gguf(src, tmp_path / "tiny2", dtype="float32", bits=2)
    config = json.loads((out / "config.json").read_text())
    assert config["quantization"] == {"group_size": 32, "bits": 2}
    record = json.loads((out / IMPORT_RECORD).read_text())
    assert record["requantized_bits"] == 2
    model, tokenizer = mlx_lm.load(str(out))
    for name, module in _modules(model).items():
        got, want = _dequantized(module), expected[name]
        if name in ("blk.0.ffn_gate", "output"):  # F16 and F32 in the file: left as they are
            np.testing.assert_allclose(got, want, atol=2e-3, err_msg=name)
            continue
        error = np.abs(got - want)
        # a 2-bit step over a group's range (~1.4 here) is ~0.45: off by up to half of it
        assert error.max() > 1e-2, name
        assert error.max() < 0.35 and error.mean() < 0.12, (name, error.max(), error.mean())
    text = "".join(r.text for r in mlx_lm.stream_generate(model, tokenizer, "ab", max_tokens=3))
    assert isinstance(text, str)


def test_six_bits_narrows_only_the_wider_modules(tmp_path: Path) -> None:
    src, _ = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(0))
    intact = mlx_lm.load(str(import_gguf(src, tmp_path / "tiny", dtype="float32")))[0]
    six = import_gguf(src, tmp_path / "tiny6", dtype="float32", bits=6)
    config = json.loads((six / "config.json").read_text())
    assert config["quantization"] == {
        "group_size": 32,
        "bits": 4,
        "model.embed_tokens": {"group_size": 32, "bits": 6},
        "model.layers.0.mlp.up_proj": {"group_size": 32, "bits": 6},
    }
    model = mlx_lm.load(str(six))[0]
    before, after = _modules(intact), _modules(model)
    np.testing.assert_array_equal(
        _dequantized(after["blk.0.attn_q"]), _dequantized(before["blk.0.attn_q"])
    )
    assert not np.array_equal(_dequantized(after["token_embd"]), _dequantized(before["token_embd"]))


@pytest.mark.parametrize("bits", [0, 1, 5, 16])
def test_bad_bits_fail_before_the_file_is_read(tmp_path: Path, bits: int) -> None:
    with pytest.raises(ValueError, match=f"bits must be one of 2, 3, 4, 6, 8, not {bits}"):
        import_gguf(tmp_path / "missing.gguf", tmp_path / "out", bits=bits)
