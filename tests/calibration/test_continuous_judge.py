"""`router serve`'s idle continuation with the judge `[calibration] judge` names, end to end: a
real router on loopback with `--calibrate quick` in front of the socket fake upstream, which
plays `reversed` (the story's reference with its sentences in reverse order: the graders pass
it whole, a judge finds it worse) and the judges of `test_judge` (`rule-judge` passes its
check, `biased-judge` always answers "A" and fails it).

With the rule judge, the check runs as an idle step of its own, the profile's judge line says
it passed, and `reversed`'s story score measured while idle is the one `router calibrate
--judge rule-judge` gives for the same answers (lower than the graders' alone); the judge,
calibrated too, keeps its own samples. With the biased judge, the line says it is not used and
the score is the graders' alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from router.calibration.calibrate import Options, calibrate
from router.config import load_config
from router.profiles import Profile, TaskScore, load_profile
from tests.calibration.test_judge import _answerer, rule_judge
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

TASK = "story"
PROMPTS = 12  # the story suite's


def _models() -> list[FakeModel]:
    return [
        FakeModel("reversed", answer=_answerer("reversed")),
        FakeModel("rule-judge", answer=rule_judge),
        FakeModel("biased-judge", answer="A"),
    ]


def _config(tmp: Path, fake: FakeUpstream, served: list[str], judge: str) -> Path:
    names = ", ".join(f'"{m}"' for m in served)
    config = tmp / "router.toml"
    config.write_text(
        backend_toml("fake", fake.base_url, f"models = [{names}]")
        + f'[routing]\nprofiles_dir = "{tmp / "profiles"}"\n'
        + f'[calibration]\nidle_seconds = 0.2\njudge = "{judge}"\n'
    )
    return config


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return found


def _serve_until_measured(config: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    """Serve with a quick start-up calibration; the profile once every pair went full."""
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    router = RunningRouter(config, "quick")
    router.app.calibration.options = Options(tasks=[TASK])
    router.start()
    try:
        status = lambda: router.app.calibration.status() or {}  # noqa: E731
        _until(lambda: status().get("state") in ("done", "stopped"), 60, "calibration done")
        assert status()["state"] == "done", status()
        return load_profile(Path(router.service.active.path or ""))
    finally:
        router.stop()


def _score(profile: Profile, model: str) -> TaskScore:
    return next(s for s in profile.tasks[TASK] if s.model == model)


async def _calibrated(config: Path, judge: str, tmp: Path) -> TaskScore:
    """`router calibrate --judge JUDGE` of `reversed` on the full story suite."""
    options = Options(tasks=[TASK], models=["reversed"], judge=judge, out=str(tmp))
    return _score((await calibrate(load_config(str(config)), options)).profile, "reversed")


def _judge_requests(fake: FakeUpstream, judge: str) -> int:
    return sum(
        1
        for r in fake.requests
        if r.json and r.json.get("model") == judge and "Answer A:" in str(r.json["messages"])
    )


async def test_a_judge_that_passes_grades_the_pairs_measured_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeUpstream(_models()) as fake:
        config = _config(tmp_path, fake, ["reversed", "rule-judge"], "rule-judge")
        profile = _serve_until_measured(config, monkeypatch)
        # the quick start-up run checked it on 2 prompts, the idle continuation on all 12
        assert profile.judge == "rule-judge: passed 2/2; while idle: rule-judge: passed 12/12"
        idle = _score(profile, "reversed")
        assert idle.full_suite and idle.samples == PROMPTS
        # the judge, calibrated too: its requests are not its samples
        assert _score(profile, "rule-judge").samples == PROMPTS
        # the quick check (2 prompts x 4) and grading (2 answers x 2); the idle check (12 x 4)
        # and grading (12 x 2): only `reversed`'s answers (the judge's own story scored 0)
        assert _judge_requests(fake, "rule-judge") == 8 + 4 + 48 + 24
        judged = await _calibrated(config, "rule-judge", tmp_path / "judged")
        plain = await _calibrated(config, "off", tmp_path / "plain")
    assert (idle.measured, idle.quality) == (judged.measured, judged.quality)
    assert idle.measured is not None and plain.measured is not None
    assert idle.measured < plain.measured


async def test_a_judge_that_fails_its_check_is_not_used_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeUpstream(_models()) as fake:
        config = _config(tmp_path, fake, ["reversed", "biased-judge"], "biased-judge")
        profile = _serve_until_measured(config, monkeypatch)
        plain = await _calibrated(config, "off", tmp_path / "plain")
    assert profile.judge.endswith(
        "; while idle: not used: biased-judge preferred the echo on 12/12, "
        "preferred the off-topic answer on 12/12"
    )
    idle = _score(profile, "reversed")
    assert idle.full_suite and (idle.measured, idle.quality) == (plain.measured, plain.quality)
