"""The sandbox that model-written code runs in: what this machine offers, and running in it.

`detect()` finds the sandbox once per process and checks that it really works here (a probe
runs the interpreter inside it): bubblewrap (`bwrap`) on Linux, `sandbox-exec` on macOS,
else none, with the reason. `run()` runs an interpreter command inside it with rlimits; with
no sandbox it refuses (`NoSandbox`): nothing here ever runs code unconfined.

Linux (bubblewrap): new network, PID, IPC, UTS, cgroup (and, unless root, user) namespaces;
as root the child becomes `nobody`, so RLIMIT_NPROC holds. `--die-with-parent` and the PID
namespace kill every descendant with the run; an empty environment; read-only binds of /usr,
/lib*, /etc/ld.so.cache and the interpreter's prefix only, the code read-only at /sandbox, a
size-capped private tmpfs /tmp (the cwd) the only writable place; fresh /proc and /dev;
nothing of $HOME. macOS (sandbox-exec): a deny-by-default profile (read the system and the
interpreter, write the run's work folder only, no network, no fork), a disk and memory
watchdog, and a kill of every descendant seen. In both, a launcher sets the rlimits (CPU,
address space, file size, open files, processes, core) inside before exec'ing the command.
The command lines (bwrap's arguments, the macOS profile, the launcher) are built in
`router.grading.sandbox_argv`; this module finds the sandbox and runs, watches and kills.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Literal

import msgspec
import psutil

from router.grading.sandbox_argv import (
    INSIDE,
    NOBODY,
    Limits,
    bwrap_argv,
    env,
    interpreter,
    seatbelt_argv,
)

Kind = Literal["bubblewrap", "sandbox-exec", "none"]
ENABLE_HINT = {
    "linux": "install bubblewrap (`apt-get install bubblewrap` / `dnf install bubblewrap`) "
    "and allow unprivileged user namespaces",
    "darwin": "sandbox-exec ships with macOS: check /usr/bin/sandbox-exec",
}
_POLL_S = 0.05


Output = tuple[IO[bytes], IO[bytes]]  # where a run's stdout and stderr go


class NoSandbox(RuntimeError):
    """Raised instead of running code where no sandbox is available."""


class Sandbox(msgspec.Struct, frozen=True):
    """The sandbox found: its kind, the tool's path, and why there is none (if so)."""

    kind: Kind
    tool: str = ""
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        """What a measured profile records as `code_checks`."""
        return f"sandboxed: {self.kind}" if self.available else "skipped: no sandbox"

    def warning(self) -> str | None:
        """The start-up warning line when code answers cannot be run, else None."""
        if self.available:
            return None
        hint = ENABLE_HINT.get(sys.platform, "no sandbox is known for this system")
        why = f"no sandbox: {self.reason}; to enable: {hint}"
        return f"code answers are not run (graded on the rest): {why}"


class Outcome(msgspec.Struct, frozen=True):
    """How a run ended: exit code (None if killed), why killed ("", timeout, memory, disk)."""

    returncode: int | None
    why: str
    seconds: float


# ---------------------------------------------------------------- detecting


_TOOLS: dict[str, tuple[Kind, str]] = {
    "linux": ("bubblewrap", "bwrap"),
    "darwin": ("sandbox-exec", "sandbox-exec"),
}
_PROBE = "import json\nopen('p', 'w').write('ok')\nprint(open('p').read(), end='')\n"


@functools.cache
def detect() -> Sandbox:
    """This machine's sandbox, probed once per process (a Python run inside it)."""
    return find_sandbox(sys.platform)


def find_sandbox(platform: str) -> Sandbox:
    """The sandbox for `platform` if its tool is installed and a probe run inside it works."""
    known = _TOOLS.get("linux" if platform.startswith("linux") else platform)
    if known is None:
        return Sandbox("none", reason=f"no sandbox is known for {platform}")
    kind, name = known
    tool = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/bin/{name}") if os.access(p, os.X_OK)), ""
    )
    if not tool:
        return Sandbox("none", reason=f"{name} is not installed")
    problem = probe(Sandbox(kind, tool))
    if problem:
        return Sandbox("none", tool, f"{name} does not work here ({problem})")
    return Sandbox(kind, tool)


def probe(sandbox: Sandbox, timeout_s: float = 20.0) -> str:
    """Run a small Python program in the sandbox: "" if it worked, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="router-probe-") as tmp:
        code = Path(tmp, "code")
        code.mkdir()
        (code / "probe.py").write_text(_PROBE, encoding="utf-8")
        out, err = Path(tmp, "out"), Path(tmp, "err")
        try:
            with out.open("wb") as stdout, err.open("wb") as stderr:
                outcome = run(sandbox, code, "probe.py", Limits(), timeout_s, (stdout, stderr))
        except OSError as exc:
            return str(exc)
        said = err.read_bytes()[-2000:].decode("utf-8", "replace").strip().splitlines()
        if outcome.returncode == 0 and out.read_bytes() == b"ok":
            return ""
    if outcome.why:
        return f"probe {outcome.why}"
    return said[-1] if said else f"probe exit code {outcome.returncode}"


# ---------------------------------------------------------------- running


def run(
    sandbox: Sandbox, code_dir: Path, script: str, limits: Limits, timeout_s: float, out: Output
) -> Outcome:
    """Run `script` of `code_dir` (read-only inside) with the interpreter, in the sandbox;
    its stdout and stderr go to `out`.

    The cwd is a fresh writable folder (Linux: the private /tmp). The run is killed at
    `timeout_s` (macOS also past the memory or disk limit), and with it every descendant.
    """
    if not sandbox.available:
        raise NoSandbox(sandbox.reason or "no sandbox")
    with tempfile.TemporaryDirectory(prefix="router-work-") as work:
        _hand_over(code_dir, Path(work))
        if sandbox.kind == "bubblewrap":
            command = [interpreter(), "-I", "-X", "utf8", f"{INSIDE}/{script}"]
            argv = bwrap_argv(
                sandbox.tool, str(code_dir), command, limits, as_root=os.geteuid() == 0
            )
        else:
            inside = os.path.realpath(code_dir / script)
            command = [interpreter(), "-I", "-X", "utf8", inside]
            argv = seatbelt_argv(sandbox.tool, str(code_dir), work, command, limits)
        started = time.monotonic()
        kw = {"stdin": subprocess.DEVNULL, "stdout": out[0], "stderr": out[1]}
        proc = subprocess.Popen(argv, env=env(work), cwd=work, start_new_session=True, **kw)
        watch = sandbox.kind == "sandbox-exec"  # bwrap: rlimits, tmpfs and a PID namespace
        code, why = _wait(proc, timeout_s, limits, Path(work) if watch else None)
        return Outcome(code, why, round(time.monotonic() - started, 3))


def _hand_over(code_dir: Path, work: Path) -> None:
    """As root the code runs as nobody: let nobody read the code and write the work folder."""
    if os.geteuid() != 0:
        return
    for path in (code_dir, work):
        os.chown(path, NOBODY, NOBODY)
    for file in code_dir.iterdir():
        file.chmod(0o644)


def _wait(
    proc: subprocess.Popen[bytes], timeout_s: float, limits: Limits, watch: Path | None
) -> tuple[int | None, str]:
    """Wait for the run; on the deadline (or, watching, past the memory or disk limit) kill
    it. Returns (exit code or None, "" | "timeout" | "memory" | "disk")."""
    deadline = time.monotonic() + timeout_s
    seen: dict[int, psutil.Process] = {}
    why, code = "", None
    while not why:
        try:
            code = proc.wait(timeout=max(min(_POLL_S, deadline - time.monotonic()), 0.001))
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                why = "timeout"
            elif watch is not None:
                why = _over(proc.pid, seen, limits, watch)
    _kill(proc, seen)
    return (None if why else code), why


def _over(pid: int, seen: dict[int, psutil.Process], limits: Limits, work: Path) -> str:
    """Track the run's descendants; "memory" or "disk" when over the limit, else ""."""
    rss = 0
    try:
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return ""
    for member in family:
        seen.setdefault(member.pid, member)
        with contextlib.suppress(psutil.Error):
            rss += member.memory_info().rss
    if rss > limits.memory_mb * 1024 * 1024:
        return "memory"
    return "disk" if _size(work) > limits.tmp_mb * 1024 * 1024 else ""


def _size(folder: Path) -> int:
    """Bytes in the files under `folder` (files vanishing meanwhile are skipped)."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total


def _kill(proc: subprocess.Popen[bytes], seen: dict[int, psutil.Process]) -> None:
    """Kill the run's process group and every descendant ever seen, then reap."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    for member in seen.values():
        with contextlib.suppress(psutil.Error):
            member.kill()  # psutil checks the pid was not reused
    proc.wait()
