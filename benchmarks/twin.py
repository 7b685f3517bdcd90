"""Does calibration tell a model from a worse copy of itself? The embedded model and its twin.

The embedded model (SmolLM2-135M-Instruct, Q4_1) is imported a second time from the same GGUF
file by the router's own importer with `bits=3` (every quantized tensor stored with 3 bits:
the same model, worse), and `router calibrate` (the real command, one config with both as
in-process mlx models) measures the two on every task. The table gives each task's measured
quality (the mean grade, before shrinkage toward the prior), the quality routing uses, and
whether the intact model is ranked at or above its twin. Written beside this file: `twin/`
`results.json`, `results.md` and `profile.toml` (the measured profile, which
`benchmarks/routing_value.py` reads too).

    .venv/bin/python benchmarks/twin.py [--bits 3] [--full] [--tasks qa,summarize]

Quick (the default): the quick prompt of each language per task, answers capped at 64 tokens;
21 minutes on a busy 2-core CPU (`twin/results.md`). `--full`: every prompt at its own length
(hours on a CPU). Each answer may take `--timeout` seconds (600): the comparison is of quality,
so a slow, busy machine must not turn answers into timeouts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from router.modelfiles.embedded import DEFAULT_MODEL_ID, default_gguf, ensure_default_model
from router.paths import default_cache_dir
from router.profiles import Profile, TaskScore, load_profile

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "twin"
INTACT = "smollm2"
THRESHOLD = 0.3  # the claim is checked where the intact model scores above this


class TaskRow(msgspec.Struct):
    task: str
    intact: float  # measured: the mean grade over the samples
    twin: float
    intact_quality: float  # what routing uses (shrunk toward the prior)
    twin_quality: float
    samples: int
    holds: bool  # intact measured >= twin measured


def twin_model(bits: int, cache: Path) -> Path:
    """The embedded model's GGUF imported with `bits` bits, cached beside the intact model."""
    from router.modelfiles.gguf import IMPORT_RECORD, import_gguf

    folder = cache / "models" / f"{DEFAULT_MODEL_ID}-{bits}bit"
    record = folder / IMPORT_RECORD
    if record.is_file() and json.loads(record.read_text()).get("requantized_bits") == bits:
        return folder
    return import_gguf(default_gguf(cache / "gguf"), folder, bits=bits)


def calibrate(models: dict[str, Path], args: argparse.Namespace, out: Path) -> float:
    """`router calibrate` over the models (in-process mlx); returns the seconds it took."""
    config = out / "router.toml"
    entries = ", ".join(f'{{ id = "{m}", path = "{p}" }}' for m, p in models.items())
    config.write_text(f'[[backends]]\nname = "local"\nkind = "mlx"\nmodels = [{entries}]\n')
    argv = [sys.executable, "-m", "router", "calibrate", "--config", str(config)]
    argv += ["--out", str(out / "profiles"), "--timeout", str(args.timeout)]
    argv += ([] if args.full else ["--quick"]) + (["--tasks", args.tasks] if args.tasks else [])
    started = time.monotonic()
    subprocess.run(argv, check=True, env={**os.environ, "ROUTER_CONFIG": ""}, cwd=ROOT)
    return time.monotonic() - started


def _score(scores: list[TaskScore], model: str) -> TaskScore:
    return next(s for s in scores if s.model == model)


def compare(profile: Profile, twin: str) -> list[TaskRow]:
    rows = []
    for task, scores in sorted(profile.tasks.items()):
        a, b = _score(scores, INTACT), _score(scores, twin)
        ma = a.measured if a.measured is not None else a.quality
        mb = b.measured if b.measured is not None else b.quality
        rows.append(TaskRow(task, ma, mb, a.quality, b.quality, a.samples, holds=ma >= mb - 1e-9))
    return rows


def verdict(rows: list[TaskRow]) -> str:
    above = [r for r in rows if r.intact > THRESHOLD]
    broken = [r.task for r in above if not r.holds]
    worse = [r.task for r in rows if r.twin < r.intact]
    return (
        f"intact above {THRESHOLD} on {len(above)} of {len(rows)} tasks; ranked at or above "
        f"the twin on {'all of them' if not broken else 'all but ' + ', '.join(broken)}; "
        f"twin strictly worse on {len(worse)} ({', '.join(worse) or 'none'})"
    )


def markdown(rows: list[TaskRow], meta: dict[str, object]) -> str:
    lines = [
        f"# {INTACT} vs its {meta['bits']}-bit twin ({meta['mode']} calibration)",
        "",
        f"{meta['machine']}; `router calibrate` took {meta['seconds']:.0f} s.",
        "",
        "| task | intact measured | twin measured | intact quality | twin quality | n | "
        "intact >= twin |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r.task} | {r.intact:.2f} | {r.twin:.2f} | {r.intact_quality:.2f} | "
            f"{r.twin_quality:.2f} | {r.samples} | {'yes' if r.holds else 'NO'} |"
        )
    return "\n".join([*lines, "", verdict(rows), ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=3, choices=(2, 3))
    parser.add_argument("--full", action="store_true", help="every prompt, full length")
    parser.add_argument("--tasks", help="comma-separated tasks (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="per answer (default 600 s: quality, not load)"
    )
    args = parser.parse_args()
    twin = f"{INTACT}-{args.bits}bit"
    cache = default_cache_dir()
    models = {INTACT: ensure_default_model(cache), twin: twin_model(args.bits, cache)}
    with tempfile.TemporaryDirectory() as tmp:
        seconds = calibrate(models, args, Path(tmp))
        [written] = (Path(tmp) / "profiles").glob("*.toml")
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(written, args.out / "profile.toml")
    rows = compare(load_profile(args.out / "profile.toml"), twin)
    meta: dict[str, object] = {
        "bits": args.bits,
        "mode": "full" if args.full else "quick",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "seconds": round(seconds, 1),
        "timeout_seconds": args.timeout,
    }
    result = {**meta, "verdict": verdict(rows), "tasks": [msgspec.to_builtins(r) for r in rows]}
    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
