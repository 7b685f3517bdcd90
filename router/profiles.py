"""Profiles: what the router knows of each model on this machine, task by task.

A profile is one TOML file per machine and model set (`profiles/<machine>-<hash>.toml`),
written by `router calibrate` (kind `measured`), shipped as an example built from published
figures (kind `example`), or made up from model sizes when nothing better is known (kind
`prior`). It is human-readable and diffable: the machine, the versions, the suite's hash, per
model its measurements and capabilities, and per task the models ranked with quality, latency
and failure rate. Files are replaced atomically: a crash mid-write leaves the old one.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import tempfile
import time
from pathlib import Path
from typing import Literal

import msgspec

from router.errors import ConfigError, split_validation
from router.paths import example_profiles

SCHEMA_VERSION = 1
ProfileKind = Literal["measured", "example", "prior"]


class Machine(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    chip: str = ""
    memory_bytes: int = 0
    os: str = ""


class Failures(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Failed answers by kind, over all the prompts a model was given."""

    error: int = 0
    timeout: int = 0
    crash: int = 0
    loop: int = 0
    wrong_language: int = 0
    empty: int = 0
    leaked_reasoning: int = 0

    def total(self) -> int:
        return sum(msgspec.structs.astuple(self))


class Capabilities(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """What the model was seen to do (None: not checked)."""

    json_schema: bool | None = None
    tools: bool | None = None
    stop: bool | None = None
    include_usage: bool | None = None
    vision: bool | None = None


class ModelProfile(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    id: str
    backend: str = ""
    params_billions: float | None = None
    size_bytes: int | None = None
    context_length: int | None = None
    load_seconds: float | None = None
    ttft_seconds: float | None = None  # p50 time to first token
    decode_tokens_per_s: float | None = None
    prompt_tokens_per_s: float | None = None
    e2e_p50_seconds: float | None = None
    e2e_p95_seconds: float | None = None
    peak_memory_bytes: int | None = None
    requests: int = 0
    failures: Failures = msgspec.field(default_factory=Failures)
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)
    notes: str = ""  # observations in words, e.g. from the seed's comparison


class TaskScore(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One model on one task: how good, how fast, how often it failed, and how sure we are.

    In a measured profile `quality` is the mean grade `measured` over `samples` answers shrunk
    toward `prior` by the prior's strength (`routing.priors`): what routing uses. An example
    profile's `quality` is a judgement, with no measurement."""

    model: str
    quality: float  # 0..1: what the policy uses (see above)
    latency_seconds: float | None = None  # p50 end to end on the task's prompts
    failure_rate: float = 0.0  # share of answers that failed a hard grader or errored
    samples: int = 0  # answers graded
    notes: str = ""
    measured: float | None = None  # 0..1, the mean grade over the samples, before shrinkage
    interval: list[float] = []  # [low, high]: the 95% interval of `measured` (Wilson)
    prior: float | None = None  # the quality believed before measuring
    prior_from: str = ""  # where the prior came from: "example" (a shipped profile) or "size"

    def confidence(self) -> str:
        """How far to trust `quality`, in words: `measured 0.05 (0.00-0.66, n=2), prior 0.90
        (example)`; `(n samples)` for a score without a measurement."""
        if self.measured is None:
            return f"({self.samples} samples)" if self.samples else ""
        low_high = self.interval if len(self.interval) == 2 else None
        span = f"{low_high[0]:.2f}-{low_high[1]:.2f}, " if low_high else ""
        prior = f", prior {self.prior:.2f} ({self.prior_from})" if self.prior is not None else ""
        return f"measured {self.measured:.2f} ({span}n={self.samples}){prior}"

    # the hash of the task's suite when every prompt of it was asked ("": a quick run): serve's
    # idle continuation skips the pairs measured so with the current suites
    full_suite: str = ""


class Profile(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True, kw_only=True):
    schema_version: int  # always written; SCHEMA_VERSION for profiles this router writes
    kind: ProfileKind = "measured"
    created: str = ""  # ISO 8601
    source: str = ""  # how it was made, in words
    machine: Machine = msgspec.field(default_factory=Machine)
    router_version: str = ""
    backend_versions: dict[str, str] = {}
    suite_hash: str = ""
    models: list[ModelProfile] = []
    tasks: dict[str, list[TaskScore]] = {}  # task -> models, best first
    code_checks: str = ""  # were code answers run? "sandboxed: bubblewrap", "skipped: ..."
    judge: str = ""  # the LLM judge: "<model>: passed 8/8", "not used: <why>"; "": none asked

    def model(self, model_id: str) -> ModelProfile | None:
        return next((m for m in self.models if m.id == model_id), None)

    def model_ids(self) -> set[str]:
        return {m.id for m in self.models}


def this_machine() -> Machine:
    """The machine the router runs on: chip, memory, OS."""
    import psutil

    chip = platform.processor() or platform.machine()
    if platform.system() == "Darwin":
        chip = _sysctl("machdep.cpu.brand_string") or chip
    else:
        chip = _cpu_model() or chip
    os_name = f"{platform.system()} {platform.release()}".strip()
    return Machine(chip=chip, memory_bytes=psutil.virtual_memory().total, os=os_name)


def _sysctl(key: str) -> str:
    import subprocess

    try:
        out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=2)
    except OSError:
        return ""
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else ""


def load_profile(path: Path) -> Profile:
    """Read a profile; a bad file is a one-line ConfigError naming it and the key."""
    try:
        text = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read profile: {err.strerror or err}") from None
    try:
        profile = msgspec.toml.decode(text, type=Profile)
    except msgspec.ValidationError as err:
        problem, key = split_validation(err)
        raise ConfigError(f"{path}: {key or 'profile'}: {problem}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if profile.schema_version > SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: schema_version {profile.schema_version} is newer than this router reads "
            f"({SCHEMA_VERSION}); upgrade router"
        )
    return profile


def encode_profile(profile: Profile) -> bytes:
    header = b"# router profile: written by router; safe to read, diff and edit by hand.\n"
    return header + msgspec.toml.encode(profile)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a profile is for all to read
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# what `write_atomically` leaves when killed mid-write: `.<name>.` and mkstemp's 8 characters
_TEMP_NAME = re.compile(r"\..+\.(toml|md|svg)\.[a-z0-9_]{8}")


def remove_stale_temp_files(folder: Path, older_than: float = 60.0) -> list[Path]:
    """Delete the temp files of interrupted writes in `folder` (only names `write_atomically`
    makes, and only ones older than `older_than` seconds: a write may be going on now)."""
    removed = []
    cutoff = time.time() - older_than
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            if not _TEMP_NAME.fullmatch(path.name):
                continue
            with contextlib.suppress(OSError):
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_profile(profile: Profile, path: Path) -> None:
    write_atomically(path, encode_profile(profile))


def covers(profile: Profile, model_ids: set[str]) -> float:
    """The share of `model_ids` the profile has measurements for (0 when there are none)."""
    if not model_ids:
        return 0.0
    return len(model_ids & profile.model_ids()) / len(model_ids)


class ActiveProfile(msgspec.Struct, frozen=True):
    """The profile routing uses now, where it came from, and how well it fits."""

    profile: Profile | None
    path: str | None
    how: str  # "measured", "measured elsewhere", "example", "partial", "none: size priors"
    problems: list[str] = []  # profile files that could not be read, one line each

    def describe(self) -> str:
        where = f" ({self.path})" if self.path else ""
        return f"profile: {self.how}{where}"


def select_profile(
    explicit: str | None, profiles_dir: Path, model_ids: set[str], machine: Machine
) -> ActiveProfile:
    """The best profile for these models on this machine.

    An explicit file wins. Else the measured profile in `profiles_dir` covering the most of the
    current models (on this machine: `measured`; elsewhere: `measured elsewhere`); else the
    shipped example with the most models in common (`example`); else none (size priors).
    """
    if explicit:
        path = Path(explicit).expanduser()
        return ActiveProfile(load_profile(path), str(path), "configured")
    problems: list[str] = []
    measured = _readable(sorted(profiles_dir.glob("*.toml")), problems)
    best = _best(measured, model_ids)
    if best is not None:
        path, profile = best
        full = covers(profile, model_ids) == 1.0
        same = profile.machine.chip == machine.chip
        how = "measured" if full and same else ("measured elsewhere" if full else "partial")
        return ActiveProfile(profile, str(path), how, problems)
    example = _best(_readable(sorted(example_profiles().glob("*.toml")), problems), model_ids)
    if example is not None:
        return ActiveProfile(example[1], str(example[0]), "example", problems)
    return ActiveProfile(None, None, "none: size priors", problems)


def shipped_examples() -> list[Profile]:
    """The example profiles shipped with the router that can be read, by file name: the prior
    a calibration shrinks its measurements toward (`routing.priors`)."""
    return [p for _, p in _readable(sorted(example_profiles().glob("*.toml")), [])]


def _readable(paths: list[Path], problems: list[str]) -> list[tuple[Path, Profile]]:
    found = []
    for path in paths:
        try:
            found.append((path, load_profile(path)))
        except ConfigError as err:
            problems.append(err.message)
    return found


def _best(found: list[tuple[Path, Profile]], model_ids: set[str]) -> tuple[Path, Profile] | None:
    """The profile covering most of `model_ids` (newest first on ties); None if none covers any."""
    ranked = sorted(found, key=lambda pp: (covers(pp[1], model_ids), pp[1].created), reverse=True)
    if not ranked or covers(ranked[0][1], model_ids) == 0:
        return None
    return ranked[0]
