"""The sixth blind held-out multi-turn set: `blind_generator.py` over `blind6_phrases.py`
(phrasings by an author who saw no training phrasing nor an earlier blind set), seeded,
written to `blind6_turns.jsonl`. Run: `python benchmarks/classify/blind6_turns.py`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 60606
OUT = HERE / "blind6_turns.jsonl"

_spec = importlib.util.spec_from_file_location("blind_generator", HERE / "blind_generator.py")
assert _spec and _spec.loader
_generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_generator)

GENERATOR = _generator.Generator("blind6_phrases", SEED, OUT)
build = GENERATOR.build
phrasings = GENERATOR.phrasings

if __name__ == "__main__":
    GENERATOR.main()
