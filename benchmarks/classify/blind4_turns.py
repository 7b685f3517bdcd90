"""The fourth blind held-out multi-turn set: `blind4_turns.jsonl` beside this file.

Written by a new author blind to the classifier's training and dev phrasings (and to the
earlier held-out sets): its own follow-up and switch phrasings, new requests, material and
answers (`blind4_phrases.py`). Only the openers come from `heldout.jsonl` (single-turn held-out
requests). Same format as `make_turns.py` writes: one conversation a line,

    {"lang", "system"?, "turns": [{"user", "task", "kind": "first"|"follow"|"switch",
                                   "from", "answer"?}]}

160 conversations a language, 2-6 user turns, about 0.6 of later turns follow-ups. Seeded:

    .venv/bin/python benchmarks/classify/blind4_turns.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from blind_generator import Generator  # noqa: E402  (benchmarks/ is not a package)

GENERATOR = Generator("blind4_phrases", seed=4404, out=HERE / "blind4_turns.jsonl")
OUT = GENERATOR.out


def phrasings(lang: str) -> dict[str, list[str]]:
    return GENERATOR.phrasings(lang)


def build() -> list[dict[str, Any]]:
    return GENERATOR.build()


if __name__ == "__main__":
    GENERATOR.main()
