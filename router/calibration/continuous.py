"""`router serve`'s calibration that keeps going: the full suites, one (model, task) at a time,
whenever clients leave the router idle.

After the quick start-up calibration (or from a measured profile found at start), each step
asks every prompt of one task's suite of one model, once no request has come or gone for
`[calibration] idle_seconds` (`router.serving.activity`). A request arriving cancels the step
at once: its request upstream is closed (an in-process model's generation stopped), so no
client waits behind a calibration sample. The answers already graded are kept and the step
goes on from there at the next idle spell. A finished step replaces that pair's score in the
measured profile (`results.task_score`, shrunk toward the prior as a whole run's are), the
file is rewritten atomically and the service switches to it. Pairs already measured with the
current suites (`coverage`) are skipped, so the work survives a restart.

Progress: a log line per step (model, task, n/N, time left), `status()` for `/readyz`, and the
`router_calibration_progress` gauge.

The judge: when `[calibration] judge` is not "off" (the config is the source, as for the
start-up calibration; a profile made by `router calibrate --judge` with the setting off is
continued without one), the judge is checked on the full suites as an idle step of its own
before the first open-ended pair, and the outcome goes into the profile's `judge` line. If it
passed, each step's open-ended answers are graded by it before the pair's score is computed
(`router.calibration.judge.IdleJudge`, as `router calibrate --judge` does); if not, steps are
grader-only. Its requests are not samples of any model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from router.calibration.calibrate import LOAD_ALLOWANCE, Options, _sample
from router.calibration.coverage import Pair, covered, next_pair, pending, task_hashes
from router.calibration.judge import IdleJudge, idle_line, judged_suites, make_judge
from router.calibration.measure import probe
from router.calibration.results import (
    ModelResult,
    Sample,
    build_profile,
    profile_filename,
    put_task_score,
    task_score,
)
from router.calibration.suites import Suite
from router.calibration.trust import code_policy
from router.errors import RouterError
from router.profiles import ModelProfile, Profile, TaskScore, save_profile, shipped_examples
from router.routing.priors import prior_for
from router.serving.catalog import Replica

if TYPE_CHECKING:
    from router.serving.service import Service

log = logging.getLogger("router")
State = Literal["starting", "paused", "running", "done", "stopped"]
PROBE_TIMEOUT = 90.0  # seconds a capability probe may take (+ LOAD_ALLOWANCE the first)
RETRY_AFTER = 300.0  # seconds before a failed step is tried again
_SUFFIX = re.compile(r"; then the full suites while idle: .*$")
T = TypeVar("T")


class Unreachable(RouterError):
    """The model's backend could not be reached: no sample, and no pair of the model for a
    while (the next catalogue refresh marks the backend down)."""


class Step(msgspec.Struct):
    """What one finished step adds to the profile."""

    score: TaskScore
    model: ModelProfile | None  # the model's figures, when the profile had none


class Continuation:
    """Measures the pairs the profile lacks, while the service is idle; `status()` says how
    far it got."""

    def __init__(self, service: Service, suites: list[Suite], idle_seconds: float) -> None:
        self.service = service
        self.suites = {s.task: s for s in suites}
        self.hashes = task_hashes(suites)
        self.idle_seconds = idle_seconds
        self.state: State = "starting"
        self.done = self.total = 0
        self.current: Pair | None = None
        self._left = 0  # prompts still to ask
        self._partial: dict[Pair, list[Sample]] = {}  # answers of steps cut short, kept
        self._probed: dict[str, tuple[Any, list[Any]]] = {}  # new models' capabilities, probes
        self._retry: dict[Pair, float] = {}  # failed steps -> when to try again (monotonic)
        self._seconds = 0.0  # spent asking (for the estimate)
        self._asked = 0
        self._trusted: set[str] = set()  # backends whose code answers may run
        self._examples = shipped_examples()
        self._pending: list[Pair] = []  # the pairs still to measure
        self.judging: IdleJudge | None = None  # the judge, when the config names one

    # ---------------------------------------------------------------- progress

    def eta_seconds(self) -> float | None:
        """Seconds of idle time still needed, from this run's pace; None before a sample."""
        if not self._asked:
            return None
        judging = self.judging.seconds_left(self._pending) if self.judging else 0.0
        return round(self._seconds / self._asked * self._left + judging, 1)

    def status(self) -> dict[str, Any]:
        """For `/readyz`: state, pairs done of all, the estimate, the pair at hand."""
        found: dict[str, Any] = {
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "eta_seconds": self.eta_seconds(),
        }
        if self.current is not None and self.state in ("running", "paused"):
            found["model"], found["task"] = self.current
        return found

    def _count(self, models: list[str], profile: Profile) -> None:
        self.done = covered(models, self.hashes, profile)
        self.total = len(models) * len(self.hashes)
        self._pending = pending(models, self.hashes, profile)
        self._left = sum(
            len(self.suites[task].prompts) - len(self._partial.get((model, task), ()))
            for model, task in self._pending
        )
        gauge = self.service.metrics.calibration_progress
        gauge.set(self.done / self.total if self.total else 1.0)

    # ---------------------------------------------------------------- the loop

    async def run(self, profile: Profile, path: Path) -> None:
        """Measure pair after pair while idle, until every pair is measured; then return. A
        failure (the profile cannot be written) is one logged line, and the end of it."""
        try:
            await self._run(profile, path)
        except RouterError as err:
            self._stop(err.message)
        except OSError as err:
            self._stop(f"{getattr(err, 'filename', None) or path}: {err.strerror or err}")
        except Exception as err:  # a bug here must not reach the server
            self._stop(f"{type(err).__name__}: {err}")

    def _stop(self, why: str) -> None:
        self.state = "stopped"
        log.warning("calibration while idle stopped: %s", why)

    async def _run(self, profile: Profile, path: Path) -> None:
        box, self._trusted = await code_policy(self.service, self._replicas(), warn=False)
        if not box.available:
            self._trusted = set()
        self.judging = self._make_judge()
        self._count(list(self._replicas()), profile)
        if self.done < self.total:
            log.info(
                "calibration goes on while idle (after %g s without requests): %d of %d "
                "(model, task) pairs to measure with the full suites",
                self.idle_seconds,
                self.total - self.done,
                self.total,
            )
        while True:
            replicas = self._replicas()
            self._count(list(replicas), profile)
            cooling = {p for p, when in self._retry.items() if when > time.monotonic()}
            pair = next_pair(list(replicas), self.hashes, profile, cooling)
            if pair is None and not cooling:
                self._finish()
                return
            if pair is None:  # only failed steps left: wait to try them again
                self.current, self.state = None, "paused"
                await asyncio.sleep(min(self._retry[p] for p in cooling) - time.monotonic())
                continue
            if self.judging is not None and self.judging.needs_check(pair[1]):
                await self._check_judge(self.judging)
                continue
            self.current, self.state = pair, "paused"
            await self.service.activity.idle_for(self.idle_seconds)
            self.state = "running"
            step = await self._while_idle(self._step(pair, replicas[pair[0]], profile))
            if step is not None:
                profile, path = await self._land(profile, path, pair, step)

    def _make_judge(self) -> IdleJudge | None:
        """The judge `[calibration] judge` names, when an open-ended task is to be measured;
        one that is unknown or down is a warning, and the steps are grader-only."""
        setting = self.service.config.calibration.judge
        if not judged_suites(list(self.suites.values())):
            return None
        try:
            judge = make_judge(self.service, setting, quick=False, timeout=None)
        except RouterError as err:
            log.warning("calibration while idle grades without a judge: %s", err.message)
            return None
        return None if judge is None else IdleJudge(judge, list(self.suites.values()))

    async def _check_judge(self, judging: IdleJudge) -> None:
        """The judge's check, as a step of its own (resumed after a request cut it short)."""
        self.current, self.state = (judging.id, "judge check"), "paused"
        await self.service.activity.idle_for(self.idle_seconds)
        self.state = "running"
        words = await self._while_idle(judging.check())
        if words is not None:
            then = "its verdicts count" if judging.used else "graded without it"
            log.info("calibration while idle: judge %s; open-ended tasks %s", words, then)

    async def _while_idle(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run one step until it ends or a request arrives (then cancel it: None)."""
        step = asyncio.ensure_future(work)
        arrival = asyncio.ensure_future(self.service.activity.arrival())
        try:
            await asyncio.wait((step, arrival), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()
            if not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await step
        if step.cancelled():
            log.debug("calibration paused: a request came in")
            return None
        try:
            return step.result()
        except Unreachable as err:
            return self._failed(err.message, every_task=True)
        except RouterError as err:
            return self._failed(err.message)
        except Exception as err:  # a step's bug must not end serving, nor the continuation
            return self._failed(f"{type(err).__name__}: {err}")

    def _failed(self, why: str, *, every_task: bool = False) -> None:
        """Try the pair (or every pair of the model) again in RETRY_AFTER seconds."""
        assert self.current is not None
        model, task = self.current
        what = model if every_task else f"{model} on {task}"
        log.warning("calibration of %s failed (%s); tried again in %.0f s", what, why, RETRY_AFTER)
        for again in self.hashes if every_task else (task,):
            self._retry[(model, again)] = time.monotonic() + RETRY_AFTER

    def _finish(self) -> None:
        self.current, self.state = None, "done"
        log.info(
            "calibration complete: %d of %d (model, task) pairs measured with the full suites",
            self.done,
            self.total,
        )

    # ---------------------------------------------------------------- one step

    async def _step(self, pair: Pair, replica: Replica, profile: Profile) -> Step:
        """Every prompt of the task's suite not asked yet; then the pair's new score."""
        model_id, task = pair
        suite = self.suites[task]
        new = profile.model(model_id) is None
        if new and model_id not in self._probed:
            timeout = PROBE_TIMEOUT
            self._probed[model_id] = await probe(replica, timeout, timeout + LOAD_ALLOWANCE)
        samples = self._partial.setdefault(pair, [])
        options = Options(run_code=replica.backend.name in self._trusted, sandbox_warned=True)
        for prompt in suite.prompts[len(samples) :]:
            began = time.perf_counter()
            sample = await _sample(replica, suite, prompt, options)
            if sample.run.failure == "error" and sample.run.status is None:  # not the model's
                raise Unreachable(sample.run.detail)
            samples.append(sample)
            self._seconds += time.perf_counter() - began
            self._asked += 1
            self._left -= 1
        scored = samples if self.judging is None else await self.judging.grade(pair, samples)
        prior = prior_for(task, model_id, replica.card.size_bytes, self._examples)
        score = task_score(model_id, scored, prior)
        score.full_suite = self.hashes[task]
        return Step(score=score, model=self._model_profile(replica, samples) if new else None)

    def _model_profile(self, replica: Replica, samples: list[Sample]) -> ModelProfile:
        """A model new to the profile: its capabilities and speeds from its probes and this
        step's answers."""
        capabilities, probes = self._probed[replica.card.id]
        result = ModelResult(
            id=replica.card.id,
            backend=replica.backend.name,
            kind=replica.backend.kind,
            card=replica.card,
            capabilities=capabilities,
            probes=probes,
            samples=samples,
        )
        return build_profile([result], [], "", {}, self._examples).models[0]

    async def _land(
        self, profile: Profile, path: Path, pair: Pair, step: Step
    ) -> tuple[Profile, Path]:
        """Merge the step into the profile, write it, switch to it, say so."""
        merged = merge(profile, pair[1], step)
        models = list(self._replicas())
        self._partial.pop(pair, None)
        self._retry.pop(pair, None)
        if self.judging is not None:
            self.judging.graded.pop(pair, None)
            if self.judging.used is not None:
                merged.judge = idle_line(profile.judge, self.judging.words)
        self._count(models, merged)
        merged.source = (
            _SUFFIX.sub("", profile.source)
            + f"; then the full suites while idle: {self.done} of {self.total} (model, task) pairs"
        )
        if step.model is not None:  # one file per model set
            path = path.with_name(profile_filename(merged.machine, merged.model_ids()))
        await asyncio.to_thread(save_profile, merged, path)
        self.service.choose_profile(quiet=True)  # problems were said at start-up
        eta = self.eta_seconds()
        log.info(
            "calibration %d/%d: %s on %s, quality %.2f over %d prompts; %s left",
            self.done,
            self.total,
            pair[0],
            pair[1],
            step.score.quality,
            step.score.samples,
            "nothing" if self.done == self.total else _duration(eta),
        )
        return merged, path

    def _replicas(self) -> dict[str, Replica]:
        """Model id -> the replica to measure, for the models with a backend up."""
        catalog = self.service.catalog
        chosen = {}
        for model_id in catalog.ids():
            up = [r for r in catalog.replicas(model_id) if catalog.states[r.backend.name].up]
            if up:
                chosen[model_id] = up[0]
        return chosen


def merge(profile: Profile, task: str, step: Step) -> Profile:
    """A copy of `profile` with the step's score in place of the pair's old one (and the
    model's figures added when it had none), dated now."""
    merged = msgspec.structs.replace(
        profile,
        tasks={t: list(scores) for t, scores in profile.tasks.items()},
        models=[*profile.models, *([step.model] if step.model is not None else [])],
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    put_task_score(merged, task, step.score)
    return merged


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    if seconds < 90:
        return f"~{seconds:.0f} s of idle time"
    return f"~{seconds / 60:.0f} min of idle time"
