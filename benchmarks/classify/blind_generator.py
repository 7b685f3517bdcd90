"""The generator shared by the fourth and fifth blind held-out multi-turn sets
(`blind4_turns.py`, `blind5_turns.py`): each author wrote only their phrasings module
(`blind4_phrases.py`, `blind5_phrases.py`); this turns one into conversations, seeded.

Same format as `make_turns.py` writes: one conversation a line,

    {"lang", "system"?, "turns": [{"user", "task", "kind": "first"|"follow"|"switch",
                                   "from", "answer"?}]}

160 conversations a language, 2-6 user turns, about 0.6 of later turns follow-ups. Openers
come from `heldout.jsonl` (single-turn held-out requests).
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

from router.tasks import TASKS

HERE = Path(__file__).resolve().parent
PER_LANG = 160
FOLLOW_SHARE = 0.6


def load(name: str) -> Any:
    """A module beside this file by name (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Generator:
    """Conversations from one author's phrasings module, seeded, written to `out`."""

    def __init__(self, phrases: str, seed: int, out: Path) -> None:
        self.P, self.seed, self.out = load(phrases), seed, out

    def phrasings(self, lang: str) -> dict[str, list[str]]:
        """The follow-up and switch phrasings of a language (material slots left in)."""
        follow = list(self.P.GENERIC[lang]) + [p for ps in self.P.FOLLOW[lang].values() for p in ps]
        switch = [p for p, _, _ in self.P.NAMED[lang]] + [m.strip() for m in self.P.MARKERS[lang]]
        switch += [p for ps in self.P.NEW[lang].values() for p in ps]
        return {"follow": follow, "switch": switch}

    def openers(self, lang: str) -> dict[str, list[str]]:
        by_task: dict[str, list[str]] = {t: [] for t in TASKS}
        for line in (HERE / "heldout.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["lang"] == lang:
                    by_task[row["task"]].append(row["text"])
        return by_task

    def fill(self, rng: random.Random, lang: str, task: str, phrase: str) -> str:
        if "{m}" in phrase:
            return phrase.replace("{m}", rng.choice(self.P.MATERIAL[lang][task]))
        return phrase

    def follow_up(self, rng: random.Random, lang: str, task: str, used: set[str]) -> str:
        pool = list(self.P.FOLLOW[lang][task])
        if task in self.P.TEXTUAL:
            pool += self.P.GENERIC[lang]
        fresh = [p for p in pool if p not in used] or pool
        phrase = rng.choice(fresh)
        used.add(phrase)
        return self.fill(rng, lang, task, phrase)

    def switch(self, rng: random.Random, lang: str, prev: str, used: set[str]) -> tuple[str, str]:
        """A new turn of another task than `prev`: named on the last answer, a new request (with
        or without a marker), or a pasted error."""
        roll = rng.random()
        named = [(p, t) for p, t, after in self.P.NAMED[lang] if prev in after and p not in used]
        if roll < 0.3 and named:
            phrase, task = rng.choice(named)
            used.add(phrase)
            return phrase, task
        if roll < 0.4 and prev != "code":
            line = rng.choice(self.P.ERROR_LINES[lang])
            error = rng.choice(self.P.ERRORS)
            return (f"{error}\n\n{line}" if line else error), "code"
        task = rng.choice([t for t in TASKS if t != prev])
        text = self.fill(rng, lang, task, rng.choice(self.P.NEW[lang][task]))
        if rng.random() < 0.5:
            text = rng.choice(self.P.MARKERS[lang]) + text
        return text, task

    def conversation(self, rng: random.Random, lang: str, task: str, opener: str) -> dict[str, Any]:
        n = rng.choice((2, 3, 3, 4, 4, 5, 6))
        turns: list[dict[str, Any]] = [{"user": opener, "task": task, "kind": "first", "from": 1}]
        used: set[str] = set()
        for i in range(2, n + 1):
            prev = turns[-1]
            prev["answer"] = rng.choice(self.P.ANSWERS[lang][prev["task"]])
            if rng.random() < FOLLOW_SHARE:
                user = self.follow_up(rng, lang, prev["task"], used)
                turn = {"user": user, "task": prev["task"], "kind": "follow", "from": prev["from"]}
            else:
                user, new = self.switch(rng, lang, prev["task"], used)
                turn = {"user": user, "task": new, "kind": "switch", "from": i}
            turns.append(turn)
        conv: dict[str, Any] = {"lang": lang}
        if rng.random() < 0.25:
            conv["system"] = rng.choice(self.P.SYSTEMS[lang])
        conv["turns"] = turns
        return conv

    def build(self) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        out = []
        for lang in ("ja", "en"):
            by_task = self.openers(lang)
            for k in range(PER_LANG):
                task = TASKS[k % len(TASKS)]
                out.append(self.conversation(rng, lang, task, rng.choice(by_task[task])))
        return out

    def main(self) -> None:
        lines = [json.dumps(c, ensure_ascii=False) for c in self.build()]
        self.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {len(lines)} conversations to {self.out}")
