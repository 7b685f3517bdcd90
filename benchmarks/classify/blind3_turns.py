"""Write the third blind held-out multi-turn set, `blind3_turns.jsonl` (beside this file), in
the format of `heldout_turns.jsonl` (see `make_turns.py`'s docstring): ~160 conversations a
language (ja, en), 2-6 user turns, about 0.6 of the later turns follow-ups.

Written by a new author blind to the classifier's training phrasings and to `blind_turns.py`:
the phrasings, material and answers are in `blind3_phrases.py`; the opening requests and the
unrelated new requests are `heldout.jsonl`'s single-turn requests. Seeded, so reproducible:

    .venv/bin/python benchmarks/classify/blind3_turns.py
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _phrases():  # blind3_phrases.py beside this file (benchmarks/ is not a package)
    spec = importlib.util.spec_from_file_location("blind3_phrases", HERE / "blind3_phrases.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P = _phrases()

TASKS = tuple(P.LETTER.values())
LETTER_OF = {task: letter for letter, task in P.LETTER.items()}
LANGS = ("ja", "en")
PER_LANG = 160
FOLLOW_SHARE = 0.6
SEED = 20250603
OUT = HERE / "blind3_turns.jsonl"
SYSTEMS = {
    "en": ["You are a helpful assistant.", "Answer clearly and keep it short."],
    "ja": ["あなたは親切なアシスタントです。", "簡潔に答えてください。"],
}


def phrasings(lang: str) -> dict[str, list[str]]:
    """The follow-up and switch phrasings of a language, slots cut (for tests)."""

    def cut(text: str) -> str:
        return text.replace("{mat}", "").replace("{err}", "").strip(" :：\n。")

    follow = [cut(p) for p, _ in P.FOLLOW[lang]]
    switch = [p for p, _, _ in P.NAMED[lang]] + P.FACTS[lang]
    switch += [cut(m) for m in P.MARKERS[lang] + P.ERROR_SWITCH[lang] if cut(m)]
    return {"follow": follow, "switch": switch}


def read_openers(path: Path) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.setdefault((row["lang"], row["task"]), []).append(row["text"])
    return out


def fill(rng: random.Random, lang: str, text: str, letter: str) -> str:
    if "{mat}" in text:
        pool = P.ERRORS if letter == "C" else P.MATERIAL[lang][letter]
        text = text.replace("{mat}", rng.choice(pool))
    return text.replace("{err}", rng.choice(P.ERRORS))


def follow_up(rng: random.Random, lang: str, task: str, used: set[str]) -> str:
    """A follow-up of `task`, a phrasing not used before in the conversation."""
    letter = LETTER_OF[task]
    pool = [p for p, tags in P.FOLLOW[lang] if letter in tags]
    text = rng.choice([p for p in pool if p not in used] or pool)
    used.add(text)
    return fill(rng, lang, text, letter)


def unrelated(rng: random.Random, lang: str, task: str, openers, used: set[str]) -> tuple:
    new = rng.choice([t for t in TASKS if t != task])
    text = rng.choice([o for o in openers[(lang, new)] if o not in used])
    if rng.random() < 0.6:
        marker = rng.choice(P.MARKERS[lang])
        if lang == "en" and marker[-2] not in ":—.":
            text = text[0].lower() + text[1:]
        text = marker + text
    return text, new


def switch(rng: random.Random, lang: str, task: str, openers, used: set[str]) -> tuple:
    """A switch after a turn of `task`: (text, new task)."""
    letter = LETTER_OF[task]
    if task == "business_mail" and rng.random() < 0.5:
        return rng.choice(P.FACTS[lang]), "qa"
    named = [(p, t) for p, t, after in P.NAMED[lang] if letter in after and p not in used]
    roll = rng.random()
    if named and roll < 0.35:
        text, target = rng.choice(named)
        return text, P.LETTER[target]
    if task != "code" and roll < 0.5:
        return fill(rng, lang, rng.choice(P.ERROR_SWITCH[lang]), "C"), "code"
    return unrelated(rng, lang, task, openers, used)


def conversation(rng: random.Random, lang: str, first_task: str, openers) -> dict:
    opener = rng.choice(openers[(lang, first_task)])
    turns = [{"user": opener, "task": first_task, "kind": "first", "from": 1}]
    used = {opener}
    for k in range(1, rng.randint(2, 6)):
        prev = turns[-1]
        prev["answer"] = rng.choice(P.ANSWERS[lang][prev["task"]])
        if rng.random() < FOLLOW_SHARE:
            text = follow_up(rng, lang, prev["task"], used)
            turn = {"user": text, "task": prev["task"], "kind": "follow", "from": prev["from"]}
        else:
            text, task = switch(rng, lang, prev["task"], openers, used)
            turn = {"user": text, "task": task, "kind": "switch", "from": k + 1}
        used.add(text)
        turns.append(turn)
    conv: dict = {"lang": lang}
    if rng.random() < 0.25:
        conv["system"] = rng.choice(SYSTEMS[lang])
    conv["turns"] = turns
    return conv


def build(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    openers = read_openers(HERE / "heldout.jsonl")
    return [
        conversation(rng, lang, TASKS[i % len(TASKS)], openers)
        for lang in LANGS
        for i in range(PER_LANG)
    ]


def main() -> None:
    convs = build()
    with OUT.open("w", encoding="utf-8") as f:
        for conv in convs:
            f.write(json.dumps(conv, ensure_ascii=False, separators=(",", ":")) + "\n")
    kinds: dict[tuple[str, str], int] = {}
    for conv in convs:
        for turn in conv["turns"][1:]:
            key = (conv["lang"], turn["kind"])
            kinds[key] = kinds.get(key, 0) + 1
    print(f"wrote {len(convs)} conversations to {OUT.name}: {dict(sorted(kinds.items()))}")


if __name__ == "__main__":
    main()
