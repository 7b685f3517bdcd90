"""The sandbox's command lines: what runs a command confined, built without running anything.

Apart from `router.grading.sandbox` (which finds the sandbox, probes it and runs code in it,
watching and killing the process) because these are pure functions of paths and limits, one
per tool, testable on any system: `bwrap_argv` (Linux: the namespaces, the read-only binds, the
private /tmp), `seatbelt_profile` and `seatbelt_argv` (macOS: the deny-by-default profile), and
`launch`, the launcher both put in front of the command to set the rlimits (`Limits`), drop
root and exec.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import msgspec

NOBODY = 65534
INSIDE = "/sandbox"  # Linux: where the code folder appears (read-only)

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
    for key, value in env("/tmp").items():
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


def env(tmp: str) -> dict[str, str]:
    """The whole environment of a sandboxed run (nothing is inherited)."""
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
