"""A calibration's scores carry their confidence, and few samples do not erase the prior.

Issue 14's case: six models with the example profile's ids, playing its speeds (ten times
faster, so the test is quick), all give the same non-answer (an off-topic paragraph in the
language the answer should be in). A quick calibration (two prompts a task) cannot tell them
apart, so the example's order must stand: business mail -> gemma-3-12b, a quick summary ->
lfm2.5-1.2b (the `balanced` policy weighs its speed). A full run of one task moves the scores
three quarters of the way to what it measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.calibration.measure import Run
from router.calibration.results import Sample, put_task_score, ranked, task_score
from router.calibration.suites import load_suites
from router.cli import main
from router.profiles import Profile, TaskScore, load_profile, shipped_examples
from router.routing.priors import prior_for, size_prior
from tests.conftest import backend_toml
from tests.fakes.answers import answer, by_last_user_message
from tests.fakes.upstream import FakeModel, FakeUpstream

EXAMPLE = shipped_examples()[0]
SPEEDUP = 10.0
GEMMA, LFM = "google/gemma-3-12b", "liquid/lfm2.5-1.2b"
TASKS = ["summarize", "business_mail"]
_PROMPTS = by_last_user_message(load_suites())


def non_answer(body: dict) -> str:
    """Every model's answer: off topic for the suites; plausible for the capability probes."""
    last = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    if last in _PROMPTS:
        return answer(*_PROMPTS[last], "off_topic")
    return '{"city": "Tokyo", "population": 14000000}' if body.get("response_format") else "1, 2"


def example_models(ids: list[str] | None = None) -> list[FakeModel]:
    """The example profile's models at its speeds, `SPEEDUP` times faster."""
    return [
        FakeModel(
            m.id,
            answer=non_answer,
            ttft=(m.ttft_seconds or 0.5) / SPEEDUP,
            tokens_per_s=(m.decode_tokens_per_s or 20.0) * SPEEDUP,
        )
        for m in EXAMPLE.models
        if ids is None or m.id in ids
    ]


def _calibrate(tmp: Path, models: list[FakeModel], *args: str) -> Iterator[tuple[Path, Profile]]:
    with FakeUpstream(models) as fake:
        names = ", ".join(f'"{m.id}"' for m in models)
        config = tmp / "router.toml"
        config.write_text(
            backend_toml("lmstudio", fake.base_url, f"models = [{names}]")
            + f'[routing]\nprofiles_dir = "{tmp / "out"}"\n'
        )
        run = subprocess.run(
            [sys.executable, "-m", "router", "calibrate", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ROUTER_CONFIG": ""},
        )
        assert run.returncode == 0, run.stderr
        yield config, load_profile(next((tmp / "out").glob("*.toml")))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Profile]]:
    """A quick calibration of the six look-alikes (the upstream stays up for `router route`)."""
    tmp = tmp_path_factory.mktemp("prior-kept")
    report = str(tmp / "report.md")
    yield from _calibrate(
        tmp, example_models(), "--quick", "--tasks", ",".join(TASKS), "--report", report
    )


def _example_quality(task: str, model: str) -> float:
    return next(s.quality for s in EXAMPLE.tasks[task] if s.model == model)


def test_quick_scores_are_measured_shrunk_and_carry_their_confidence(
    quick: tuple[Path, Profile],
) -> None:
    _, profile = quick
    for task in TASKS:
        measured = {s.measured for s in profile.tasks[task]}
        assert len(measured) == 1 and measured.pop() <= 0.25  # the models cannot be told apart
        for s in profile.tasks[task]:
            assert s.samples == 2 and s.prior_from == "example"
            assert s.prior == _example_quality(task, s.model)
            assert s.measured is not None and s.interval[0] <= s.measured <= s.interval[1]
            assert s.interval[1] - s.interval[0] > 0.3  # two answers say little
            # a third of the way from the prior to the measurement (prior strength 4, n = 2)
            assert s.quality == pytest.approx((2 * s.measured + 4 * s.prior) / 6, abs=1e-3)


def test_quick_calibration_keeps_the_examples_order(quick: tuple[Path, Profile]) -> None:
    _, profile = quick
    for task in TASKS:
        priors = [_example_quality(task, s.model) for s in profile.tasks[task]]
        assert priors == sorted(priors, reverse=True), (task, profile.tasks[task])


def _routed(config: Path, task: str, capsys: pytest.CaptureFixture[str]) -> dict:
    text = "Please handle this for me: the quarterly numbers are in, see the memo."
    assert main(["route", "--config", str(config), "--json", "--task", task, text]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("task", "chosen"), [("business_mail", GEMMA), ("summarize", LFM)])
def test_router_route_still_picks_as_the_example_does(
    quick: tuple[Path, Profile], capsys: pytest.CaptureFixture[str], task: str, chosen: str
) -> None:
    config, _ = quick  # the fake upstream is still up: the fixture yields inside it
    report = _routed(config, task, capsys)
    assert report["model"] == chosen, report
    assert report["profile"].startswith("profile: measured")
    first = report["candidates"][0]
    assert first["samples"] == 2 and first["prior_from"] == "example"
    assert first["prior"] == _example_quality(task, chosen)
    assert first["measured"] <= 0.25 and len(first["interval"]) == 2
    assert first["quality"] > first["measured"]


def test_profiles_command_shows_quality_measured_interval_and_prior(
    quick: tuple[Path, Profile], capsys: pytest.CaptureFixture[str]
) -> None:
    config, profile = quick
    path = next((config.parent / "out").glob("*.toml"))
    assert main(["profiles", str(path)]) == 0
    mail = capsys.readouterr().out.split("\nbusiness_mail\n")[1].splitlines()[0]
    s = profile.tasks["business_mail"][0]
    assert mail.split()[:2] == ["1.", GEMMA], mail
    assert f"quality {s.quality:.2f}" in mail and f"measured {s.measured:.2f}" in mail
    assert f"({s.interval[0]:.2f}-{s.interval[1]:.2f}, n=2), prior 0.90 (example)" in mail
    assert main(["profiles", "--json", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)["profile"]["tasks"]["business_mail"][0]
    assert {"quality", "measured", "samples", "interval", "prior", "prior_from"} <= set(shown)


def test_the_report_says_how_far_to_trust_each_score(quick: tuple[Path, Profile]) -> None:
    config, profile = quick
    report = (config.parent / "report.md").read_text()
    mail = report.split("### business_mail")[1].split("###")[0]
    first = next(line for line in mail.splitlines() if line.startswith("| 1 |"))
    assert GEMMA in first and profile.tasks["business_mail"][0].confidence() in first


def test_a_full_run_moves_the_score_most_of_the_way(tmp_path: Path) -> None:
    models = example_models([GEMMA, LFM])
    ((_, profile),) = _calibrate(tmp_path, models, "--tasks", "business_mail")
    for s in profile.tasks["business_mail"]:
        assert s.samples == 12 and s.prior_from == "example" and s.measured is not None
        assert s.prior is not None and s.prior - s.measured > 0.2
        moved = (s.prior - s.quality) / (s.prior - s.measured)
        assert moved == pytest.approx(12 / 16, abs=0.01)  # three quarters of the way
        assert s.interval[1] - s.interval[0] < 0.35


# ---------------------------------------------------------------- task_score, for merging


def _score(model: str, quality: float, latency: float = 1.0) -> TaskScore:
    return TaskScore(model, quality, latency)


def test_put_task_score_replaces_the_models_score_and_keeps_the_ranking() -> None:
    profile = Profile(schema_version=1, tasks={"qa": ranked([_score("a", 0.9), _score("b", 0.5)])})
    put_task_score(profile, "qa", _score("b", 0.95))
    put_task_score(profile, "qa", _score("c", 0.1))
    put_task_score(profile, "story", _score("a", 0.3))
    assert [(s.model, s.quality) for s in profile.tasks["qa"]] == [
        ("b", 0.95),
        ("a", 0.9),
        ("c", 0.1),
    ]
    assert [s.model for s in profile.tasks["story"]] == ["a"]


def test_unknown_ids_shrink_toward_the_size_prior() -> None:
    prior = prior_for("qa", "someone/new-model", None, shipped_examples())
    assert prior.source == "size" and prior.quality == size_prior(None)


def test_old_profiles_without_confidence_still_load(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text('schema_version = 1\n[[tasks.qa]]\nmodel = "m"\nquality = 0.5\nsamples = 3\n')
    score = load_profile(old).tasks["qa"][0]
    assert score.measured is None and score.interval == [] and score.prior is None
    assert score.confidence() == "(3 samples)"


def _sample(grade: float, failed: bool = False) -> Sample:
    run = Run(text="x", e2e=1.0, failure="crash" if failed else None)
    return Sample(
        task="qa", prompt_id="p", lang="en", run=run, quality=grade, kinds=[], failed=failed
    )


def test_task_score_from_samples_and_a_prior() -> None:
    prior = prior_for("business_mail", GEMMA, None, shipped_examples())
    quick = task_score(GEMMA, [_sample(0.0), _sample(0.3, failed=True)], prior)
    assert quick.measured == 0.15 and quick.samples == 2 and quick.failure_rate == 0.5
    assert quick.quality == pytest.approx((2 * 0.15 + 4 * 0.9) / 6, abs=1e-4)
    assert quick.prior == 0.9 and quick.prior_from == "example"
    assert quick.interval[0] < 0.15 < quick.interval[1]
    full = task_score(GEMMA, [_sample(0.0)] * 12, prior)
    assert full.quality == pytest.approx(0.225, abs=1e-4) and full.interval[1] < 0.25
