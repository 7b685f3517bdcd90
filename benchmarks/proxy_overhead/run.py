"""What a proxy adds to a request: direct to a fast mock upstream, through the router (a
concrete model id, and `auto` with classification and policy), and through LiteLLM's proxy
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
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.proxy_overhead import loadgen  # noqa: E402

LITELLM_VERSION = "1.89.7"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "router" / "bench"
MODEL = "fast"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def body(model: str, stream: bool = False) -> bytes:
    payload: dict[str, object] = {"model": model, "messages": MESSAGES, "max_tokens": 8}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{' '.join(map(str, process.args))} exited ({process.returncode})")  # type: ignore[arg-type]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up in {seconds:.0f}s")


class Process:
    """A server under test: its CPU time and memory, its children included."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        self.name = name
        self.popen = popen
        self.ps = psutil.Process(popen.pid)
        self.sampled_rss = 0

    def _tree(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.ps, *self.ps.children(recursive=True)]
        return [self.ps]

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def rss(self) -> int:
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        self.sampled_rss = max(self.sampled_rss, total)
        return total

    def peak_rss(self) -> int:
        """The high-water mark of resident memory (VmHWM where Linux keeps it)."""
        total = 0
        for proc in self._tree():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                return max(self.sampled_rss, self.rss())
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Target:
    """One way to reach the upstream: its URL, the body it is sent, the process to watch."""

    name: str
    url: str
    model: str
    process: Process
    results: dict[str, dict[str, float | int | str | None]] = field(default_factory=dict)


def start(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )


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
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/readyz", popen)
    return Process("router", popen), base + "/v1"


def litellm_executable(version: str) -> Path:
    """LiteLLM's proxy, pinned, in its own virtual environment (installed on first use)."""
    home = CACHE / f"litellm-{version}"
    exe = home / "bin" / "litellm"
    if not exe.exists():
        print(f"installing litellm[proxy]=={version} into {home} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True)
        subprocess.run(
            [
                str(home / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"litellm[proxy]=={version}",
            ],
            check=True,
        )
    return exe


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
    url = target.url + "/chat/completions"
    payload = body(target.model, stream)
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


@contextlib.contextmanager
def py_spy(process: Process, out: Path | None, seconds: float) -> Iterator[None]:
    """Record a py-spy flame graph of `process` while the block runs (when asked)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None or not Path(spy).exists():
        yield
        return
    recorder = subprocess.Popen(
        [
            spy,
            "record",
            "-p",
            str(process.popen.pid),
            "-d",
            str(max(1, int(seconds))),
            "-r",
            "500",
            "-o",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.wait(seconds + 30)


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


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
            if args.litellm:
                litellm, litellm_url = start_litellm(tmp, upstream_url, args.litellm_version)
                started.append(litellm)
                targets.append(Target("litellm", litellm_url, MODEL, litellm))
            for proc in started:
                proc.rss()
            idle_rss = {p.name: p.rss() for p in started}
            print(f"warming up ({args.tool})", file=sys.stderr)
            for target in targets:
                loadgen.client(target.url + "/chat/completions", body(target.model), 4, 1.0)
                loadgen.client(target.url + "/chat/completions", body(target.model, True), 1, 0.5)
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


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """PromQL's histogram_quantile over (upper bound, cumulative count) pairs."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if not total:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def router_own_view(root: str) -> dict[str, float]:
    """p50/p99 of `router_overhead_seconds` and `router_classification_seconds` (the router's
    own measurement: time in the router, upstream excluded; time to classify)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(root + "/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("router_overhead_seconds", "router_classification_seconds"):
            continue
        buckets = [
            (float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")
        ]
        short = family.name.removeprefix("router_").removesuffix("_seconds")
        for q in (0.5, 0.99):
            found[f"{short}_p{round(q * 100)}"] = round(histogram_quantile(q, buckets) * 1e3, 4)
    return found


def overheads(targets: list[Target]) -> dict[str, dict[str, float]]:
    """Each proxy's latencies minus going direct, measured in the same run."""
    direct = targets[0].results
    out: dict[str, dict[str, float]] = {}
    for target in targets[1:]:
        row: dict[str, float] = {}
        for key, field_ in (
            ("c1", "p50_ms"),
            ("c1", "p90_ms"),
            ("c1", "p99_ms"),
            ("stream", "ttfb_p50_ms"),
            ("stream", "p50_ms"),
        ):
            mine, base = target.results[key].get(field_), direct[key].get(field_)
            if isinstance(mine, float) and isinstance(base, float):
                row[f"{key}_{field_}"] = round(mine - base, 4)
        out[target.name] = row
    return out


def table(report: dict[str, object], loads: list[int]) -> str:
    targets: dict[str, dict[str, object]] = report["targets"]  # type: ignore[assignment]
    head = ["", "c1 p50", "c1 p90", "c1 p99"]
    for c in loads:
        head += [f"c{c} req/s", f"c{c} p99"]
    head += ["stream ttfb", "stream total", "CPU/req", "RSS (peak)"]
    rows = [head]
    for name, res in targets.items():
        c1 = res["c1"]
        row = [
            name,
            f"{c1['p50_ms']:.3f} ms",
            f"{c1['p90_ms']:.3f} ms",  # type: ignore[index]
            f"{c1['p99_ms']:.3f} ms",
        ]  # type: ignore[index]
        for c in loads:
            loaded = res[f"c{c}"]
            row += [f"{loaded['rps']:.0f}", f"{loaded['p99_ms']:.2f} ms"]  # type: ignore[index]
            if loaded["errors"]:  # type: ignore[index]
                row[-2] += f" ({loaded['errors']} err)"  # type: ignore[index]
        stream = res["stream"]
        cpu = res[f"c{loads[0]}"]["cpu_us_per_request"] if loads else c1["cpu_us_per_request"]  # type: ignore[index]
        row += [
            f"{stream['ttfb_p50_ms']:.3f} ms",
            f"{stream['p50_ms']:.3f} ms",  # type: ignore[index]
            f"{cpu:.0f} µs" if cpu else "-",
            f"{res['rss_after_mb']:.0f} MB ({res['peak_rss_mb']:.0f})",
        ]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.append("")
    lines.append("overhead over direct (ms, same run): ")
    for name, row in report["overhead_ms"].items():  # type: ignore[attr-defined]
        parts = ", ".join(f"{k} {v:+.3f}" for k, v in row.items())
        lines.append(f"  {name}: {parts}")
    own = report["router_metrics_ms"]
    lines.append(
        "the router's own histograms (ms, every request of the run): "
        + ", ".join(f"{k} {v:.3f}" for k, v in own.items())  # type: ignore[attr-defined]
    )
    m = report["machine"]
    lines.append(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "  # type: ignore[index]
        f"{m['os']}, Python {m['python']}; one worker each; "  # type: ignore[index]
        f"CPU/req at c={loads[0] if loads else 1}, the proxy process only; RSS after the load "
        "(peak: VmHWM, start-up included)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
