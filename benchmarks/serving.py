"""The in-process engine serving a growing conversation: time to first token, turn by turn.

A conversation with a ~400-token system prompt, 5 user turns, each answer (greedy, a few
tokens) sent back with the next turn as a chat client does. Measured one after the other in
one run, on the same model folder (by default the embedded SmolLM2-135M):

- `router, cache`: a router's in-process model with its prompt cache (the default);
- `router, no cache`: the same weights with `prompt_cache_bytes = 0` (the whole conversation
  read again every turn);
- `mlx_lm.server` (with `--mlx-lm`): the server mlx-lm ships, on the same folder.

Each model is loaded by a short warm-up request first, so turn 1 counts no load. Prints a table
and writes JSON (`--out`, default `benchmarks/serving.json`).

    .venv/bin/python benchmarks/serving.py [--model DIR] [--turns 5] [--max-tokens 12] [--mlx-lm]

Later (issue 16 §5): single-stream decode, aggregate tokens/s at 1-8 streams, peak memory.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
TOPICS = (
    "the water cycle",
    "how volcanoes form",
    "why the sky is blue",
    "how bees make honey",
    "what causes the seasons",
    "how a rainbow appears",
    "why leaves change colour",
)
RULES = (
    "Answer in plain English that a curious twelve-year-old can follow.",
    "Keep every answer short: two or three sentences unless asked for more.",
    "Never invent facts; when you are unsure, say so and suggest where to look.",
    "Prefer concrete everyday examples over abstract definitions.",
    "Do not use lists or headings; write flowing sentences.",
    "When a question has a common misconception, name it and correct it gently.",
    "Use metric units first, and give imperial units in brackets when it helps.",
    "If the student asks about something dangerous, explain the safety rule first.",
)


def system_prompt() -> str:
    """A tutor's system prompt of about 400 tokens."""
    parts = ["You are Ada, a patient science tutor for a school's homework help line."]
    for n, rule in enumerate(RULES * 2, 1):
        parts.append(f"Rule {n}: {rule}")
    parts.append("Topics students often ask about: " + "; ".join(TOPICS) + ".")
    parts.append("Always end with one short question that checks the student understood.")
    parts.append("Students write from many countries; keep spelling simple and avoid idioms.")
    parts.append("If a question is off topic, say kindly that you only help with science.")
    return " ".join(parts)


def questions(turns: int) -> list[str]:
    return [f"Can you explain {TOPICS[i % len(TOPICS)]}?" for i in range(turns)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}) before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"no answer from {url} within {seconds:g} s")


@contextmanager
def serving(argv: list[str], ready_url: str) -> Iterator[None]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(ready_url, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def router_config(model: Path, folder: Path) -> Path:
    path = folder / "router.toml"
    path.write_text(
        '[server]\nlog_level = "warning"\n'
        f'[[backends]]\nname = "cached"\nkind = "mlx"\nidle_ttl = 0\n'
        f'models = [{{ id = "cached", path = "{model}" }}]\n'
        f'[[backends]]\nname = "plain"\nkind = "mlx"\nidle_ttl = 0\nprompt_cache_bytes = 0\n'
        f'models = [{{ id = "plain", path = "{model}" }}]\n'
    )
    return path


def turn(client: openai.OpenAI, model: str, messages: list[Any], max_tokens: int) -> dict[str, Any]:
    """One streamed turn: time to first token, the answer, the usage."""
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    usage: Any = None
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            parts.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    return {
        "ttft_s": round((first or time.perf_counter()) - started, 3),
        "answer": "".join(parts),
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "cached_tokens": details.cached_tokens if details else None,
    }


def conversation(base_url: str, model: str, turns: int, max_tokens: int) -> list[dict[str, Any]]:
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=900)
    warm = [{"role": "user", "content": "Hi"}]
    client.chat.completions.create(model=model, messages=warm, max_tokens=1, temperature=0)
    messages: list[Any] = [{"role": "system", "content": system_prompt()}]
    out = []
    for n, question in enumerate(questions(turns), 1):
        messages.append({"role": "user", "content": question})
        result = turn(client, model, messages, max_tokens)
        messages.append({"role": "assistant", "content": result["answer"]})
        out.append({"turn": n, **result})
        print(f"  {model} turn {n}: {result['ttft_s']:.2f} s", file=sys.stderr)
    return out


def run(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    model = Path(args.model).expanduser()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        argv = [str(ROOT / ".venv/bin/router"), "serve", "--calibrate", "off", "--port", str(port)]
        argv += ["--config", str(router_config(model, Path(folder)))]
        with serving(argv, f"http://127.0.0.1:{port}/v1/models"):
            url = f"http://127.0.0.1:{port}/v1"
            results["router, cache"] = conversation(url, "cached", args.turns, args.max_tokens)
            results["router, no cache"] = conversation(url, "plain", args.turns, args.max_tokens)
    if args.mlx_lm:
        port = free_port()
        argv = [sys.executable, "-m", "mlx_lm", "server", "--model", str(model)]
        argv += ["--port", str(port)]
        with serving(argv, f"http://127.0.0.1:{port}/v1/models"):
            url = f"http://127.0.0.1:{port}/v1"
            results["mlx_lm.server"] = conversation(url, str(model), args.turns, args.max_tokens)
    return results


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    names = list(results)
    turns = len(next(iter(results.values())))
    lines = ["| turn | " + " | ".join(f"{n}: TTFT s (cached/prompt)" for n in names) + " |"]
    lines.append("| --- |" + " --- |" * len(names))
    for i in range(turns):
        cells = []
        for name in names:
            r = results[name][i]
            cells.append(f"{r['ttft_s']:.2f} ({r['cached_tokens']}/{r['prompt_tokens']})")
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from router.modelfiles.embedded import ensure_default_model
    from router.paths import default_cache_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the embedded one)")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=12)
    parser.add_argument("--mlx-lm", action="store_true", help="also measure mlx_lm.server")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "serving.json"))
    args = parser.parse_args()
    args.model = args.model or str(ensure_default_model(default_cache_dir()))
    results = run(args)
    same = [
        a["answer"] == b["answer"]
        for a, b in zip(results["router, cache"], results["router, no cache"], strict=True)
    ]
    print(table(results))
    print(f"same answers with and without the cache: {sum(same)}/{len(same)} turns")
    Path(args.out).write_text(json.dumps({"model": args.model, "results": results}, indent=2))


if __name__ == "__main__":
    main()
