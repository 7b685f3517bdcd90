"""Run a model's Python answer against a suite's asserts, inside the sandbox, or not at all.

`extract_python` picks the Python out of an answer's fenced code blocks; `run_python` runs it
followed by the asserts in the operating system's sandbox (`router.grading.sandbox`: bubblewrap on
Linux, sandbox-exec on macOS): no network, no view of the router's environment, files or
processes, a private size-capped writable folder as cwd, rlimits on CPU, memory, file size,
open files and processes, a wall-time limit, and every descendant killed when the run ends.
Where no sandbox works, `run_python` raises `NoSandbox` and nothing is run: the graders then
leave the code check out (see `graders.grade`). The answer is executed with
`__name__ == "solution"`, so its `if __name__ == "__main__":` demo code does not run; the
checks are read before it runs. Pass iff the process exits 0 after the checks.
This is the graders' only I/O.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec

from router.grading.sandbox import Limits, NoSandbox, Sandbox, detect, run
from router.grading.textscan import code_blocks

__all__ = ["NoSandbox", "RunResult", "extract_python", "run_python"]

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
_NOT_PYTHON_START = (">>>", "$ ", "% ", "pip ", "Traceback")

_SENTINEL = "router-checks-passed"
_HARNESS = f"""\
import os, sys
here = os.path.dirname(os.path.abspath(__file__))
def source(name):
    with open(os.path.join(here, name), encoding="utf-8") as f:
        return f.read()
solution, checks = source("solution.py"), source("checks.py")
ns = {{"__name__": "solution", "__builtins__": __builtins__}}
try:
    exec(compile(solution, "solution.py", "exec"), ns)
except SystemExit:
    sys.exit("the solution exited before the checks ran")
exec(compile(checks, "checks.py", "exec"), ns)
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


def run_python(
    code: str,
    checks: str,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    sandbox: Sandbox | None = None,
) -> RunResult:
    """Run `code` then `checks` in one namespace, in the sandbox (`NoSandbox` if none)."""
    box = sandbox or detect()
    if not box.available:
        raise NoSandbox(box.reason)
    limits = Limits(cpu_s=int(timeout_s) + 2, memory_mb=memory_mb)
    with tempfile.TemporaryDirectory(prefix="router-code-") as tmp:
        root = Path(tmp)
        folder = root / "code"  # read-only inside the sandbox
        folder.mkdir()
        (folder / "solution.py").write_text(code, encoding="utf-8")
        (folder / "checks.py").write_text(checks, encoding="utf-8")
        (folder / "harness.py").write_text(_HARNESS, encoding="utf-8")
        # the child's output: at most RLIMIT_FSIZE each, deleted with the folder
        with (root / "out.txt").open("wb") as out, (root / "err.txt").open("wb") as err:
            outcome = run(box, folder, "harness.py", limits, timeout_s, (out, err))
        stderr = _tail(root / "err.txt")
        finished = _tail(root / "out.txt", 200).rstrip().endswith(_SENTINEL)
    oom = outcome.why == "memory" or "MemoryError" in stderr
    passed = outcome.returncode == 0 and finished
    return RunResult(
        passed, outcome.returncode, outcome.seconds, outcome.why == "timeout", oom, stderr.strip()
    )


def _tail(path: Path, limit: int = 2000) -> str:
    with path.open("rb") as f:
        f.seek(max(path.stat().st_size - limit, 0))
        data = f.read(limit)
    return data.decode("utf-8", "replace")
