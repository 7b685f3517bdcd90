"""How often conversations change model, routed turn by turn or kept by sessions.

For a profile and a set of multi-turn conversations (by default the classifier's held-out
conversations, `benchmarks/classify/heldout_turns.jsonl`: each turn labelled with its task),
every turn is classified as the router would (with the conversation before it) and placed two
ways: on its own (the policy's best for the turn's task), and by the session step
(`routing.sessions.follow`: the same task stays; a new task moves only when the new best is
clearly better once the re-read of the conversation is counted). It counts model switches
between consecutive turns and the mean quality on each turn's true task.

    .venv/bin/python benchmarks/session_switches.py [--profile F] [--turns F]

`benchmarks/routing_value.py` prints the same line under its table.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import pairwise
from pathlib import Path

import msgspec

from router.profiles import Profile, load_profile
from router.routing.classifier import Classifier
from router.routing.classifier_cache import load_default_classifier
from router.routing.decide import candidates
from router.routing.policy import Candidate, Needs, Settings, rank
from router.routing.sessions import (
    CHARS_PER_TOKEN,
    Prior,
    Turn,
    follow,
    prompt_speed,
    reread_seconds,
    worth_switching,
)
from router.wire import ModelCard

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "profiles" / "examples" / "m4-mac-mini-24gb.toml"
DEFAULT_TURNS = ROOT / "benchmarks" / "classify" / "heldout_turns.jsonl"
MARGIN = 0.05  # [sessions] switch_margin's default


class Switches(msgspec.Struct):
    policy: str
    conversations: int
    turns: int
    switches_per_turn: int  # routed turn by turn
    switches_sessions: int  # kept by sessions
    at_follow_ups: tuple[int, int]  # of which at a follow-up turn (the task did not change)
    quality_per_turn: float
    quality_sessions: float


def _ranked(profile: Profile, task: str, policy: str) -> tuple[str, dict[str, Candidate]]:
    cards = [ModelCard(m.id) for m in profile.models]
    found = {c.model: c for c in candidates(cards, task, profile, {})}
    decision = rank(task, list(found.values()), Needs(), policy, Settings())  # type: ignore[arg-type]
    best = decision.ranked[0].model if decision.ranked else min(found)  # none fit: any
    return best, found


def _quality(profile: Profile, task: str, model: str) -> float:
    return next((s.quality for s in profile.tasks.get(task, ()) if s.model == model), 0.0)


def _speed(profile: Profile, model: str) -> float:
    measured = profile.model(model)
    return prompt_speed(measured.prompt_tokens_per_s if measured else None, None)


def place(
    profile: Profile, tasks: list[str], sizes: list[tuple[int, int]], policy: str
) -> list[str]:
    """The model of each turn under sessions: `tasks` as classified, `sizes` (whole prompt,
    new part) in characters."""
    prior: Prior | None = None
    models = []
    for number, (task, (total, new)) in enumerate(zip(tasks, sizes, strict=True), start=1):
        best, found = _ranked(profile, task, policy)
        turn = Turn(number, False, total // CHARS_PER_TOKEN, new // CHARS_PER_TOKEN)
        switch = False
        if prior is not None and task != prior.task and best != prior.model:
            costs = reread_seconds(turn, _speed(profile, prior.model), _speed(profile, best))
            stay, other = found[prior.model], found[best]
            switch = worth_switching(
                task,
                stay,
                other,
                costs,
                Needs(),
                policy,
                Settings(),
                MARGIN,  # type: ignore[arg-type]
            )
        steer = follow(prior, turn, task, [best], True, switch, 3)
        kept = prior is not None and steer.kind == "kept"
        prior = Prior(steer.candidates[0], steer.task, prior.since if kept else number)  # type: ignore[union-attr]
        models.append(prior.model)
    return models


def _changes(models: list[str], kinds: list[str], only: str | None = None) -> int:
    """Model switches between consecutive turns (only those into a turn of kind `only`)."""
    pairs = zip(pairwise(models), kinds[1:], strict=True)
    return sum(a != b for (a, b), kind in pairs if only is None or kind == only)


def conversation_turns(classifier: Classifier, conversation: dict) -> tuple[list, ...]:
    """(true tasks, classified tasks, (prompt, new) sizes, kinds) of a conversation's turns."""
    messages: list[dict[str, str]] = []
    true, routed, sizes = [], [], []
    kinds = [turn.get("kind", "") for turn in conversation["turns"]]
    for turn in conversation["turns"]:
        messages.append({"role": "user", "content": turn["user"]})
        true.append(turn["task"])
        routed.append(classifier.classify(list(messages)).task)
        sizes.append((sum(len(m["content"]) for m in messages), len(turn["user"])))
        messages.append({"role": "assistant", "content": turn.get("answer", "")})
    return true, routed, sizes, kinds


def count(profile: Profile, conversations: list[dict], classifier: Classifier) -> list[Switches]:
    turns = [conversation_turns(classifier, c) for c in conversations]
    rows = []
    for policy in ("quality", "balanced", "latency"):
        plain = kept = n = follow_plain = follow_kept = 0
        q_plain = q_kept = 0.0
        for true, routed, sizes, kinds in turns:
            alone = [_ranked(profile, t, policy)[0] for t in routed]
            session = place(profile, routed, sizes, policy)
            plain, kept = plain + _changes(alone, kinds), kept + _changes(session, kinds)
            follow_plain += _changes(alone, kinds, "follow")
            follow_kept += _changes(session, kinds, "follow")
            n += len(true)
            q_plain += sum(_quality(profile, t, m) for t, m in zip(true, alone, strict=True))
            q_kept += sum(_quality(profile, t, m) for t, m in zip(true, session, strict=True))
        quality = round(q_plain / n, 3), round(q_kept / n, 3)
        follow_ups = (follow_plain, follow_kept)
        rows.append(Switches(policy, len(turns), n, plain, kept, follow_ups, *quality))
    return rows


def read_conversations(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def report(profile: Profile, path: Path = DEFAULT_TURNS) -> None:
    """Print the switch counts (the lines `routing_value.py` prints under its table)."""
    rows = count(profile, read_conversations(path), load_default_classifier())
    for r in rows:
        print(
            f"conversations ({r.policy}): {r.conversations} over {r.turns} turns; model switches "
            f"{r.switches_per_turn} turn by turn, {r.switches_sessions} with sessions "
            f"(at follow-ups: {r.at_follow_ups[0]} -> {r.at_follow_ups[1]}); "
            f"quality {r.quality_per_turn:.3f} -> {r.quality_sessions:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE)
    parser.add_argument("--turns", type=Path, default=DEFAULT_TURNS)
    args = parser.parse_args()
    report(load_profile(args.profile), args.turns)


if __name__ == "__main__":
    sys.exit(main())
