"""A quick look at what the router adds to a request: direct to a fast fake upstream, then
through the router, sequentially, in the same run. Not the full overhead benchmark (that one
drives wrk at several concurrencies and compares with LiteLLM); a watch on the core path.

    .venv/bin/python benchmarks/proxy_smoke.py [--requests 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps(
    {"model": "fast", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}
).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def measure(url: str, count: int, stream: bool = False) -> list[float]:
    """Latencies in seconds of `count` sequential requests on one keep-alive connection."""
    body = BODY.replace(b'"max_tokens"', b'"stream": true, "max_tokens"') if stream else BODY
    times: list[float] = []
    with httpx.Client(timeout=10) as client:
        for i in range(count + 50):
            start = time.perf_counter()
            response = client.post(url, content=body, headers={"content-type": "application/json"})
            response.read()
            if response.status_code != 200:
                raise SystemExit(f"{url}: status {response.status_code}: {response.text}")
            if i >= 50:  # warm-up
                times.append(time.perf_counter() - start)
    return times


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    up_port, router_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    upstream = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.upstream", "--models", "fast", "--port", str(up_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(
            f'[[backends]]\nname = "fake"\nkind = "openai"\n'
            f'base_url = "http://127.0.0.1:{up_port}/v1"\n[server]\nlog_level = "warning"\n'
        )
    router = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "--config",
            config.name,
            "--port",
            str(router_port),
            "--calibrate",
            "off",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{up_port}/v1/models")
        wait_for(f"http://127.0.0.1:{router_port}/readyz")
        report = run_all(args.requests, up_port, router_port)
    finally:
        router.terminate()
        upstream.terminate()
        router.wait(10)
        upstream.wait(10)
        os.unlink(config.name)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def run_all(count: int, up_port: int, router_port: int) -> dict[str, dict[str, float]]:
    report: dict[str, dict[str, float]] = {}
    for stream in (False, True):
        kind = "stream" if stream else "plain"
        direct = measure(f"http://127.0.0.1:{up_port}/v1/chat/completions", count, stream)
        routed = measure(f"http://127.0.0.1:{router_port}/v1/chat/completions", count, stream)
        for name, times in ((f"direct {kind}", direct), (f"router {kind}", routed)):
            report[name] = {
                "p50_ms": quantile(times, 0.5) * 1e3,
                "p99_ms": quantile(times, 0.99) * 1e3,
            }
        report[f"overhead {kind}"] = {
            "p50_ms": report[f"router {kind}"]["p50_ms"] - report[f"direct {kind}"]["p50_ms"],
            "p99_ms": report[f"router {kind}"]["p99_ms"] - report[f"direct {kind}"]["p99_ms"],
        }
    return report


def print_report(report: dict[str, dict[str, float]]) -> None:
    print(f"{'':18} {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in report.items():
        print(f"{name:18} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f}")


if __name__ == "__main__":
    main()
