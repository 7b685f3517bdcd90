"""Instructions a classification costs, counted by valgrind: a figure no machine's load moves.

Timing on a shared machine moves by a third from run to run (`classify_bench.py` gives times
and a same-run ratio); the count of instructions executed does not. Each workload runs twice
under `valgrind --tool=callgrind` (with `PYTHONHASHSEED=0`), once without classifying and once
classifying `--calls` requests, and the difference is divided by the calls:

- `single`: the held-out set's requests, each read cold on its own (the memo emptied first);
- `growing`: blind set 6's conversations request by request from their first turn, each
  request decoded afresh, earlier turns remembered (a chat client's sequence).

Needs valgrind (`apt-get install valgrind`); about a minute.

    .venv/bin/python benchmarks/classify_instructions.py [--calls N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORKLOADS = ("single", "growing")


def workload(name: str) -> tuple[list[bytes], list[bool]]:
    """The request bodies of a workload, and which ones start a conversation."""
    import msgspec

    from benchmarks.classify_bench import DATA, as_messages
    from router.routing.classifier import read_examples
    from router.routing.classifier_turns import read_conversations

    encode = msgspec.json.Encoder().encode
    if name == "single":
        requests = [as_messages(ex) for ex in read_examples(DATA / "heldout.jsonl")]
        fresh = [True] * len(requests)
    else:
        convs = read_conversations(DATA / "blind6_turns.jsonl")
        requests = [c.messages(i) for c in convs for i in range(len(c.turns))]
        fresh = [i == 0 for c in convs for i in range(len(c.turns))]
    return [encode({"model": "m", "messages": r}) for r in requests], fresh


def classify(name: str, calls: int) -> None:
    """The measured run: everything but `calls` classifications is the same for any count."""
    from benchmarks.classify_bench import _decode
    from router.routing.classifier_cache import load_default_classifier

    clf = load_default_classifier()
    bodies, fresh = workload(name)
    requests = [_decode(b) for b in bodies]
    for i in range(calls):
        j = i % len(requests)
        if fresh[j]:
            clf.forget()
        clf.classify(requests[j])


def counted(name: str, calls: int) -> int:
    """Instructions valgrind counts for a run of `classify(name, calls)`."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += [__file__, "--inner", name, "--calls", str(calls)]
    run = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run failed: {run.stderr.strip().splitlines()[-1:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1200, help="classifications counted")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--inner", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner:
        classify(args.inner, args.calls)
        return 0
    if shutil.which("valgrind") is None:
        print("classify_instructions: needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    classify("single", 1)  # train and cache the classifier outside valgrind
    per_call = {w: (counted(w, args.calls) - counted(w, 0)) // args.calls for w in WORKLOADS}
    if args.json:
        print(json.dumps(per_call))
    else:
        for name, n in per_call.items():
            print(f"{name:<8} {n:>9,} instructions a classification")
        print(f"growing / single: {per_call['growing'] / per_call['single']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
