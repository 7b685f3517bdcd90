"""Soak: many mixed requests through a real `router serve` process, watching its memory.

Starts two fake upstreams in a subprocess (`good`: answers; `flaky`: fails on purpose) and the
router in another, then sends requests with a bounded pool of asyncio httpx clients: whole
chat, text completions and embeddings, streams read to the end, streams the client abandons
after the first event (closing the connection), and requests to models that fail (an upstream
500 before the first token, a drop mid-stream). The router's RSS is sampled every second.
Prints a JSON summary (and writes it, with the RSS samples, with --json):

    .venv/bin/python benchmarks/soak.py [--requests 20000] [--concurrency 16] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
MIX = {  # kind -> share of the requests
    "chat": 30,
    "completion": 10,
    "embedding": 5,
    "stream": 25,
    "cancelled_stream": 15,
    "failing": 10,
    "failing_stream": 5,
}
INJECTED = ("cancelled_stream", "failing", "failing_stream")
EXPECTED = {
    "chat": "ok",
    "completion": "ok",
    "embedding": "ok",
    "stream": "ok",
    "cancelled_stream": "cancelled",
}
MESSAGES = [{"role": "user", "content": "Say something about the sea, please."}]


# ---------------------------------------------------------------- the processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_fakes(good_port: int, flaky_port: int) -> None:
    """The fake upstreams, until killed (run in their own process: `--serve-fakes`)."""
    sys.path.insert(0, str(ROOT))
    import threading

    from tests.fakes.upstream import FakeModel, FakeUpstream

    words = " ".join(f"word{i}" for i in range(40))
    good = [
        FakeModel("fast", answer=words),
        FakeModel("streamy", answer=words + " " + words, tokens_per_s=400),
    ]
    flaky = [
        FakeModel("broken", failure="500"),
        FakeModel("broken-stream", answer=words, failure="drop", fail_after_tokens=3),
    ]
    with FakeUpstream(good, port=good_port), FakeUpstream(flaky, port=flaky_port):
        print("ready", flush=True)
        threading.Event().wait()


def start_processes(workdir: Path) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes], int]:
    """The fakes' process, the router's process, and the router's port, once it is ready."""
    good, flaky, port = free_port(), free_port(), free_port()
    fakes = subprocess.Popen(
        [sys.executable, __file__, "--serve-fakes", str(good), str(flaky)],
        stdout=subprocess.PIPE,
        stderr=(workdir / "fakes.log").open("wb"),
        cwd=ROOT,
    )
    if fakes.stdout is None or fakes.stdout.readline().strip() != b"ready":
        raise SystemExit("the fake upstreams did not start")
    config = workdir / "router.toml"
    config.write_text(
        '[server]\nlog_level = "warning"\n'
        f'[[backends]]\nname = "good"\nkind = "openai"\nbase_url = "http://127.0.0.1:{good}/v1"\n'
        f'[[backends]]\nname = "flaky"\nkind = "openai"\n'
        f'base_url = "http://127.0.0.1:{flaky}/v1"\n'
        "failure_threshold = 5\ncooldown = 0.5\n"  # most failures reach the upstream; some trip it
    )
    log = (workdir / "router.log").open("wb")
    router = subprocess.Popen(
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
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    wait_ready(f"http://127.0.0.1:{port}/readyz", router)
    return fakes, router, port


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the router exited with {process.returncode}")
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not become ready")


# ---------------------------------------------------------------- one request of each kind


async def whole(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body)
    if response.status_code != 200:
        return f"http_{response.status_code}"
    return "ok" if isinstance(response.json(), dict) else "not_json"


async def streamed(client: httpx.AsyncClient, model: str, abandon: bool) -> str:
    """Read a stream to its end (or only its first event, then close the connection)."""
    body = {"model": model, "messages": MESSAGES, "stream": True}
    last = b""
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return f"http_{response.status_code}"
        async for piece in response.aiter_raw():
            if abandon:
                return "cancelled"  # leaving the block closes the connection mid-stream
            last = (last + piece)[-600:]
    events = [ln for ln in last.split(b"\n") if ln.startswith(b"data: ")]
    if events and events[-1] == b"data: [DONE]":
        return "ok"
    if events and b'"error"' in events[-1]:
        code = json.loads(events[-1][6:])["error"].get("code")
        return f"stream_error_{code}"
    return "stream_truncated"


async def one(client: httpx.AsyncClient, kind: str) -> str:
    """Send one request of `kind`; its outcome as a short label."""
    try:
        if kind == "chat":
            body = {"model": "fast", "messages": MESSAGES, "max_tokens": 30}
            return await whole(client, "/v1/chat/completions", body)
        if kind == "completion":
            return await whole(client, "/v1/completions", {"model": "fast", "prompt": "Once"})
        if kind == "embedding":
            return await whole(client, "/v1/embeddings", {"model": "fast", "input": ["a", "b"]})
        if kind == "failing":
            return await whole(
                client, "/v1/chat/completions", {"model": "broken", "messages": MESSAGES}
            )
        model = {"stream": "fast", "cancelled_stream": "streamy"}.get(kind, "broken-stream")
        return await streamed(client, model, abandon=kind == "cancelled_stream")
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError as err:
        return f"transport_{type(err).__name__}"


# ---------------------------------------------------------------- the load and the watch


@dataclass
class Tally:
    outcomes: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    sent: int = 0


async def load(port: int, plan: list[str], concurrency: int, deadline: float) -> Tally:
    """Send the planned requests with `concurrency` workers, stopping at `deadline`."""
    tally = Tally()
    queue = iter(plan)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=httpx.Timeout(30.0)
    ) as client:

        async def worker() -> None:
            for kind in queue:
                if time.monotonic() > deadline:
                    return
                tally.sent += 1
                tally.outcomes[kind, await one(client, kind)] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


async def sample_rss(pid: int, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    """The process's RSS in MB, once a second, until `stop`."""
    process, start = psutil.Process(pid), time.monotonic()
    while not stop.is_set():
        samples.append((round(time.monotonic() - start, 1), process.memory_info().rss / 2**20))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def soak(port: int, pid: int, plan: list[str], args: argparse.Namespace) -> dict[str, Any]:
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, samples, stop))
    start = time.monotonic()
    tally = await load(port, plan, args.concurrency, start + args.max_seconds)
    duration = time.monotonic() - start
    await asyncio.sleep(2)  # let the router settle before the last sample
    stop.set()
    await sampler
    return summary(tally, samples, duration) | {"rss_samples_mb": samples}


# ---------------------------------------------------------------- the report


def summary(tally: Tally, samples: list[tuple[float, float]], duration: float) -> dict[str, Any]:
    by_kind: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for (kind, outcome), count in sorted(tally.outcomes.items()):
        by_kind[kind][outcome] = count
    errors = {
        kind: {o: n for o, n in outcomes.items() if o not in ("ok", "cancelled")}
        for kind, outcomes in by_kind.items()
    }
    unexpected = sum(
        n
        for (kind, outcome), n in tally.outcomes.items()
        if kind in EXPECTED and outcome != EXPECTED[kind]
    )
    rss = [mb for _, mb in samples]
    return {
        "requests_sent": tally.sent,
        "duration_s": round(duration, 1),
        "requests_per_s": round(tally.sent / duration, 1) if duration else 0,
        "failures_injected": {k: sum(by_kind[k].values()) for k in INJECTED if k in by_kind},
        "outcomes_by_kind": dict(by_kind),
        "client_errors_by_kind": {k: v for k, v in errors.items() if v},
        "unexpected_client_errors": unexpected,
        "rss_mb": {
            "start": round(rss[0], 1),
            "peak": round(max(rss), 1),
            "end": round(rss[-1], 1),
        },
    }


def router_state(port: int, router: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    """What the router says after the soak: in flight, answered by status, log problems."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    in_flight = sum(
        float(v) for v in re.findall(r"^router_requests_in_flight\{.*\} (\S+)$", text, re.M)
    )
    statuses: collections.Counter[str] = collections.Counter()
    for status, value in re.findall(
        r'^router_requests_total\{.*status="(\d+)".*\} (\S+)$', text, re.M
    ):
        statuses[status] += int(float(value))
    process = psutil.Process(router.pid)
    logged = log.read_text(errors="replace")
    return {
        "in_flight_after": in_flight,
        "router_answers_by_status": dict(statuses),
        "open_fds_after": process.num_fds(),
        "threads_after": process.num_threads(),
        "log_tracebacks": logged.count("Traceback"),
        "log_errors": logged.count(" ERROR "),
    }


def plan_requests(count: int, seed: int) -> list[str]:
    kinds, weights = zip(*MIX.items(), strict=True)
    return random.Random(seed).choices(kinds, weights=weights, k=count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=900, help="stop sending after")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the summary and RSS samples here")
    parser.add_argument("--serve-fakes", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        serve_fakes(*args.serve_fakes)
        return
    with tempfile.TemporaryDirectory() as tmp:
        fakes, router, port = start_processes(Path(tmp))
        try:
            result = asyncio.run(
                soak(port, router.pid, plan_requests(args.requests, args.seed), args)
            )
            result |= router_state(port, router, Path(tmp) / "router.log")
        finally:
            for process in (router, fakes):
                process.terminate()
                process.wait(30)
    samples = result.pop("rss_samples_mb")
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result | {"rss_samples_mb": samples}, indent=2) + "\n")
    sys.exit(0 if result["unexpected_client_errors"] == 0 else 1)


if __name__ == "__main__":
    main()
