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
"""

from __future__ import annotations

import contextlib
import functools
import json
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

Kind = Literal["bubblewrap", "sandbox-exec", "none"]
NOBODY = 65534
INSIDE = "/sandbox"  # Linux: where the code folder appears (read-only)
ENABLE_HINT = {
    "linux": "install bubblewrap (`apt-get install bubblewrap` / `dnf install bubblewrap`) "
    "and allow unprivileged user namespaces",
    "darwin": "sandbox-exec ships with macOS: check /usr/bin/sandbox-exec",
}
_POLL_S = 0.05

# Runs inside the sandbox, before the command: limits, then (as root) become nobody, then exec.
LAUNCHER = """\
import json, os, resource, sys
spec = json.loads(sys.argv[1])
for name, value in spec["limits"].items():
    which = getattr(resource, name)
    hard = resource.getrlimit(which)[1]
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        if name != "RLIMIT_AS" or sys.platform != "darwin":  # macOS refuses RLIMIT_AS
            sys.exit(f"sandbox: cannot set {name}")
if os.geteuid() == 0:
    os.setgroups([])
    os.setresgid(spec["nobody"], spec["nobody"], spec["nobody"])
    os.setresuid(spec["nobody"], spec["nobody"], spec["nobody"])
    if 0 in os.getresuid() or 0 in os.getresgid():
        sys.exit("sandbox: cannot drop root")
os.chdir(spec["cwd"])
os.execv(sys.argv[2], sys.argv[2:])
"""


_RLIMITS = "RLIMIT_CPU RLIMIT_AS RLIMIT_FSIZE RLIMIT_NOFILE RLIMIT_NPROC RLIMIT_CORE"


Output = tuple[IO[bytes], IO[bytes]]  # where a run's stdout and stderr go


class NoSandbox(RuntimeError):
    """Raised instead of running code where no sandbox is available."""


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """What the code may use; rlimits set inside the sandbox (tmp_mb: the writable space)."""

    cpu_s: int = 12
    memory_mb: int = 512
    file_mb: int = 16
    open_files: int = 64
    processes: int = 32
    tmp_mb: int = 64

    def rlimits(self) -> dict[str, int]:
        mb = 1024 * 1024
        v = (self.cpu_s, self.memory_mb * mb, self.file_mb * mb, self.open_files, self.processes)
        return dict(zip(_RLIMITS.split(), (*v, 0), strict=True))


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


# ---------------------------------------------------------------- the interpreter


def interpreter() -> str:
    """The base interpreter (not a venv's wrapper): only its own prefix is bound inside."""
    base = getattr(sys, "_base_executable", "") or sys.executable
    return os.path.realpath(base)


def interpreter_roots() -> list[str]:
    """The folders the interpreter needs: its prefixes and the folder of its binary."""
    found = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    found.add(str(Path(interpreter()).parent.parent))
    return sorted(found)


def launch(command: list[str], cwd: str, limits: Limits) -> list[str]:
    """`command` behind the launcher: set the limits, drop root, chdir, exec."""
    spec = json.dumps({"limits": limits.rlimits(), "nobody": NOBODY, "cwd": cwd})
    return [interpreter(), "-I", "-S", "-c", LAUNCHER, spec, *command]


# ---------------------------------------------------------------- bubblewrap

_AS_ROOT = "--unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup-try"
_AS_USER = "--unshare-all --unshare-user --disable-userns"
_ALWAYS = "--die-with-parent --new-session --clearenv"
_FRESH = "--proc /proc --dev /dev --remount-ro /dev --hostname sandbox --chdir /tmp"
_LAST = "--remount-ro /"  # the root tmpfs bwrap builds: read-only once set up


def bwrap_argv(
    tool: str, code_dir: str, command: list[str], limits: Limits, *, as_root: bool
) -> list[str]:
    """The bwrap command line running `command` (in-sandbox paths) with `code_dir` at
    /sandbox read-only and a private /tmp as cwd."""
    # as root, no user namespace: the launcher drops to nobody, so NPROC is enforced
    spaces = _AS_ROOT if as_root else _AS_USER
    argv = [tool, *spaces.split(), *_ALWAYS.split()]
    for key, value in _env("/tmp").items():
        argv += ["--setenv", key, value]
    argv += ["--ro-bind", "/usr", "/usr", *_system_dirs()]
    for file in ("/etc/ld.so.cache", "/etc/localtime"):
        argv += ["--ro-bind-try", file, file]
    for root in interpreter_roots():
        if not root.startswith("/usr/"):
            argv += [*_parents(root), "--ro-bind", root, root]
    tmp = f"--perms 1777 --size {limits.tmp_mb * 1024 * 1024} --tmpfs /tmp"
    argv += [*_FRESH.split(), *tmp.split(), "--ro-bind", code_dir, INSIDE, *_LAST.split()]
    return [*argv, "--", *launch(command, "/tmp", limits)]


def _parents(path: str) -> list[str]:
    """Traversable parents for a bind (else bwrap copies modes like /root's 0700)."""
    args: list[str] = []
    for parent in reversed(Path(path).parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _system_dirs() -> list[str]:
    """/bin, /lib and friends: symlinks into /usr on merged systems, else read-only binds."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _env(tmp: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "LC_ALL": "C.UTF-8"}


# ---------------------------------------------------------------- sandbox-exec (macOS)


_SYSTEM_READS = (
    "/usr/lib /usr/share /System /Library/Apple /private/var/db/dyld /private/var/db/timezone "
    "/opt/homebrew /usr/local"
)
_DEVICES = "/dev/null /dev/zero /dev/random /dev/urandom"
_SEATBELT = """\
(version 1)
(deny default)
(allow process-exec {exe})
(allow file-read-metadata)
(allow file-read* (literal "/") {read} {devices})
(allow file-write* (subpath {work}) (literal "/dev/null"))
(allow sysctl-read)
(allow process-info* (target self))
(allow signal (target self))
(deny network*)
(deny process-fork)
"""


def _sb_quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seatbelt_profile(code_dir: str, work_dir: str) -> str:
    """A sandbox-exec profile: deny everything, then read the system, the interpreter and the
    code; write only `work_dir`; no network, no fork, no other process."""
    reads = [*_SYSTEM_READS.split(), *interpreter_roots(), code_dir, work_dir]
    read = " ".join(f"(subpath {_sb_quote(os.path.realpath(p))})" for p in reads)
    devices = " ".join(f"(literal {_sb_quote(d)})" for d in _DEVICES.split())
    exe = " ".join(f"(subpath {_sb_quote(r)})" for r in interpreter_roots())
    work = _sb_quote(os.path.realpath(work_dir))
    return _SEATBELT.format(exe=exe, read=read, devices=devices, work=work)


def seatbelt_argv(
    tool: str, code_dir: str, work_dir: str, command: list[str], limits: Limits
) -> list[str]:
    """The sandbox-exec command line running `command` with the profile above."""
    profile = seatbelt_profile(code_dir, work_dir)
    return [tool, "-p", profile, *launch(command, work_dir, limits)]


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
        proc = subprocess.Popen(argv, env=_env(work), cwd=work, start_new_session=True, **kw)
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
