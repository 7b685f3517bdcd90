"""Run a model's Python answer against a suite's asserts, in a limited subprocess.

`extract_python` picks the Python out of an answer's fenced code blocks; `run_python` runs it
followed by the asserts in `sys.executable -I` with a wall-time limit (the whole process group
is killed), an address-space limit (RLIMIT_AS; also RLIMIT_CPU and RLIMIT_FSIZE) set in
`preexec_fn` plus a resident-memory watchdog where RLIMIT_AS is not enforced (macOS), a
fresh temporary directory as cwd, no stdin and a minimal environment. The
answer is executed with `__name__ == "solution"`, so its `if __name__ == "__main__":` demo
code does not run. Pass iff the process exits 0. This is the graders' only I/O.

This is a guard against accidents (endless loops, memory hogs, stray files), not a sandbox
against hostile code: the child runs as the current user with network access.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import psutil

from router.textscan import code_blocks

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
_NOT_PYTHON_START = (">>>", "$ ", "% ", "pip ", "Traceback")

_POLL_S = 0.05
_SENTINEL = "router-checks-passed"
_HARNESS = f"""\
import sys
ns = {{"__name__": "solution", "__builtins__": __builtins__}}
try:
    exec(compile(open("solution.py", encoding="utf-8").read(), "solution.py", "exec"), ns)
except SystemExit:
    sys.exit("the solution exited before the checks ran")
exec(compile(open("checks.py", encoding="utf-8").read(), "checks.py", "exec"), ns)
sys.stdout.flush()
print("\\n{_SENTINEL}")
"""


class RunResult(msgspec.Struct, frozen=True):
    """How a run ended: exit code (None if killed on time), seconds, last stderr lines."""

    passed: bool
    returncode: int | None
    seconds: float
    timed_out: bool
    out_of_memory: bool
    stderr_tail: str


def extract_python(answer: str) -> str:
    """The Python in an answer: its Python-tagged blocks, else its untagged blocks, joined.

    Blocks that look like a shell session or REPL transcript are skipped. With no fenced
    block at all, the whole answer is returned if it compiles as Python, else "".
    """
    blocks = code_blocks(answer)
    tagged = [b.body for b in blocks if b.lang in PYTHON_TAGS]
    chosen = tagged or [b.body for b in blocks if not b.lang]
    chosen = [c for c in chosen if not c.lstrip().startswith(_NOT_PYTHON_START)]
    if chosen:
        return "\n\n".join(chosen) + "\n"
    if blocks:
        return ""
    try:
        compile(answer, "answer", "exec")
    except (SyntaxError, ValueError):
        return ""
    return answer


def _limits(memory_mb: int, cpu_s: int) -> None:
    """preexec_fn: cap address space, CPU seconds and written file size (best effort)."""
    import resource

    caps = [
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, 16 * 1024 * 1024),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in caps:  # macOS refuses some (RLIMIT_AS): keep the others
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _tail(path: Path, limit: int = 2000) -> str:
    data = path.read_bytes()[-limit:]
    return data.decode("utf-8", "replace")


def _rss(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss
    except (psutil.Error, OSError):
        return 0


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, memory_mb: int) -> tuple[
        int | None, str]:
    """Wait for the child; kill its group on the wall-time limit, or when its resident
    memory passes the limit (the watchdog for systems that ignore RLIMIT_AS, e.g. macOS).
    Returns (exit code or None, "" | "timeout" | "memory")."""
    deadline = time.monotonic() + timeout_s
    limit = memory_mb * 1024 * 1024
    why = ""
    while True:
        try:
            code: int | None = proc.wait(timeout=min(_POLL_S, max(deadline - time.monotonic(),
                                                                   0.001)))
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                why = "timeout"
            elif _rss(proc.pid) > limit:
                why = "memory"
            if why:
                code = None
                break
    _kill_group(proc)  # also reaps anything the answer left running
    proc.wait()
    return code, why


def run_python(
    code: str, checks: str, *, timeout_s: float = 10.0, memory_mb: int = 512
) -> RunResult:
    """Run `code` then `checks` in one namespace in a limited child process."""
    with tempfile.TemporaryDirectory(prefix="router-code-") as tmp:
        root = Path(tmp)
        (root / "solution.py").write_text(code, encoding="utf-8")
        (root / "checks.py").write_text(checks, encoding="utf-8")
        (root / "harness.py").write_text(_HARNESS, encoding="utf-8")
        cmd = [sys.executable, "-I", "-X", "utf8", "harness.py"]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        cpu = int(timeout_s) + 2
        started = time.monotonic()
        with (root / "out.txt").open("wb") as out, (root / "err.txt").open("wb") as err:
            proc = subprocess.Popen(
                cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True, preexec_fn=lambda: _limits(memory_mb, cpu),
            )
            returncode, why = _wait(proc, timeout_s, memory_mb)
        seconds = time.monotonic() - started
        stderr = _tail(root / "err.txt")
        finished = _tail(root / "out.txt", 200).rstrip().endswith(_SENTINEL)
    oom = why == "memory" or "MemoryError" in stderr
    passed = returncode == 0 and finished
    return RunResult(passed, returncode, round(seconds, 3), why == "timeout", oom,
                     stderr.strip())
