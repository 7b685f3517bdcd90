"""Load generators: `wrk` with a Lua script (POST bodies, exact percentiles as JSON), and a
bounded asyncio client (keep-alive connections, `httptools`) that also times the first body
byte of each answer, for streams. The asyncio client stands in for wrk where wrk is missing;
on a small machine it takes more CPU from the proxy than wrk does, so the table says which
one measured.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httptools

_LUA = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  local f = io.open([==[%(out)s]==], "w")
  f:write(string.format(
    '{"requests": %%d, "duration_us": %%d, "errors": %%d, "non_2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%f}',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
  f:close()
end
"""


@dataclass
class Run:
    """One measurement: requests done in `seconds`, their latencies (and first bytes)."""

    tool: str
    concurrency: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    ttfb_p50_ms: float | None = None
    ttfb_p99_ms: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, body: bytes, concurrency: int, seconds: float, threads: int = 1) -> Run:
    """`wrk -c concurrency` for `seconds`; percentiles from wrk's own histogram."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        script = Path(tmp) / "post.lua"
        script.write_text(_LUA % {"body": body.decode(), "out": out})
        command = [
            "wrk",
            f"-t{min(threads, concurrency)}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=seconds + 30)
        found = json.loads(out.read_text())
    return Run(
        "wrk",
        concurrency,
        found["requests"],
        found["duration_us"] / 1e6,
        found["errors"] + found["non_2xx"],
        found["p50_us"] / 1e3,
        found["p90_us"] / 1e3,
        found["p99_us"] / 1e3,
    )


class _Connection(asyncio.Protocol):
    """One keep-alive client connection; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[int] | None = None
        self.first: float | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("closed by the server"))

    def on_body(self, body: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())


async def _worker(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    out: list[tuple[float, float]],
    errors: list[int],
) -> None:
    loop = asyncio.get_running_loop()
    conn: _Connection | None = None
    while time.perf_counter() < deadline:
        if conn is None or conn.transport is None or conn.transport.is_closing():
            _, conn = await loop.create_connection(_Connection, host, port)
        conn.done = loop.create_future()
        conn.first = None
        start = time.perf_counter()
        conn.transport.write(request)  # type: ignore[union-attr]
        try:
            status = await asyncio.wait_for(conn.done, 10)
        except (ConnectionError, TimeoutError):
            errors.append(1)
            conn = None
            continue
        end = time.perf_counter()
        if status != 200:
            errors.append(1)
            continue
        out.append((end - start, (conn.first or end) - start))
    if conn is not None and conn.transport is not None:
        conn.transport.close()


async def _drive(
    url: str, body: bytes, concurrency: int, seconds: float
) -> tuple[list[tuple[float, float]], int, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        b"POST %s HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s"
    ) % (parts.path.encode(), host.encode(), port, len(body), body)
    samples: list[tuple[float, float]] = []
    errors: list[int] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_worker(host, port, request, deadline, samples, errors) for _ in range(concurrency))
    )
    return samples, len(errors), time.perf_counter() - start


def client(url: str, body: bytes, concurrency: int, seconds: float) -> Run:
    """The asyncio client for `seconds`: total time and time to the first body byte."""
    try:
        import uvloop

        samples, errors, elapsed = uvloop.run(_drive(url, body, concurrency, seconds))
    except ImportError:  # pragma: no cover - Windows
        samples, errors, elapsed = asyncio.run(_drive(url, body, concurrency, seconds))
    totals = sorted(s[0] for s in samples)
    firsts = sorted(s[1] for s in samples)
    return Run(
        "asyncio",
        concurrency,
        len(samples),
        elapsed,
        errors,
        quantile(totals, 0.5) * 1e3,
        quantile(totals, 0.9) * 1e3,
        quantile(totals, 0.99) * 1e3,
        ttfb_p50_ms=quantile(firsts, 0.5) * 1e3,
        ttfb_p99_ms=quantile(firsts, 0.99) * 1e3,
    )


def quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    if len(sorted_values) < 2:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[round(q * 1000) - 1]
