"""Hostile code answers, run through the real grader path, leave no trace; no sandbox, no run.

Each hostile answer tries its escape, records any success in `ESCAPES`, then defines a correct
`double`; the checks assert `double` and an empty `ESCAPES`. So a passing grade means the code
ran to the end and every attempt failed inside; the tests also look from outside (files, the
test's own listeners, the processes on this machine) and check that the host's temp folder is
left empty. These run the real sandbox: bubblewrap must be installed (`make test` does it).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from router.grading import graders as g
from router.grading import sandbox as sb
from router.grading import sandbox_argv as argvs
from router.grading.coderun import NoSandbox, run_python

CHECKS = "assert double(21) == 42\nassert ESCAPES == [], ESCAPES\n"
LIMITS = sb.Limits()


def hostile(body: str) -> str:
    """A code answer: `body` (recording escapes in ESCAPES), then a correct `double`."""
    return f"```python\nESCAPES = []\n{body}\ndef double(x):\n    return x * 2\n```\n"


def grade_code(answer: str, timeout_s: float = 5.0) -> g.Grade:
    """The calibration's grading of a code answer (code block, then the code run)."""
    specs: list[g.GraderSpec] = [
        g.CodeBlockSpec(lang="python"),
        g.Code(checks=CHECKS, timeout_s=timeout_s),
    ]
    return g.grade(answer, specs, "Write double(x).", lang="en", run_code=True)


def processes(name: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]


class Watch:
    """Counts this machine's processes named `name` while a run goes on (the peak)."""

    def __init__(self, name: str) -> None:
        self.name, self.peak = name, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, len(processes(self.name)))
            time.sleep(0.05)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Listener:
    """A TCP listener on every interface and an abstract unix socket; who connected."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("0.0.0.0", 0))
        self.port = self.tcp.getsockname()[1]
        self.unix_name = f"\0router-test-{uuid.uuid4().hex}"
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.unix_name)
        self.unix.listen()
        self.seen: list[str] = []
        for server in (self.tcp, self.unix):
            server.settimeout(0.1)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while server.fileno() != -1:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            self.seen.append(repr(conn.recv(100)))
            conn.close()

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()


@pytest.fixture(autouse=True)
def host_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The runs' host-side folders go in a folder of the test's own, checked empty after."""
    assert sb.detect().available, f"no sandbox here: {sb.detect().reason}"  # probe outside it
    folder = tmp_path / "host-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    assert list(folder.iterdir()) == []


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def test_a_correct_answer_passes() -> None:
    result = grade_code(hostile(""))
    assert result.passed, result.verdicts
    assert "checks passed" in result.verdicts[1].detail


def test_files_outside_the_private_folder_are_not_written(tmp_path: Path) -> None:
    name = f"router-escape-{uuid.uuid4()}"  # unique: nothing of an earlier run counts
    targets = [
        str(tmp_path / name),
        str(Path.home() / name),
        f"/{name}",
        f"/usr/{name}",
        f"{argvs.INSIDE}/{name}",
    ]
    host_tmp_file = Path("/tmp", name)  # inside: the private /tmp
    body = f"""
for path in {targets!r}:
    try:
        with open(path, "w") as f:
            f.write("escaped")
        ESCAPES.append(path)
    except OSError:
        pass
with open({str(host_tmp_file)!r}, "w") as f:
    f.write("private")
"""
    result = grade_code(hostile(body))
    assert result.passed, result.verdicts
    for path in [*targets, str(host_tmp_file)]:
        assert not Path(path).exists(), path


def test_the_parent_environment_and_processes_are_invisible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("ROUTER_UPSTREAM_KEY", secret)
    home = str(Path.home())
    interpreter_only = sorted(
        {
            Path(r).relative_to(home).parts[0]
            for r in argvs.interpreter_roots()
            if Path(r).is_relative_to(home) and home != "/"
        }
    )
    body = f"""
import os, resource
seen = repr(dict(os.environ))
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + [{os.getpid()}, os.getppid()]:
    for part in ("environ", "cmdline"):
        try:
            seen += open(f"/proc/{{pid}}/{{part}}", "rb").read().decode("latin-1")
        except OSError:
            pass
if {secret[::-1]!r}[::-1] in seen:
    ESCAPES.append("the secret")
if os.path.exists("/proc/{os.getpid()}"):
    ESCAPES.append("the grader's process")
if os.geteuid() == 0:
    ESCAPES.append("root")
if os.path.isdir({home!r}) and sorted(os.listdir({home!r})) != {interpreter_only!r}:
    ESCAPES.append(os.listdir({home!r}))  # only the interpreter, if it lives there
limits = {json.dumps(LIMITS.rlimits())}
for name, value in limits.items():
    if resource.getrlimit(getattr(resource, name))[1] > value:
        ESCAPES.append(name)
"""
    result = grade_code(hostile(body))
    assert result.passed, result.verdicts


def test_no_network_reaches_the_host(listener: Listener) -> None:
    addresses = {"127.0.0.1"} | {
        a.address
        for nic in psutil.net_if_addrs().values()
        for a in nic
        if a.family == socket.AF_INET
    }
    body = f"""
import socket
for host in {sorted(addresses)!r}:
    try:
        socket.create_connection((host, {listener.port}), timeout=0.5).sendall(b"tcp")
        ESCAPES.append(host)
    except OSError:
        pass
try:
    s = socket.socket(socket.AF_UNIX)
    s.connect({listener.unix_name!r})
    s.sendall(b"unix")
    ESCAPES.append("unix")
except OSError:
    pass
"""
    result = grade_code(hostile(body))
    time.sleep(0.3)
    assert result.passed, result.verdicts
    assert listener.seen == []


SURVIVOR = """
import os, socket, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        import ctypes
        ctypes.CDLL(None).prctl(15, b"rtr-survivor", 0, 0, 0)
        time.sleep(1.5)
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=0.5).sendall(b"late")
        except OSError:
            pass
        for path in ({marker!r}, "late.txt"):
            try:
                open(path, "w").write("late")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
time.sleep(0.5)
"""


def test_a_setsid_survivor_dies_with_the_run(tmp_path: Path, listener: Listener) -> None:
    marker = tmp_path / "late"
    with Watch("rtr-survivor") as watch:
        result = grade_code(hostile(SURVIVOR.format(port=listener.port, marker=str(marker))))
        assert watch.peak == 1  # it was there while the run went on
        assert processes("rtr-survivor") == []  # and gone when the grade came back
        time.sleep(2.5)
    assert result.passed, result.verdicts
    assert processes("rtr-survivor") == []
    assert listener.seen == [] and not marker.exists()


FORK_BOMB = """
import ctypes, os, time
children = 0
try:
    for _ in range(200):
        if os.fork() == 0:
            ctypes.CDLL(None).prctl(15, b"rtr-bomb", 0, 0, 0)
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError:
    pass
if not 4 <= children < {limit}:
    ESCAPES.append(children)
time.sleep(0.3)
"""


def test_a_fork_bomb_is_bounded() -> None:
    with Watch("rtr-bomb") as watch:
        started = time.monotonic()
        result = grade_code(hostile(FORK_BOMB.format(limit=LIMITS.processes)))
        seconds = time.monotonic() - started
        time.sleep(0.2)
    assert result.passed, result.verdicts
    assert 4 <= watch.peak < LIMITS.processes
    assert processes("rtr-bomb") == []
    assert seconds < 5


DISK_FILLER = """
def fill(paths):
    written = 0
    try:
        for path in paths:
            with open(path, "wb") as f:
                for _ in range(100):
                    f.write(b"x" * 2**20)
                    written += 2**20
    except OSError:
        pass
    return written
one = fill(["big"])
many = fill(f"f{{i}}" for i in range(1000))
if not 2**20 <= one <= {file_mb} * 2**20:
    ESCAPES.append(("one file", one))
if not 2**20 <= many <= {tmp_mb} * 2**20:
    ESCAPES.append(("many files", many))
import os
for name in os.listdir("."):
    os.remove(name)
"""


def test_filling_the_disk_stops_at_the_limits() -> None:
    answer = hostile(DISK_FILLER.format(file_mb=LIMITS.file_mb, tmp_mb=LIMITS.tmp_mb))
    result = grade_code(answer, timeout_s=8.0)
    assert result.passed, result.verdicts  # the host's temp folder is checked by host_tmp


def test_sleeping_forever_is_cut_at_the_timeout() -> None:
    started = time.monotonic()
    result = grade_code(hostile("import time\ntime.sleep(10**6)\n"), timeout_s=1.0)
    assert time.monotonic() - started < 4
    assert result.failures == ["code_failed"]
    assert "timed out" in result.verdicts[1].detail


# ---------------------------------------------------------------- without a sandbox


NONE = sb.Sandbox("none", reason="test: no sandbox")


def test_without_a_sandbox_code_is_never_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("router.grading.graders.detect", lambda: NONE)
    monkeypatch.setattr("router.grading.coderun.detect", lambda: NONE)
    marker = tmp_path / "ran"
    answer = hostile(f"open({str(marker)!r}, 'w').write('ran')\n")
    specs: list[g.GraderSpec] = [g.CodeBlockSpec(lang="python"), g.Code(checks=CHECKS)]
    result = g.grade(answer, specs, "Write double(x).", lang="en")
    assert result.passed  # graded on the rest: the code block, no loop, no leaked reasoning
    assert all("checks passed" not in v.detail for v in result.verdicts)
    with pytest.raises(NoSandbox, match="test: no sandbox"):
        run_python(answer, CHECKS)
    with pytest.raises(NoSandbox):
        g.grade(answer, specs, "Write double(x).", lang="en", run_code=True)
    assert not marker.exists()


def test_detection_says_why_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sb.detect().kind == ("bubblewrap" if sys.platform == "linux" else "sandbox-exec")
    assert sb.detect().describe() == f"sandboxed: {sb.detect().kind}"
    assert sb.detect().warning() is None
    assert sb.find_sandbox("win32").reason == "no sandbox is known for win32"
    monkeypatch.setattr(
        "router.grading.sandbox.probe", lambda box: "No permissions to create a userns"
    )
    broken = sb.find_sandbox("linux")
    assert broken.kind == "none" and broken.describe() == "skipped: no sandbox"
    assert "does not work here (No permissions to create a userns)" in broken.reason
    monkeypatch.setattr("router.grading.sandbox.shutil.which", lambda name: None)
    monkeypatch.setattr("router.grading.sandbox.os.access", lambda path, mode: False)
    missing = sb.find_sandbox("linux")
    assert missing.reason == "bwrap is not installed"
    monkeypatch.setattr("router.grading.sandbox.sys.platform", "linux")
    warning = missing.warning()
    assert warning is not None and "apt-get install bubblewrap" in warning
    assert "\n" not in warning


# ---------------------------------------------------------------- the command lines


def test_bwrap_command_line() -> None:
    command = [argvs.interpreter(), "-I", f"{argvs.INSIDE}/harness.py"]
    for as_root in (True, False):
        argv = argvs.bwrap_argv("/usr/bin/bwrap", "/x/code", command, LIMITS, as_root=as_root)
        text = " ".join(argv)
        assert "--unshare-net" in argv or "--unshare-all" in argv
        assert "--unshare-pid" in argv or "--unshare-all" in argv
        for flag in ("--die-with-parent", "--new-session", "--clearenv"):
            assert flag in argv
        assert "--bind" not in argv and "--dev-bind" not in argv  # read-only binds only
        assert f"--size {LIMITS.tmp_mb * 2**20} --tmpfs /tmp" in text
        assert "--ro-bind /x/code /sandbox" in text
        assert argv[argv.index("--") + 1 :][-3:] == command
        assert str(Path.home()) == "/" or f" {Path.home()} " not in text.replace(
            f"--dir {Path.home()} ", ""
        )
    assert "--unshare-user" in argvs.bwrap_argv("b", "/c", command, LIMITS, as_root=False)


def test_seatbelt_profile_and_command_line(tmp_path: Path) -> None:
    code, work = tmp_path / 'co"de', tmp_path / "work"
    profile = argvs.seatbelt_profile(str(code), str(work))
    lines = profile.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert "(deny network*)" in lines and "(deny process-fork)" in lines
    writes = [line for line in lines if "file-write" in line]
    assert writes == [f'(allow file-write* (subpath "{work.resolve()}") (literal "/dev/null"))']
    assert '\\"de' in profile  # quoted
    assert f'"{Path.home()}"' not in profile or Path.home() in map(Path, argvs.interpreter_roots())
    argv = argvs.seatbelt_argv("/usr/bin/sandbox-exec", str(code), str(work), ["py", "x"], LIMITS)
    assert argv[:3] == ["/usr/bin/sandbox-exec", "-p", profile]
    assert argv[3:8] == [argvs.interpreter(), "-I", "-S", "-c", argvs.LAUNCHER]
    spec = json.loads(argv[8])
    assert spec["limits"]["RLIMIT_NPROC"] == LIMITS.processes and spec["cwd"] == str(work)
    assert argv[9:] == ["py", "x"]
