"""What a proxy adds to a request: direct to a fast mock upstream, through the router (a
concrete model id, and `auto` with classification and policy; the same request as Anthropic's
`/v1/messages` and OpenAI's `/v1/responses`, translated onto chat), and through LiteLLM's proxy
(`--litellm`: pinned, installed on first use in its own virtual environment under the cache
dir), measured back to back in one run on this machine, one worker each:

- latency p50/p90/p99 at concurrency 1 (the median of 3 interleaved rounds); requests/s and
  p99 at concurrency 16 and 64 (wrk with a Lua script for the POST body; the built-in asyncio
  client where wrk is missing);
- streaming: time to the first body byte and to the end, at concurrency 1 (asyncio client);
- CPU per request of each proxy process (psutil cpu_times before and after each measurement)
  and its peak RSS (VmHWM; sampled where /proc is missing).

It prints a table and writes JSON (default `benchmarks/proxy_overhead/results.json`).

    .venv/bin/python -m benchmarks.proxy_overhead [--seconds 3] [--litellm] [--json F]
        [--py-spy F.svg]   # also record a py-spy profile of the router at concurrency 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.proxy_overhead import loadgen  # noqa: E402
from benchmarks.proxy_overhead.procs import (  # noqa: E402
    Process,
    free_port,
    litellm_executable,
    machine,
    py_spy,
    start,
    wait_for,
)
from benchmarks.proxy_overhead.report import overheads, router_own_view, table  # noqa: E402

LITELLM_VERSION = "1.89.7"
MODEL = "fast"
MESSAGES = [{"role": "user", "content": "Say hello."}]


# Each protocol the router serves, asked the same thing: its path and its body.
PATHS = {"chat": "/chat/completions", "messages": "/messages", "responses": "/responses"}


def body(model: str, stream: bool = False, protocol: str = "chat") -> bytes:
    payload: dict[str, object] = {"model": model}
    if protocol == "responses":
        payload.update(input=MESSAGES, max_output_tokens=8)
    else:  # chat completions and Anthropic's messages share the shape of this request
        payload.update(messages=MESSAGES, max_tokens=8)
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


@dataclass
class Target:
    """One way to reach the upstream: its URL, the body it is sent, the process to watch."""

    name: str
    url: str
    model: str
    process: Process
    protocol: str = "chat"  # chat, messages or responses (the router serves all three)
    results: dict[str, dict[str, float | int | str | None]] = field(default_factory=dict)


def start_upstream(tmp: Path) -> tuple[Process, str]:
    port = free_port()
    popen = start(
        [
            sys.executable,
            "-m",
            "benchmarks.proxy_overhead.upstream",
            "--port",
            str(port),
            "--models",
            MODEL,
        ],
        tmp / "upstream.log",
    )
    base = f"http://127.0.0.1:{port}/v1"
    wait_for(base + "/models", popen)
    return Process("upstream", popen), base


def start_router(tmp: Path, upstream: str) -> tuple[Process, str]:
    port = free_port()
    config = tmp / "router.toml"
    (tmp / "profiles").mkdir()
    config.write_text(
        f'[server]\nlog_level = "warning"\n\n[[backends]]\nname = "mock"\nkind = "openai"\n'
        f'base_url = "{upstream}"\nmax_concurrency = 64  # the proxying, not the admission\n\n'
        f'[routing]\nprofiles_dir = "{tmp / "profiles"}"\n'
    )
    popen = start(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--calibrate",
            "off",
        ],
        tmp / "router.log",
        {"ROUTER_DATA_DIR": str(tmp / "data")},  # the stored responses: not the user's
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/readyz", popen)
    return Process("router", popen), base + "/v1"


def start_litellm(tmp: Path, upstream: str, version: str) -> tuple[Process, str]:
    exe = litellm_executable(version)
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(
        f"model_list:\n  - model_name: {MODEL}\n    litellm_params:\n"
        f"      model: openai/{MODEL}\n      api_base: {upstream}\n      api_key: none\n"
        "litellm_settings:\n  telemetry: false\n"
    )
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    popen = start(
        [
            str(exe),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            "1",
        ],
        tmp / "litellm.log",
        env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/health/liveliness", popen, seconds=180)
    return Process("litellm", popen), base + "/v1"


def measure(
    target: Target, key: str, concurrency: int, seconds: float, tool: str, stream: bool = False
) -> loadgen.Run:
    url = target.url + PATHS[target.protocol]
    payload = body(target.model, stream, target.protocol)
    before = target.process.cpu_seconds()
    if tool == "wrk" and not stream:
        run = loadgen.wrk(url, payload, concurrency, seconds)
    else:
        run = loadgen.client(url, payload, concurrency, seconds)
    used = target.process.cpu_seconds() - before
    target.process.rss()
    row: dict[str, float | int | str | None] = {
        "tool": run.tool,
        "concurrency": concurrency,
        "requests": run.requests,
        "errors": run.errors,
        "rps": round(run.rps, 1),
        "p50_ms": run.p50_ms,
        "p90_ms": run.p90_ms,
        "p99_ms": run.p99_ms,
        "cpu_us_per_request": used / run.requests * 1e6 if run.requests else None,
    }
    if run.ttfb_p50_ms is not None:
        row.update(ttfb_p50_ms=run.ttfb_p50_ms, ttfb_p99_ms=run.ttfb_p99_ms)
    target.results[key] = row
    print(
        f"  {target.name:12} {key:6} {run.requests:7d} req  {run.rps:8.0f}/s  "
        f"p50 {run.p50_ms:7.3f} ms  p99 {run.p99_ms:7.3f} ms  errors {run.errors}",
        file=sys.stderr,
    )
    return run


def merge_rounds(target: Target, key: str, rounds: int) -> None:
    """One row for `key` from its rounds: the median of each figure, the rounds kept beside."""
    parts = [target.results.pop(f"{key} #{r + 1}") for r in range(rounds)]
    merged: dict[str, float | int | str | None] = dict(parts[0])
    for field_, value in parts[0].items():
        if isinstance(value, float):
            merged[field_] = statistics.median(float(p[field_]) for p in parts)  # type: ignore[arg-type]
    merged["requests"] = sum(int(p["requests"]) for p in parts)  # type: ignore[arg-type]
    merged["errors"] = sum(int(p["errors"]) for p in parts)  # type: ignore[arg-type]
    merged["rounds"] = parts  # type: ignore[assignment]
    target.results[key] = merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.proxy_overhead", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds at concurrency 1 (the median of each figure is reported)",
    )
    parser.add_argument("--stream-seconds", type=float, default=2.0)
    parser.add_argument("--litellm", action="store_true", help="also measure LiteLLM's proxy")
    parser.add_argument("--litellm-version", default=LITELLM_VERSION)
    parser.add_argument("--no-auto", action="store_true", help="skip the `auto` model")
    parser.add_argument(
        "--no-protocols",
        action="store_true",
        help="skip the Anthropic messages and Responses rows (the same request, translated)",
    )
    parser.add_argument("--concurrency", default="16,64", help="the loaded runs (after c=1)")
    parser.add_argument(
        "--tool", choices=("wrk", "asyncio"), default="wrk" if loadgen.have_wrk() else "asyncio"
    )
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="F.svg",
        help="record the router with py-spy at the first loaded concurrency",
    )
    args = parser.parse_args(argv)
    loads = [int(c) for c in args.concurrency.split(",") if c]
    started: list[Process] = []
    with tempfile.TemporaryDirectory(prefix="proxy-overhead-") as name:
        tmp = Path(name)
        try:
            upstream, upstream_url = start_upstream(tmp)
            started.append(upstream)
            router, router_url = start_router(tmp, upstream_url)
            started.append(router)
            targets = [
                Target("direct", upstream_url, MODEL, upstream),
                Target("router", router_url, MODEL, router),
            ]
            if not args.no_auto:
                targets.append(Target("router auto", router_url, "auto", router))
            if not args.no_protocols:
                for kind in ("messages", "responses"):
                    targets.append(Target(f"router {kind}", router_url, MODEL, router, kind))
            if args.litellm:
                litellm, litellm_url = start_litellm(tmp, upstream_url, args.litellm_version)
                started.append(litellm)
                targets.append(Target("litellm", litellm_url, MODEL, litellm))
            for proc in started:
                proc.rss()
            idle_rss = {p.name: p.rss() for p in started}
            print(f"warming up ({args.tool})", file=sys.stderr)
            for target in targets:
                url = target.url + PATHS[target.protocol]
                loadgen.client(url, body(target.model, False, target.protocol), 4, 1.0)
                loadgen.client(url, body(target.model, True, target.protocol), 1, 0.5)
            for r in range(args.rounds):  # interleaved, so that a noisy moment hits all alike
                for target in targets:
                    measure(target, f"c1 #{r + 1}", 1, args.seconds, args.tool)
            for target in targets:
                merge_rounds(target, "c1", args.rounds)
            for concurrency in loads:
                for target in targets:
                    spy = (
                        args.py_spy
                        if (target.name == "router" and concurrency == loads[0])
                        else None
                    )
                    with py_spy(target.process, spy, args.seconds):
                        measure(target, f"c{concurrency}", concurrency, args.seconds, args.tool)
            for target in targets:
                measure(target, "stream", 1, args.stream_seconds, "asyncio", stream=True)
            peaks = {p.name: p.peak_rss() for p in started}
            after = {p.name: p.rss() for p in started}
            own = router_own_view(router_url.removesuffix("/v1"))
        finally:
            for proc in reversed(started):
                proc.stop()
    report = {
        "machine": machine(),
        "settings": {
            "seconds": args.seconds,
            "stream_seconds": args.stream_seconds,
            "tool": args.tool,
            "litellm": args.litellm_version if args.litellm else None,
            "workers": 1,
        },
        "targets": {
            t.name: {
                **t.results,
                "idle_rss_mb": idle_rss[t.process.name] / 2**20,
                "rss_after_mb": after[t.process.name] / 2**20,
                "peak_rss_mb": peaks[t.process.name] / 2**20,
            }
            for t in targets
        },
        "overhead_ms": overheads(targets),
        "router_metrics_ms": own,
    }
    print(table(report, loads))
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
