"""`router serve`'s idle continuation with the judge `[calibration] judge` names, end to end: a
real router on loopback with `--calibrate quick` in front of the socket fake upstream, which
plays `reversed` (the story's reference with its sentences in reverse order: the graders pass
it whole, a judge finds it worse) and the judges of `test_judge` (`rule-judge` passes its
check, `biased-judge` always answers "A" and fails it).

With the rule judge, the check runs as an idle step of its own, the profile's judge line says
it passed, and `reversed`'s story score measured while idle is the one `router calibrate
--judge rule-judge` gives for the same answers (lower than the graders' alone); the judge,
calibrated too, keeps its own samples. With the biased judge, the line says it is not used and
the score is the graders' alone. A client's request pauses the check like any idle step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
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


def test_a_request_arriving_pauses_the_judge_check_which_goes_on_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is an idle step like the others: a client's request cancels it (the judge's
    request upstream closed), and it goes on from the prompts checked at the next idle spell."""
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    models = [*_models(), FakeModel("slow-judge", answer=rule_judge, ttft=0.1)]
    with FakeUpstream(models) as fake:
        config = _config(tmp_path, fake, ["reversed", "slow-judge"], "slow-judge")
        router = RunningRouter(config, "quick")
        router.app.calibration.options = Options(tasks=[TASK])
        router.start()
        try:
            status = lambda: router.app.calibration.status() or {}  # noqa: E731
            checking = {"state": "running", "model": "slow-judge", "task": "judge check"}
            _until(lambda: checking.items() <= status().items(), 30, "the judge check")
            _until(lambda: _judge_requests(fake, "slow-judge") > 12 + 8, 10, "checked prompts")
            _until(lambda: fake.in_flight == 1, 5, "a judge request in flight")
            sdk = openai.OpenAI(base_url=router.base_url, api_key="none", max_retries=0)
            began = time.monotonic()
            sdk.chat.completions.create(
                model="reversed", messages=[{"role": "user", "content": "hi"}], max_tokens=3
            )
            assert time.monotonic() - began < 1.0
            _until(lambda: fake.in_flight == 0, 0.5, "the judge's request closed")
            assert status()["state"] == "paused"
            _until(lambda: status().get("state") == "done", 60, "calibration done")
            profile = load_profile(Path(router.service.active.path or ""))
        finally:
            router.stop()
    assert profile.judge.endswith("; while idle: slow-judge: passed 12/12")
    # quick: 2 x 4 + 2 x 2; idle: 12 x 4 + 12 x 2, and the prompt cut short asked again
    # (those checked before it were not)
    assert 84 < _judge_requests(fake, "slow-judge") <= 84 + 3
