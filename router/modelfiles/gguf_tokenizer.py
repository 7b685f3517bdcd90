"""Rebuild a Hugging Face `tokenizers` tokenizer from the vocabulary inside a GGUF file.

`build_tokenizer(metadata, src, max_length)` handles llama.cpp's two BPE families: GPT-2 style
byte-level BPE (`tokenizer.ggml.model == "gpt2"`, with the pre-tokenizer named by
`tokenizer.ggml.pre`) and SentencePiece-style BPE (`"llama"`, merges ranked by token score,
byte fallback). It also returns the matching tokenizer_config.json (special tokens, whether a
BOS is added, the chat template). Used by `router.modelfiles.gguf.import_gguf`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)

from router.errors import ModelFileError

# Pre-tokenizer split patterns, by `tokenizer.ggml.pre`.
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = _LLAMA3_SPLIT.replace(r"\p{N}{1,3}", r"\p{N}")
_SPECIAL_KEYS = {
    "bos": "bos_token_id",
    "eos": "eos_token_id",
    "unk": "unknown_token_id",
    "pad": "padding_token_id",
}
_DIGIT_PRE = {"smollm", "starcoder", "refact", "codeshell"}
_BYTELEVEL_PRE = {"default", "gpt-2", "gpt2", "olmo", "jais", "phi-2", "stablelm2"}
_SPLIT_PRE = {
    "llama-bpe": _LLAMA3_SPLIT,
    "llama3": _LLAMA3_SPLIT,
    "smaug-bpe": _LLAMA3_SPLIT,
    "dbrx": _LLAMA3_SPLIT,
    "qwen2": _QWEN2_SPLIT,
    "deepseek-r1-qwen": _QWEN2_SPLIT,
}


def build_tokenizer(
    meta: dict[str, Any], src: Path, max_length: int
) -> tuple[Tokenizer, dict[str, Any]]:
    """A `tokenizers` tokenizer and its tokenizer_config.json, from the GGUF vocabulary."""
    tokens: list[str] = meta.get("tokenizer.ggml.tokens") or []
    if not tokens:
        raise ModelFileError(f"{src}: GGUF file has no tokenizer vocabulary")
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    kind = meta.get("tokenizer.ggml.model")
    if kind not in ("gpt2", "llama"):
        raise ModelFileError(f"{src}: unsupported tokenizer model {kind!r} (gpt2 or llama)")
    try:
        if kind == "gpt2":
            tok = _bpe_tokenizer(meta, tokens, src)
        else:
            tok = _spm_tokenizer(meta, tokens, types)
    except ModelFileError:
        raise
    except Exception as exc:  # tokenizers raises bare Exception for inconsistent vocab/merges
        raise ModelFileError(f"{src}: corrupt tokenizer data ({exc})") from None
    _add_tokens(tok, tokens, types)
    special = {
        role: int(i)
        for role, key in _SPECIAL_KEYS.items()
        if (i := meta.get(f"tokenizer.ggml.{key}")) is not None and 0 <= int(i) < len(tokens)
    }
    add_bos = bool(meta.get("tokenizer.ggml.add_bos_token", kind == "llama"))
    if add_bos and "bos" in special:
        bos = tokens[special["bos"]]
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, special["bos"])]
        )
    return tok, _tokenizer_config(meta, tokens, special, add_bos, max_length)


def _tokenizer_config(
    meta: dict[str, Any], tokens: list[str], special: dict[str, int], add_bos: bool, max_length: int
) -> dict[str, Any]:
    """tokenizer_config.json: the special tokens by role, BOS/EOS added or not, the template."""
    tok_config: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "add_bos_token": add_bos,
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token")),
        "clean_up_tokenization_spaces": False,
        **{f"{role}_token": tokens[i] for role, i in special.items()},
    }
    if template := meta.get("tokenizer.chat_template"):
        tok_config["chat_template"] = template
    return tok_config


def _add_tokens(tok: Tokenizer, tokens: list[str], types: list[int]) -> None:
    """Mark llama.cpp's token types: 2 unknown and 3 control are special, 4 user-defined added."""
    tok.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, k in zip(tokens, types, strict=False)
            if k in (2, 3)
        ]
    )
    tok.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, k in zip(tokens, types, strict=False)
            if k == 4
        ]
    )


def _bpe_tokenizer(meta: dict[str, Any], tokens: list[str], src: Path) -> Tokenizer:
    """GPT-2 style byte-level BPE (`tokenizer.ggml.model == "gpt2"`)."""
    pre = meta.get("tokenizer.ggml.pre", "default")
    if not (raw := meta.get("tokenizer.ggml.merges")):
        raise ModelFileError(f"{src}: GGUF file has a BPE vocabulary but no merges")
    merges = [(m[0], m[2]) for m in (m.partition(" ") for m in raw)]
    vocab = {t: i for i, t in reversed(list(enumerate(tokens)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=pre in _SPLIT_PRE))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=pre not in _SPLIT_PRE)
    if pre in _DIGIT_PRE:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    elif pre in _SPLIT_PRE:
        split = pre_tokenizers.Split(Regex(_SPLIT_PRE[pre]), behavior="isolated")
        tok.pre_tokenizer = pre_tokenizers.Sequence([split, byte_level])
    elif pre in _BYTELEVEL_PRE:
        tok.pre_tokenizer = byte_level
    else:
        raise ModelFileError(f"{src}: unsupported pre-tokenizer {pre!r}")
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def _spm_tokenizer(meta: dict[str, Any], tokens: list[str], types: list[int]) -> Tokenizer:
    """SentencePiece-style BPE (`tokenizer.ggml.model == "llama"`), merges ranked by score."""
    scores: list[float] = meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens)
    vocab = {t: i for i, t in reversed(list(enumerate(tokens)))}
    ranked = []
    for piece, piece_id in vocab.items():
        if types[piece_id] != 1:  # only normal pieces come from merges (not bytes, controls)
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                ranked.append((-scores[piece_id], vocab[left], vocab[right], left, right))
    merges = [(left, right) for *_, left, right in sorted(ranked)]
    unk_id = int(meta.get("tokenizer.ggml.unknown_token_id", 0))
    tok = Tokenizer(
        models.BPE(
            vocab=vocab, merges=merges, unk_token=tokens[unk_id], fuse_unk=True, byte_fallback=True
        )
    )
    prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    steps = [normalizers.Prepend("▁")] if prefix else []
    tok.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", int(prefix), 0),
        ]
    )
    return tok
