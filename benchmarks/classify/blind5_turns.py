"""The fifth blind held-out multi-turn set: `blind5_turns.jsonl` beside this file.

Written by a new author blind to the classifier's training and dev phrasings (and to the
earlier held-out sets): its own follow-up and switch phrasings, new requests, material and
answers (`blind5_phrases.py`). Only the openers come from `heldout.jsonl` (single-turn held-out
requests). Same format as `make_turns.py` writes: one conversation a line,

    {"lang", "system"?, "turns": [{"user", "task", "kind": "first"|"follow"|"switch",
                                   "from", "answer"?}]}

160 conversations a language, 2-6 user turns, about 0.6 of later turns follow-ups. Seeded:

    .venv/bin/python benchmarks/classify/blind5_turns.py
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "blind5_turns.jsonl"
TASKS = (
    "summarize",
    "business_mail",
    "story",
    "explain_simple",
    "style_rewrite",
    "translate",
    "code",
    "qa",
)
PER_LANG = 160
FOLLOW_SHARE = 0.6


def _phrases() -> Any:  # blind5_phrases.py beside this file (benchmarks/ is not a package)
    spec = importlib.util.spec_from_file_location("blind5_phrases", HERE / "blind5_phrases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P = _phrases()


def phrasings(lang: str) -> dict[str, list[str]]:
    """The follow-up and switch phrasings of a language (material slots left in)."""
    follow = list(P.GENERIC[lang]) + [p for ps in P.FOLLOW[lang].values() for p in ps]
    switch = [p for p, _, _ in P.NAMED[lang]] + [m.strip() for m in P.MARKERS[lang]]
    switch += [p for ps in P.NEW[lang].values() for p in ps]
    return {"follow": follow, "switch": switch}


def openers(lang: str) -> dict[str, list[str]]:
    by_task: dict[str, list[str]] = {t: [] for t in TASKS}
    for line in (HERE / "heldout.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row["lang"] == lang:
                by_task[row["task"]].append(row["text"])
    return by_task


def fill(rng: random.Random, lang: str, task: str, phrase: str) -> str:
    if "{m}" in phrase:
        return phrase.replace("{m}", rng.choice(P.MATERIAL[lang][task]))
    return phrase


def follow_up(rng: random.Random, lang: str, task: str, used: set[str]) -> str:
    pool = list(P.FOLLOW[lang][task])
    if task in P.TEXTUAL:
        pool += P.GENERIC[lang]
    fresh = [p for p in pool if p not in used] or pool
    phrase = rng.choice(fresh)
    used.add(phrase)
    return fill(rng, lang, task, phrase)


def switch(rng: random.Random, lang: str, prev: str, used: set[str]) -> tuple[str, str]:
    """A new turn of another task than `prev`: named on the last answer, a new request (with
    or without a marker), or a pasted error."""
    roll = rng.random()
    named = [(p, t) for p, t, after in P.NAMED[lang] if prev in after and p not in used]
    if roll < 0.3 and named:
        phrase, task = rng.choice(named)
        used.add(phrase)
        return phrase, task
    if roll < 0.4 and prev != "code":
        line = rng.choice(P.ERROR_LINES[lang])
        error = rng.choice(P.ERRORS)
        return (f"{error}\n\n{line}" if line else error), "code"
    task = rng.choice([t for t in TASKS if t != prev])
    text = fill(rng, lang, task, rng.choice(P.NEW[lang][task]))
    if rng.random() < 0.5:
        text = rng.choice(P.MARKERS[lang]) + text
    return text, task


def conversation(rng: random.Random, lang: str, task: str, opener: str) -> dict[str, Any]:
    n = rng.choice((2, 3, 3, 4, 4, 5, 6))
    turns: list[dict[str, Any]] = [{"user": opener, "task": task, "kind": "first", "from": 1}]
    used: set[str] = set()
    for i in range(2, n + 1):
        prev = turns[-1]
        prev["answer"] = rng.choice(P.ANSWERS[lang][prev["task"]])
        if rng.random() < FOLLOW_SHARE:
            user = follow_up(rng, lang, prev["task"], used)
            turn = {"user": user, "task": prev["task"], "kind": "follow", "from": prev["from"]}
        else:
            user, new = switch(rng, lang, prev["task"], used)
            turn = {"user": user, "task": new, "kind": "switch", "from": i}
        turns.append(turn)
    conv: dict[str, Any] = {"lang": lang}
    if rng.random() < 0.25:
        conv["system"] = rng.choice(P.SYSTEMS[lang])
    conv["turns"] = turns
    return conv


def build() -> list[dict[str, Any]]:
    rng = random.Random(5505)
    out = []
    for lang in ("ja", "en"):
        by_task = openers(lang)
        for k in range(PER_LANG):
            task = TASKS[k % len(TASKS)]
            out.append(conversation(rng, lang, task, rng.choice(by_task[task])))
    return out


def main() -> None:
    lines = [json.dumps(c, ensure_ascii=False) for c in build()]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} conversations to {OUT}")


if __name__ == "__main__":
    main()
