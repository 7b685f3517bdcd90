"""What routing is worth: expected quality and latency of a task mix, routed or not.

For a profile and a labelled mix of requests (by default the classifier's held-out set, each
request classified as the router would, so misclassifications cost what they cost), it prints
for each policy of the router and for "always model X", for every X, the mean quality (on each
request's true task) and mean latency the profile predicts. The router should reach the quality
of the best single model at a fraction of its latency.

By default it reads the shipped example profile and every measured profile it finds: those
`router calibrate` wrote into `profiles/`, and `benchmarks/twin/profile.toml` (the embedded
model against its 3-bit twin, from `benchmarks/twin.py`). A measured profile that scores only
some tasks is evaluated on the requests of those tasks. A request no model may take (every one
under the quality floor or failing too often) counts as a failure of quality 0: the router
answers it with an error. Under each table, `benchmarks/session_switches.py`'s lines: model
switches in multi-turn conversations.

    .venv/bin/python benchmarks/routing_value.py [--profile F ...] [--mix F] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import msgspec
from session_switches import report as switch_report

from router.errors import RouterError
from router.profiles import Profile, load_profile
from router.routing.classifier import Example, read_examples
from router.routing.classifier_cache import load_default_classifier
from router.routing.decide import candidates
from router.routing.policy import Needs, Settings, rank
from router.wire import ModelCard

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "profiles" / "examples" / "m4-mac-mini-24gb.toml"
DEFAULT_MIX = ROOT / "benchmarks" / "classify" / "heldout.jsonl"
TWIN_PROFILE = ROOT / "benchmarks" / "twin" / "profile.toml"


class Row(msgspec.Struct):
    strategy: str
    quality: float
    latency_seconds: float
    failure_rate: float


def score_of(profile: Profile, task: str, model: str | None) -> tuple[float, float, float]:
    """Quality, latency and failure rate; a request no model may take (None) is a failure."""
    for s in profile.tasks.get(task, ()):
        if s.model == model:
            return s.quality, s.latency_seconds or 0.0, s.failure_rate
    return 0.0, 0.0, 1.0


def routed_choice(profile: Profile, task: str, policy: str) -> str | None:
    """The model the router picks; None when every model is under the quality floor or fails
    too often (the router answers such a request with an error)."""
    cards = [
        ModelCard(m.id, capabilities=["vision"] if m.capabilities.vision else [])
        for m in profile.models
    ]
    found = candidates(cards, task, profile, {})
    decision = rank(task, found, Needs(), policy, Settings())  # type: ignore[arg-type]
    return decision.ranked[0].model if decision.ranked else None


def scored(profile: Profile, mix: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requests whose true task the profile scores (a measured profile may lack some)."""
    return [(true, routed) for true, routed in mix if true in profile.tasks]


def evaluate(profile: Profile, mix: list[tuple[str, str]]) -> list[Row]:
    """`mix`: (true task, routed task) per request, each true task scored by the profile."""
    rows = []
    tasks = set(profile.tasks) | {routed for _, routed in mix}
    strategies: list[tuple[str, dict[str, str | None]]] = []
    for policy in ("quality", "balanced", "latency"):
        strategies.append(
            (f"router ({policy})", {t: routed_choice(profile, t, policy) for t in tasks})
        )
    for model in profile.models:
        strategies.append((f"always {model.id}", {t: model.id for t in tasks}))
    for name, choice in strategies:
        q = lat = fail = 0.0
        for true_task, routed_task in mix:
            quality, latency, failure = score_of(profile, true_task, choice[routed_task])
            q, lat, fail = q + quality, lat + latency, fail + failure
        n = len(mix)
        rows.append(Row(name, round(q / n, 3), round(lat / n, 2), round(fail / n, 3)))
    return rows


def load_mix(path: Path, classify: bool) -> list[tuple[str, str]]:
    examples: list[Example] = read_examples(path)
    if not classify:
        return [(e.task, e.task) for e in examples]
    classifier = load_default_classifier()
    return [
        (e.task, classifier.classify([{"role": "user", "content": e.text}]).task) for e in examples
    ]


def profiles_to_read(asked: list[Path] | None) -> list[tuple[Path, Profile]]:
    """The profiles asked for (each must load), else the example and the measured ones found."""
    if asked:
        return [(path, load_profile(path)) for path in asked]
    found = [(DEFAULT_PROFILE, load_profile(DEFAULT_PROFILE))]
    for path in [*sorted((ROOT / "profiles").glob("*.toml")), TWIN_PROFILE]:
        if not path.is_file():
            print(f"no {_name(path)} (benchmarks/twin.py writes it)", file=sys.stderr)
            continue
        try:
            profile = load_profile(path)
        except RouterError as err:
            print(f"skipping {err.message}", file=sys.stderr)
            continue
        if profile.kind == "measured":
            found.append((path, profile))
    return found


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile",
        type=Path,
        action="append",
        help="a profile to read (repeatable; default: the example and every measured one found)",
    )
    parser.add_argument("--mix", type=Path, default=DEFAULT_MIX, help="JSON lines with `task`")
    parser.add_argument("--oracle", action="store_true", help="route by the true task")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        profiles = profiles_to_read(args.profile)
    except RouterError as err:
        print(f"routing_value: {err.message}", file=sys.stderr)
        return 1
    mix = load_mix(args.mix, classify=not args.oracle)
    reports = []
    for path, profile in profiles:
        requests = scored(profile, mix)
        if not requests:
            print(f"skipping {_name(path)}: it scores no task of the mix", file=sys.stderr)
            continue
        rows = evaluate(profile, requests)
        reports.append((path, profile, requests, rows))
    if args.json:
        print(json.dumps([_as_json(*report) for report in reports], indent=2))
        return 0
    for i, (path, profile, requests, rows) in enumerate(reports):
        if i:
            print()
        tasks = Counter(t for t, _ in requests)
        print(
            f"profile: {_name(path)} ({profile.kind}); mix: {len(requests)} requests over "
            f"{len(tasks)} tasks{' (oracle task)' if args.oracle else ' (classified)'}"
        )
        print_rows(rows)
        switch_report(profile)  # conversations: model switches turn by turn and with sessions
    return 0


def _as_json(path: Path, profile: Profile, requests: list, rows: list[Row]) -> dict[str, object]:
    return {
        "profile": _name(path),
        "kind": profile.kind,
        "requests": len(requests),
        "rows": [msgspec.structs.asdict(r) for r in rows],
    }


def print_rows(rows: list[Row]) -> None:
    print(f"{'strategy':48} {'quality':>8} {'latency s':>10} {'failures':>9}")
    for r in rows:
        print(f"{r.strategy:48} {r.quality:8.3f} {r.latency_seconds:10.2f} {r.failure_rate:9.3f}")
    summarize(rows)


def summarize(rows: list[Row]) -> None:
    singles = [r for r in rows if r.strategy.startswith("always")]
    best = max(singles, key=lambda r: r.quality)
    if best.quality <= 0:
        print("no single model scores above 0 on this mix")
        return
    for r in rows:
        if r.strategy.startswith("router"):
            share = r.latency_seconds / best.latency_seconds if best.latency_seconds else 0
            print(
                f"{r.strategy}: {r.quality / best.quality:.0%} of the quality of the best "
                f"single model ({best.strategy[7:]}) at {share:.0%} of its latency"
            )


if __name__ == "__main__":
    sys.exit(main())
