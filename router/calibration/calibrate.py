"""`router calibrate`: benchmark the served models on the task suites and write a profile.

For each model (one at a time, one request at a time, so timings are the model's own): the
capability probes first (the first request also loads an in-process model), then every task's
prompts (`--quick`: the quick prompt of each language, answers capped at a few tokens), each
streamed straight to the model's backend and timed (`router.calibration.measure`), each answer
graded by
its suite (`suites.grade_prompt`, in a worker thread: the code grader runs a subprocess). A
failing model is measured as failing; nothing a model does stops the run.

The result is a `measured` profile (`router.profiles`): per model its speeds, failures by kind
and capabilities; per task the models ranked by quality, then latency. It is written
atomically as `<machine>-<hash of the model ids>.toml` in `--out` (default: the config's
`[routing] profiles_dir`), where the next `router serve` finds it. `run_background_calibration`
does the same inside a running server that has no measured profile, then switches to it.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import msgspec

from router.calibration.coverage import mark_full, task_hashes
from router.calibration.judge import STEPS, judge_results, make_judge
from router.calibration.measure import PROBES, probe, timed_stream
from router.calibration.results import (
    FAILURE_KINDS,
    ModelResult,
    Sample,
    build_profile,
    profile_filename,
)
from router.calibration.suites import SUITES_DIR, Prompt, Suite, grade_prompt, load_suites
from router.calibration.trust import code_checks, code_policy
from router.config import LoadedConfig
from router.errors import ConfigError, RouterError
from router.grading.graders import FATAL, Grade
from router.profiles import Profile, save_profile
from router.serving.catalog import Replica

if TYPE_CHECKING:
    from router.calibration.report import Progress
    from router.serving.service import Service

log = logging.getLogger("router")

QUICK_MAX_TOKENS = 64  # `--quick`: enough to judge language, loops, the start of an answer
LOAD_ALLOWANCE = 300.0  # extra seconds the first request of a model may take (loading it)
BACKGROUND_DELAY = 5.0  # `router serve`: let start-up finish before calibrating


class Options(msgspec.Struct, kw_only=True, frozen=True):
    """What to calibrate and how (the command line's options)."""

    models: list[str] | None = None  # None: every model in the catalogue
    tasks: list[str] | None = None  # None: every suite
    quick: bool = False
    out: str | None = None  # None: the config's [routing] profiles_dir
    timeout: float | None = None  # per request; None: 30 s + 0.5 s per token, +300 s the first
    quick_max_tokens: int = QUICK_MAX_TOKENS
    suites_dir: str = str(SUITES_DIR)
    yield_to_clients: bool = False  # wait while clients are using the model (background)
    run_code: bool = False  # run code answers (in the sandbox): set per model, see code_policy
    sandbox_warned: bool = False  # the missing sandbox was said at start-up (background)
    judge: str | None = None  # "off", "auto" or a model id; None: the config's [calibration]


class Result(msgspec.Struct, kw_only=True):
    profile: Profile
    path: Path
    seconds: float


# ---------------------------------------------------------------- entry points


async def calibrate(
    loaded: LoadedConfig, options: Options, progress: Progress | None = None
) -> Result:
    """Start the configured backends, calibrate, write the profile, stop."""
    from router.serving.service import Service

    service = Service(loaded)
    await service.start()
    try:
        return await calibrate_service(service, options, progress)
    finally:
        await service.stop()


async def calibrate_service(
    service: Service, options: Options, progress: Progress | None = None
) -> Result:
    """Calibrate the models a started Service serves; write and return the profile."""
    started = time.perf_counter()
    suites = select_suites(options)
    replicas = select_models(service, options.models)
    setting = service.config.calibration.judge if options.judge is None else options.judge
    judge = make_judge(service, setting, options.quick, options.timeout)
    out_dir = writable_dir(Path(options.out or service.config.routing.profiles_dir))
    box, trusted = await code_policy(service, replicas, warn=not options.sandbox_warned)
    if progress is not None:
        progress.plan(list(replicas), [s.task for s in suites], extra=STEPS if judge else 0)
    results = []
    for index, (model_id, replica) in enumerate(replicas.items()):
        run_code = box.available and replica.backend.name in trusted
        model_options = msgspec.structs.replace(options, run_code=run_code)
        results.append(
            await _measure_model(
                model_id, replica, suites, model_options, progress, index * (len(suites) + 1)
            )
        )
    step = len(replicas) * (len(suites) + 1)
    judged = "" if judge is None else await judge_results(judge, results, suites, progress, step)
    seconds = time.perf_counter() - started
    profile = build_profile(
        results,
        suites,
        _source(options, suites, len(results), seconds),
        backend_versions(service, results),
    )
    profile.code_checks = code_checks(box, {r.backend.name for r in replicas.values()} - trusted)
    if not options.quick:  # every prompt asked: serve's idle continuation skips these pairs
        mark_full(profile, task_hashes(suites))
    profile.judge = judged
    path = out_dir / profile_filename(profile.machine, profile.model_ids())
    try:
        save_profile(profile, path)
    except OSError as err:
        raise RouterError(f"{path}: cannot write the profile: {err.strerror or err}") from None
    return Result(profile=profile, path=path, seconds=seconds)


async def run_background_calibration(
    service: Service,
    mode: Literal["quick", "full"],
    delay: float | None = None,
    *,
    sandbox_warned: bool = False,
    options: Options | None = None,
) -> None:
    """`router serve` without a measured profile: calibrate while serving, then switch.

    Logs one line when it starts and one when it ends; a failure is one logged line and never
    reaches the server. Requests are served meanwhile (the calibration waits while clients
    use a model), from the prior or example profile until the new one is written.
    `sandbox_warned`: the missing sandbox was said at start-up (not said again); `options`:
    which suites (default: all).
    """
    await asyncio.sleep(BACKGROUND_DELAY if delay is None else delay)
    ids = list(service.catalog.ids())
    if not ids:
        log.info("calibration skipped: no model to calibrate")
        return
    log.info("calibrating %d model(s) in the background (%s): %s", len(ids), mode, ", ".join(ids))
    options = msgspec.structs.replace(
        options or Options(),
        quick=mode == "quick",
        yield_to_clients=True,
        sandbox_warned=sandbox_warned,
    )
    try:
        result = await calibrate_service(service, options)
    except asyncio.CancelledError:
        raise
    except RouterError as err:
        log.warning("background calibration failed: %s", err.message)
        return
    except Exception as err:
        log.warning("background calibration failed: %s: %s", type(err).__name__, err)
        return
    service.choose_profile()
    log.info(
        "calibration done in %.0f s: wrote %s; now routing by %s",
        result.seconds,
        result.path,
        service.active.describe(),
    )


# ---------------------------------------------------------------- what to calibrate


def select_suites(options: Options) -> list[Suite]:
    """The suites of the asked tasks (all by default); unknown tasks are one-line errors."""
    folder = Path(options.suites_dir)
    if options.tasks is not None:
        known = sorted(p.stem for p in folder.glob("*.toml"))
        unknown = [t for t in options.tasks if t not in known]
        if unknown:
            raise ConfigError(
                f"unknown task {', '.join(map(repr, unknown))} "
                f"(tasks with a suite: {', '.join(known)})"
            )
        if not options.tasks:
            raise ConfigError("--tasks: name at least one task")
    return load_suites(folder, options.tasks)


def select_models(service: Service, wanted: list[str] | None) -> dict[str, Replica]:
    """Model id -> the replica to measure; models only on backends that are down are left
    out with a warning. No model, or an unknown id, is a one-line error."""
    catalog = service.catalog
    known = list(catalog.ids())
    if not known:
        raise ConfigError(
            "no models to calibrate: configure a backend, or start LM Studio, Ollama or llama.cpp"
        )
    if wanted is not None:
        unknown = [m for m in wanted if m not in known]
        if unknown or not wanted:
            raise ConfigError(
                f"unknown model {', '.join(map(repr, unknown))} (known: {', '.join(known)})"
            )
    chosen: dict[str, Replica] = {}
    for model_id in dict.fromkeys(wanted or known):
        up = [r for r in catalog.replicas(model_id) if catalog.states[r.backend.name].up]
        if up:
            chosen[model_id] = up[0]
        else:
            log.warning("skipping %s: its backend is down", model_id)
    if not chosen:
        raise RouterError("no model to calibrate: every backend serving them is down")
    return chosen


def writable_dir(folder: Path) -> Path:
    """The output folder, created if needed, checked writable before any measuring."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ConfigError(f"{folder}: cannot write profiles there: {err.strerror or err}") from None
    return folder


# ---------------------------------------------------------------- measuring


def _timeout(options: Options, max_tokens: int) -> float:
    return options.timeout or 30.0 + 0.5 * max_tokens


async def _idle(replica: Replica, options: Options, patience: float = 60.0) -> None:
    """In the background, let clients' requests to this model go first (up to `patience`)."""
    deadline = time.monotonic() + patience
    while options.yield_to_clients and replica.outstanding and time.monotonic() < deadline:
        await asyncio.sleep(0.25)


async def _measure_model(
    model_id: str,
    replica: Replica,
    suites: list[Suite],
    options: Options,
    progress: Progress | None,
    step: int,
) -> ModelResult:
    """The capability probes, then every suite, each a progress step."""
    if progress is not None:
        progress.begin(step + 1, model_id, "capabilities", len(PROBES))
    await _idle(replica, options)
    timeout = _timeout(options, 60)
    first = timeout if options.timeout else timeout + LOAD_ALLOWANCE  # it may load the model
    tick = None if progress is None else (lambda n: progress.advance(n, 0))
    capabilities, probes = await probe(replica, timeout, first, tick)
    if progress is not None:
        progress.end(len(PROBES), 0)
    samples: list[Sample] = []
    for offset, suite in enumerate(suites, start=2):
        if progress is not None:
            progress.begin(step + offset, model_id, suite.task, len(_prompts(suite, options)))
        samples += await _measure_task(replica, suite, options, progress)
    return ModelResult(
        id=model_id,
        backend=replica.backend.name,
        kind=replica.backend.kind,
        card=replica.card,
        capabilities=capabilities,
        probes=probes,
        samples=samples,
    )


def _prompts(suite: Suite, options: Options) -> list[Prompt]:
    return suite.quick() if options.quick else suite.prompts


async def _measure_task(
    replica: Replica, suite: Suite, options: Options, progress: Progress | None
) -> list[Sample]:
    samples: list[Sample] = []
    for prompt in _prompts(suite, options):
        await _idle(replica, options)
        samples.append(await _sample(replica, suite, prompt, options))
        if progress is not None:
            progress.advance(len(samples), sum(s.failed for s in samples))
    if progress is not None:
        progress.end(len(samples), sum(s.failed for s in samples))
    return samples


async def _sample(replica: Replica, suite: Suite, prompt: Prompt, options: Options) -> Sample:
    """Ask one prompt, time the answer, grade it (code answers run only with `run_code`)."""
    max_tokens = (
        min(prompt.max_tokens, options.quick_max_tokens) if options.quick else prompt.max_tokens
    )
    body = {"messages": prompt.to_messages(), "max_tokens": max_tokens}
    run = await timed_stream(replica, body, _timeout(options, max_tokens))
    if run.failure is not None:
        return Sample(
            task=suite.task,
            prompt_id=prompt.id,
            lang=prompt.lang,
            run=run,
            quality=0.0,
            kinds=[run.failure],
            failed=True,
        )
    cut = options.quick and run.finish_reason == "length" and max_tokens < prompt.max_tokens
    if cut:
        graded = await asyncio.to_thread(grade_prefix, suite, prompt, run.text)
    else:
        graded = await asyncio.to_thread(grade_prompt, suite, prompt, run.text, options.run_code)
    kinds = [k for k in graded.failures if k in FAILURE_KINDS]
    failed = bool(FATAL.intersection(graded.failures)) or bool(kinds)
    return Sample(
        task=suite.task,
        prompt_id=prompt.id,
        lang=prompt.lang,
        run=run,
        quality=graded.quality,
        kinds=kinds,
        failed=failed,
    )


def grade_prefix(suite: Suite, prompt: Prompt, answer: str) -> Grade:
    """Grade an answer `--quick` cut short on what its beginning shows: the gates, forbidden
    phrases, a first fact, not a copy, the mail's opening, chrF against the reference's
    beginning...; minimum lengths, closings, JSON and the code's run need it all
    (`graders.run_spec`)."""
    return grade_prompt(suite, prompt, answer, run_code=False, prefix=True)


def _source(options: Options, suites: list[Suite], models: int, seconds: float) -> str:
    """How the profile was made, in words (the profile's `source`)."""
    prompts = sum(len(_prompts(s, options)) for s in suites)
    how = (
        f"quick: the quick prompt per language, answers capped at {options.quick_max_tokens}"
        " tokens and those cut short judged on what their beginning shows"
        if options.quick
        else "full: every prompt"
    )
    return (
        f"router calibrate ({how}); {len(suites)} tasks, {prompts} prompts per model, "
        f"{models} models, {seconds:.0f} s"
    )


def backend_versions(service: Service, results: list[ModelResult]) -> dict[str, str]:
    """Per backend measured: the runtime and its version, or the server it talks to."""
    used = {r.backend for r in results}
    versions = {}
    for backend in service.catalog.backends:
        if backend.name not in used:
            continue
        if backend.kind == "mlx":
            versions[backend.name] = f"mlx-lm {_version('mlx-lm')}, mlx {_version('mlx')}"
        else:
            host = urlsplit(getattr(backend, "base_url", "")).netloc
            versions[backend.name] = f"openai-compatible {host}".strip()
    return versions


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"
