"""The servers a benchmark starts and watches: free ports, start-up waits, CPU time and memory
(a process and its children), LiteLLM's pinned proxy in its own environment, py-spy, and a
description of the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "router" / "bench"


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
