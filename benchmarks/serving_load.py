"""The load the serving benchmark puts on a server, through the official `openai` client.

Greedy decoding (temperature 0) everywhere; every count of tokens made comes from the
server's `usage`, since neither server offers an ignore-EOS switch: the prompts ask for long
stories so that the model writes up to `max_tokens`.

- `stream`: one streamed request, timed: first token, last token, the end;
- `decode_runs`: single-stream decode speed, from the first streamed token to the last (the
  prompt's reading left out), run by run (`decode_summary`: their median);
- `concurrency`: n streams at once, each a different prompt: tokens made / wall time, level by
  level (generators, so that the caller can alternate servers between runs);
- `memory`: a process's VmHWM and VmRSS from /proc/<pid>/status.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

from benchmarks.serving_report import status_bytes

SYSTEM = "You are a storyteller. Every story you write is long and detailed."
SUBJECTS = (
    "a lighthouse keeper who finds a message in a bottle",
    "a dragon who learns to bake bread",
    "a girl who builds a robot from old bicycle parts",
    "a town where it rains only on Tuesdays",
    "a cat who becomes the mayor of a small village",
    "two friends crossing a desert on camels",
    "a clockmaker whose clocks run backwards",
    "a boy who can talk to trees",
    "a ship lost in a sea of fog",
    "an old library with a secret door",
    "a baker who opens a shop on the moon",
    "a fox who wants to learn to fly",
    "a musician who plays for the stars",
    "a farmer who grows giant pumpkins",
    "a train that never stops",
    "a painter whose paintings come alive",
    "a knight who is afraid of the dark",
    "a penguin who travels to the desert",
    "a detective who solves mysteries with smells",
    "a garden that grows overnight",
)


def client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=1800)


def story(subject: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Write a long story about {subject}."},
    ]


def stream(api: openai.OpenAI, model: str, messages: list[Any], max_tokens: int) -> dict[str, Any]:
    """One streamed request: time to first token, decode time (first to last token), usage."""
    started = time.perf_counter()
    first = last = None
    parts: list[str] = []
    usage: Any = None
    chunks = api.chat.completions.create(
        model=model,
        messages=messages,
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            parts.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    ended = time.perf_counter()
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    return {
        "ttft_s": round((first or ended) - started, 3),
        "decode_s": round((last or ended) - (first or ended), 3),
        "elapsed_s": round(ended - started, 3),
        "answer": "".join(parts),
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "cached_tokens": details.cached_tokens if details else None,
        "completion_tokens": usage.completion_tokens if usage else None,
    }


def decode_runs(api: openai.OpenAI, model: str, tokens: int, repeats: int) -> Iterator[Any]:
    """Single-stream runs, one story each: tokens after the first / first to last token."""
    for subject in SUBJECTS[-repeats:]:
        run = stream(api, model, story(subject), tokens)
        made = run.pop("completion_tokens") or 0
        speed = (made - 1) / run["decode_s"] if made > 1 and run["decode_s"] else None
        run.pop("answer")
        yield {**run, "tokens": made, "tok_s": None if speed is None else round(speed, 3)}


def decode_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median speed of the runs."""
    rates = [r["tok_s"] for r in runs if r["tok_s"]]
    return {"tok_s": round(statistics.median(rates), 3) if rates else None, "runs": runs}


def together(api: openai.OpenAI, model: str, subjects: list[str], tokens: int) -> dict[str, Any]:
    """Streams started at once, one per subject: tokens made (usage) / wall time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(subjects)) as pool:
        runs = list(pool.map(lambda s: stream(api, model, story(s), tokens), subjects))
    wall = time.perf_counter() - started
    made = sum(r["completion_tokens"] or 0 for r in runs)
    return {
        "streams": len(subjects),
        "tokens": made,
        "wall_s": round(wall, 3),
        "tok_s": round(made / wall, 3),
        "ttft_s": [r["ttft_s"] for r in runs],
        "per_stream_tokens": [r["completion_tokens"] for r in runs],
    }


def concurrency(api: openai.OpenAI, model: str, levels: list[int], tokens: int) -> Iterator[Any]:
    """Aggregate tokens/s at each level in turn; no prompt is sent twice (no prompt cache hit
    beyond the system prompt's, for either server)."""
    used = 0
    for n in levels:
        subjects = [SUBJECTS[(used + i) % len(SUBJECTS)] for i in range(n)]
        used += n
        yield together(api, model, subjects, tokens)


def memory(pid: int) -> dict[str, int | None]:
    """The process's peak (VmHWM) and current (VmRSS) resident memory, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {"peak_bytes": status_bytes(status, "VmHWM"), "rss_bytes": status_bytes(status, "VmRSS")}
