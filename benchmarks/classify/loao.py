"""Leave-one-author-out: how the follow-up detector does on phrasings by an author it never saw.

Each blind multi-turn set was written by a different author, and each scored 3-9 points lower
on follow-ups while blind than sets like its training did: a new author's phrasings are the
test that matters. This estimates it without a new author: the detector's training
conversations are split by author (`train`: `make_turns.py`'s own phrasings; `v2`..`v5`: the
blind sets `heldout_turns.jsonl`, `blind3/4/5_turns.jsonl`, as `make_turns.spent` makes them
training), and for each author the detector is fitted on the others' alone and measured on
that author's set as it was measured blind (for `train`, on `dev_turns.jsonl`: the same
author's dev phrasings, opening with requests the single-turn classifier did not train on).
The single-turn classifier is the shipped one (`train.jsonl`) in every fold; the detector's
fitting weighs the blind authors' turns as the shipped one does (`classifier_turns.AUTHORED`).
Printed: each author's follow-up and switch accuracy (the task, as `classify_bench.py` counts
it) and the detector's alone, then the mean and the worst over authors and the mean over
the blind authors alone (v2-v5: hand-written, as the next blind set will be).

    .venv/bin/python benchmarks/classify/loao.py [--json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent.parent))

import make_turns  # noqa: E402
from classify_bench import evaluate_turns  # noqa: E402

from router.paths import CLASSIFIER_TRAINING  # noqa: E402
from router.routing.classifier import Classifier  # noqa: E402
from router.routing.classifier_turns import Conversation, fit_follow  # noqa: E402

BLIND = {
    "v2": "heldout_turns.jsonl",
    "v3": "blind3_turns.jsonl",
    "v4": "blind4_turns.jsonl",
    "v5": "blind5_turns.jsonl",
}
SHOWN = ("follow", "switch", "detector:follow", "detector:switch")


def _convs(rows: list[dict]) -> list[Conversation]:
    return [msgspec.convert(r, Conversation) for r in rows]


def authors() -> dict[str, tuple[list[Conversation], list[Conversation]]]:
    """Each author's (training conversations, evaluation conversations)."""
    names = (*make_turns.SPENT, *(n for n in BLIND.values() if n not in make_turns.SPENT))
    sets = make_turns.spent_sets(make_turns.openers("train"), names)
    own = [c for c in _read(CLASSIFIER_TRAINING.parent / "turns.jsonl") if not c.author]
    out = {"train": (own, _read(HERE / "dev_turns.jsonl"))}
    for author, name in BLIND.items():
        out[author] = (_convs(sets[name]), _read(HERE / name))
    return out


def _read(path: Path) -> list[Conversation]:
    decode = msgspec.json.Decoder(Conversation).decode
    return [decode(x) for x in path.read_bytes().splitlines() if x.strip()]


def run() -> dict[str, dict[str, float]]:
    clf = Classifier.from_examples(CLASSIFIER_TRAINING)
    data = authors()
    rows = {a: clf.follow_rows(train) for a, (train, _) in data.items()}
    result: dict[str, dict[str, float]] = {}
    for author, (_, evaluation) in data.items():
        parts = [rows[a] for a in data if a != author]
        clf.follow = fit_follow(*([x for p in parts for x in p[k]] for k in range(5)))
        acc = evaluate_turns(clf, evaluation)
        result[author] = {k: acc[k].accuracy for k in SHOWN}
    blind = [a for a in data if a != "train"]  # the hand-written sets, like the next one
    summaries = (("mean", _mean, data), ("worst", min, data), ("blind mean", _mean, blind))
    for name, pick, over in summaries:
        result[name] = {k: round(pick([result[a][k] for a in over]), 4) for k in SHOWN}
    return result


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    result = run()
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(result)).decode())
        return 0
    print(f"{'held out':<10} " + " ".join(f"{k:>16}" for k in SHOWN))
    for author, acc in result.items():
        print(f"{author:<10} " + " ".join(f"{acc[k]:16.3f}" for k in SHOWN))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
