"""The in-process engine against `mlx_lm.server` (issue 16 §5), side by side in one run.

Both servers on the same model folder (by default the embedded SmolLM2-135M), up side by side
and measured in turn, run by run (a decode run on one, then on the other; a level of streams,
a turn), so that what else the machine does weighs on both alike; greedy decoding, through the
official `openai` client (`serving_load.py`):

- `decode`: single-stream decode tokens/s, counted from the first streamed token (the prompt's
  reading left out), the median of `--decode-repeats` stories of `--decode-tokens`;
- `concurrency`: aggregate tokens/s at `--streams` (1, 2, 4, 8) streams at once, each a
  different story prompt of `--stream-tokens`, tokens counted from `usage`, over the wall time;
- `turns`: time to first token over `--turns` turns of a conversation with a ~400-token system
  prompt, each answer (`--turn-tokens`) sent back with the next turn as a chat client does;
- `memory`: each server process's peak resident memory (VmHWM), its RSS when ready (before the
  model loads), and for the router its memory budget and what it reserves for the model;
- `nocache` (not in the default): the turns again on a router with `prompt_cache_bytes = 0`.

Each model is loaded by a one-token warm-up request first, so no part counts a load. Prints a
Markdown table and issue 16's targets (met / not met), and writes JSON (`--json`, default
`benchmarks/serving.json`). The default run takes about 7 minutes on a 2-core CPU.

    .venv/bin/python benchmarks/serving.py [--parts decode,concurrency,turns,memory]
        [--model DIR] [--streams 1,2,4,8] [--stream-tokens 32] [--decode-tokens 48]
        [--turns 5] [--turn-tokens 12] [--budget-mb N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import serving_load as load  # noqa: E402
from benchmarks import serving_report as report  # noqa: E402

PARTS = ("decode", "concurrency", "turns", "memory", "nocache")
MODEL_ID = "local"  # the model's id on the router
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
def serving(argv: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_ready(ready_url, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def router_config(model: Path, folder: Path, cache: bool, budget_mb: int | None) -> Path:
    """A router serving only `model`, in process, never unloaded; with or without its cache."""
    lines = ["[server]", 'log_level = "warning"', "[[backends]]", 'name = "local"', 'kind = "mlx"']
    lines.append("idle_ttl = 0")
    if not cache:
        lines.append("prompt_cache_bytes = 0")
    if budget_mb:
        lines.append(f"memory_budget_bytes = {budget_mb * report.MB}")
    lines.append(f'models = [{{ id = "{MODEL_ID}", path = "{model}" }}]')
    path = folder / ("router.toml" if cache else "router-nocache.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def conversation(api: openai.OpenAI, model: str, turns: int, max_tokens: int) -> Iterator[Any]:
    """The turns of one conversation, each answer sent back with the next question."""
    messages: list[Any] = [{"role": "system", "content": system_prompt()}]
    for n, question in enumerate(questions(turns), 1):
        messages.append({"role": "user", "content": question})
        result = load.stream(api, model, messages, max_tokens)
        messages.append({"role": "assistant", "content": result["answer"]})
        yield {"turn": n, **result}


def reservation(config: Path, base_url: str) -> dict[str, int]:
    """The router's memory budget and what residency reserves of it for the model: the
    weights (its card's size), its prompt cache's bound and the allowance for its generating
    requests' KV caches (its card's `generation_kv`), as `Residency.add` counts them."""
    from router.config import parse_config

    backend = parse_config(config.read_bytes(), str(config)).backends[0]
    budget = backend.budget_bytes()  # type: ignore[union-attr]
    cards = httpx.get(f"{base_url}/models", timeout=10).json()["data"]
    card = next(c for c in cards if c["id"] == MODEL_ID)
    weights = card.get("size_bytes") or 0
    bound = min(backend.prompt_cache_limit(budget), max(0, budget - weights))  # type: ignore[union-attr]
    kv = (card.get("generation_kv") or {}).get("bytes") or 0
    return {
        "budget_bytes": budget,
        "weights_bytes": weights,
        "cache_bound_bytes": bound,
        "kv_bound_bytes": kv,
        "reserved_bytes": weights + bound + kv,
    }


@dataclass
class Target:
    """A server under test, running: its client, its name for the model, its process."""

    api: openai.OpenAI
    model: str
    pid: int
    url: str
    config: Path | None = None  # the router's

    def warm(self) -> dict[str, Any]:
        """Its RSS before the model loads, then a one-token request that loads it."""
        start = load.memory(self.pid)["rss_bytes"]
        warm = [{"role": "user", "content": "Hi"}]
        self.api.chat.completions.create(
            model=self.model, messages=warm, max_tokens=1, temperature=0
        )
        return {"start_bytes": start}


def alternate(runs: dict[str, Iterator[Any]]) -> dict[str, list[Any]]:
    """Each server's runs, taken in turn (one run on each, then the next on each), so that
    what else the machine does weighs on both alike."""
    out: dict[str, list[Any]] = {name: [] for name in runs}
    for rows in zip(*runs.values(), strict=True):
        for name, row in zip(runs, rows, strict=True):
            out[name].append(row)
            print(f"  {name}: {report.progress(row)}", flush=True)
    return out


def measure(targets: dict[str, Target], parts: set[str], args: Any) -> report.Servers:
    """The chosen parts on the running servers, alternating between them run by run."""
    results: report.Servers = {n: {"memory": t.warm()} for n, t in targets.items()}
    loads = [os.getloadavg()[0]]  # the machine's, other work included
    if "decode" in parts:
        runs = {
            n: load.decode_runs(t.api, t.model, args.decode_tokens, args.decode_repeats)
            for n, t in targets.items()
        }
        for name, rows in alternate(runs).items():
            results[name]["decode"] = load.decode_summary(rows)
    if "concurrency" in parts:
        levels = {
            n: load.concurrency(t.api, t.model, args.streams, args.stream_tokens)
            for n, t in targets.items()
        }
        for name, rows in alternate(levels).items():
            results[name]["concurrency"] = rows
    if "turns" in parts:
        turns = {
            n: conversation(t.api, t.model, args.turns, args.turn_tokens)
            for n, t in targets.items()
        }
        for name, rows in alternate(turns).items():
            results[name]["turns"] = rows
    loads.append(os.getloadavg()[0])
    for name, target in targets.items():
        results[name]["load_average"] = loads
        if "memory" not in parts:
            del results[name]["memory"]
            continue
        results[name]["memory"]["peak_bytes"] = load.memory(target.pid)["peak_bytes"]
        if target.config is not None:
            results[name]["memory"] |= reservation(target.config, target.url)
    return results


@contextmanager
def on_router(args: argparse.Namespace, folder: Path, cache: bool) -> Iterator[Target]:
    """A router serving the model in its own process."""
    config = router_config(args.model, folder, cache, args.budget_mb)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    argv = [str(ROOT / ".venv/bin/router"), "serve", "--calibrate", "off", "--port", str(port)]
    with serving([*argv, "--config", str(config)], f"{url}/models") as process:
        yield Target(load.client(url), MODEL_ID, process.pid, url, config)


@contextmanager
def on_mlx_lm(args: argparse.Namespace) -> Iterator[Target]:
    """`mlx_lm.server`, on the same model folder."""
    port = free_port()
    argv = [sys.executable, "-m", "mlx_lm", "server", "--model", str(args.model)]
    url = f"http://127.0.0.1:{port}/v1"
    with serving([*argv, "--port", str(port)], f"{url}/models") as process:
        yield Target(load.client(url), str(args.model), process.pid, url)


def run(args: argparse.Namespace) -> report.Servers:
    """The router and mlx_lm.server up side by side, measured in turn (then, for `nocache`,
    a router without its prompt cache, alone)."""
    servers: report.Servers = {}
    parts = set(args.parts) - {"nocache"}
    with tempfile.TemporaryDirectory() as folder:
        if parts:
            with on_router(args, Path(folder), True) as mine, on_mlx_lm(args) as theirs:
                servers |= measure({report.ROUTER: mine, report.MLX: theirs}, parts, args)
        if "nocache" in args.parts:
            print("router, no prompt cache:", flush=True)
            with on_router(args, Path(folder), False) as plain:
                servers |= {
                    "router, no cache": measure({report.ROUTER: plain}, {"turns"}, args)[
                        report.ROUTER
                    ]
                }
    return servers


def git_state() -> dict[str, Any]:
    """The commit measured, and the router files changed in the tree but not committed (the
    servers run the tree as it is when they start)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "router"], capture_output=True, text=True
    )
    return {
        "commit": head.stdout.strip(),
        "uncommitted": [line[3:] for line in dirty.stdout.splitlines()],
    }


def part_names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if unknown := [n for n in names if n not in PARTS]:
        raise argparse.ArgumentTypeError(
            f"unknown part {unknown[0]!r}; choose from {', '.join(PARTS)}"
        )
    return names


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def counts(text: str) -> list[int]:
    return [positive(n.strip()) for n in text.split(",")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder (default: the embedded one)")
    parser.add_argument(
        "--parts",
        type=part_names,
        default=part_names("decode,concurrency,turns,memory"),
        help=f"comma-separated, of: {', '.join(PARTS)}",
    )
    parser.add_argument(
        "--streams", type=counts, default=[1, 2, 4, 8], help="concurrent streams, e.g. 1,2,4,8"
    )
    parser.add_argument(
        "--stream-tokens", type=positive, default=32, help="max_tokens of each stream"
    )
    parser.add_argument(
        "--decode-tokens", type=positive, default=48, help="max_tokens of a decode run"
    )
    parser.add_argument("--decode-repeats", type=positive, default=3)
    parser.add_argument("--turns", type=positive, default=5)
    parser.add_argument(
        "--turn-tokens", type=positive, default=12, help="max_tokens of each answer"
    )
    parser.add_argument(
        "--budget-mb",
        type=positive,
        default=None,
        help="the router's memory budget (default: its own, half the RAM)",
    )
    parser.add_argument(
        "--json", default=str(ROOT / "benchmarks" / "serving.json"), help="where the JSON goes"
    )
    return parser.parse_args(argv)


def main() -> None:
    from router.modelfiles.embedded import ensure_default_model
    from router.paths import default_cache_dir

    args = parse_args()
    args.model = Path(args.model or ensure_default_model(default_cache_dir())).expanduser()
    started, tree = time.monotonic(), git_state()  # the tree the servers start on
    try:
        servers = run(args)
    except (openai.APIError, httpx.HTTPError) as err:
        raise SystemExit(f"a request to the server under test failed: {err}") from None
    goals = report.targets(servers, args.turns)
    print(report.table(servers) + "\n\n" + report.targets_table(goals))
    plain = servers.get("router, no cache", {}).get("turns")
    if plain and servers.get(report.ROUTER, {}).get("turns"):
        same = [
            a["answer"] == b["answer"]
            for a, b in zip(servers[report.ROUTER]["turns"], plain, strict=True)
        ]
        print(f"\nsame answers with and without the prompt cache: {sum(same)}/{len(same)} turns")
    settings = {k: v for k, v in vars(args).items() if k not in ("json", "model")}
    out = {
        "model": str(args.model),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **tree,
        "settings": settings,
        "seconds": round(time.monotonic() - started),
        "servers": servers,
        "targets": goals,
    }
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
