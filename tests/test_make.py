"""`make test` sets up what the tests need from outside Python (issue 12, point 1): the Makefile's
`test` runs `scripts/test-tools.sh`, which installs Prometheus and bubblewrap where it can and
otherwise stops with one line saying what to install; CI runs just `make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests import REPO

SCRIPT = REPO / "scripts" / "test-tools.sh"


def run_with(tmp_path: Path, tools: list[str]) -> subprocess.CompletedProcess[str]:
    """The script with a PATH of the shell's basics and `tools` (as stubs), nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for basic in ("sh", "sed", "uname", "id"):
        found = shutil.which(basic)
        assert found, basic
        (bin_dir / basic).symlink_to(found)
    for tool in tools:
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/")}
    command = [str(bin_dir / "sh"), str(SCRIPT)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


def test_make_test_runs_the_tools_script_and_ci_runs_make_test() -> None:
    makefile = (REPO / "Makefile").read_text()
    target = re.search(r"^test:(.*)$", makefile, re.M)
    assert target and "tools" in target[1].split()
    assert "scripts/test-tools.sh" in makefile
    ci = [line for line in (REPO / ".ci/run").read_text().splitlines() if line.strip()]
    assert ci[-1] == "make test" and not any("apt-get" in line for line in ci)


def test_with_every_tool_present_the_script_does_nothing(tmp_path: Path) -> None:
    done = run_with(tmp_path, ["promtool", "prometheus", "bwrap"])
    assert done.returncode == 0 and done.stdout == done.stderr == ""


def test_where_it_cannot_install_it_says_what_to_install_in_one_line(tmp_path: Path) -> None:
    done = run_with(tmp_path, ["promtool"])  # no prometheus; no apt-get or brew on PATH
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "make test needs prometheus" in line
    if os.uname().sysname == "Linux":
        assert "bubblewrap" in line
