"""The wheel carries the router's run-time data: installed from `pip wheel .` and run from
another folder, it classifies, routes and finds its suites and example profiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from router.profiles import load_profile
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "router").rglob("*.py")
        if init.parent.name != "__pycache__"
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed (without dependencies) into a folder."""
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        cwd=out,
        capture_output=True,
    )
    (wheel,) = out.glob("router-*.whl")
    target = out / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    names = zipfile.ZipFile(wheel).namelist()
    assert "router/data/classify/train.jsonl" in names
    assert "router/data/profiles/m4-mac-mini-24gb.toml" in names
    return target


def _run(site: Path, cwd: Path, code: str) -> str:
    # Only the installed copy of `router` is importable: the checkout is neither the working
    # directory nor on the path (the dependencies still come from this environment).
    env = {**os.environ, "PYTHONPATH": str(site), "ROUTER_CACHE_DIR": str(cwd / "cache")}
    env.pop("ROUTER_CLASSIFY_DATA", None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_installed_wheel_classifies_routes_and_finds_its_data(
    installed: Path, tmp_path: Path
) -> None:
    code = """
import json, router
from router.routing.classifier_cache import load_default_classifier
from router.paths import example_profiles
from router.calibration.suites import load_suites
c = load_default_classifier().classify([{"role": "user", "content": "Translate into French: hi"}])
print(json.dumps({"file": router.__file__, "task": c.task,
                  "suites": sorted(s.task for s in load_suites()),
                  "examples": sorted(p.name for p in example_profiles().glob("*.toml"))}))
"""
    seen = json.loads(_run(installed, tmp_path, code))
    assert seen["file"].startswith(str(installed))
    assert seen["task"] == "translate"
    assert len(seen["suites"]) == 8 and "code" in seen["suites"]
    assert seen["examples"] == ["m4-mac-mini-24gb.toml"]


def test_installed_wheel_routes_from_the_command_line(installed: Path, tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(
        '[[backends]]\nname = "lab"\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'models = ["writer-7b"]\n'
    )
    code = (
        "import sys; from router.cli import main; "
        "sys.exit(main(['route', '--json', '--config', 'router.toml', "
        "'Summarize this article in two lines: the council voted to build housing.']))"
    )
    seen = json.loads(_run(installed, tmp_path, code))
    assert (seen["task"], seen["model"]) == ("summarize", "writer-7b")


def test_installed_wheel_calibrates(installed: Path, tmp_path: Path, fake: FakeUpstream) -> None:
    """`router calibrate` from the wheel finds its suites and writes a measured profile."""
    (tmp_path / "router.toml").write_text(
        f'[[backends]]\nname = "lab"\nkind = "openai"\nbase_url = "{fake.base_url}"\n'
        'models = ["fast-model"]\n'
    )
    code = (
        "import sys; from router.cli import main; sys.exit(main(['calibrate', '--config', "
        "'router.toml', '--quick', '--tasks', 'qa', '--out', 'measured']))"
    )
    _run(installed, tmp_path, code)
    (written,) = (tmp_path / "measured").glob("*.toml")
    profile = load_profile(written)
    assert profile.kind == "measured"
    assert [score.model for score in profile.tasks["qa"]] == ["fast-model"]
