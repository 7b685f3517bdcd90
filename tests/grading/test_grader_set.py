"""The grader test set: the graders tell an answer that does the task from one that does not.

For every suite prompt, in both languages: the reference answer scores ≥ 0.8, and an off-topic
paragraph, the prompt echoed back, an on-task answer in the wrong language, a loop, an empty
answer and a refusal each score ≤ 0.25 (the answers: `tests/fakes/answers.py`). Then the same
through the real `router calibrate --quick`: a fake upstream plays one model per kind of
answer, and the written profile must rank them the same way on every task.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router.calibration.suites import Prompt, Suite, grade_prompt, load_suites
from router.profiles import Profile, load_profile
from tests.conftest import backend_toml
from tests.fakes.answers import BAD, GOOD, answer, by_last_user_message, first_sentence
from tests.fakes.upstream import FakeModel, FakeUpstream

GOOD_MIN = 0.8
BAD_MAX = 0.25
SUITES = load_suites()
CASES = [(s, p) for s in SUITES for p in s.prompts]
IDS = [f"{s.task}/{p.id}" for s, p in CASES]


@pytest.mark.parametrize(("suite", "prompt"), CASES, ids=IDS)
def test_reference_scores_high(suite: Suite, prompt: Prompt) -> None:
    result = grade_prompt(suite, prompt, answer(suite, prompt, GOOD))
    assert result.quality >= GOOD_MIN, [v for v in result.verdicts if not v.passed]


@pytest.mark.parametrize("mode", BAD)
@pytest.mark.parametrize(("suite", "prompt"), CASES, ids=IDS)
def test_bad_answer_scores_low(suite: Suite, prompt: Prompt, mode: str) -> None:
    result = grade_prompt(suite, prompt, answer(suite, prompt, mode))
    assert result.quality <= BAD_MAX, (result.quality, result.verdicts)
    assert result.failures, "a bad answer names what is wrong with it"


SOURCED = [(s, p) for s, p in CASES if p.source]


@pytest.mark.parametrize(("suite", "prompt"), SOURCED, ids=[f"{s.task}/{p.id}" for s, p in SOURCED])
def test_the_source_passed_through_scores_low(suite: Suite, prompt: Prompt) -> None:
    """A summary, mail, rewrite or translation that is the source itself did nothing."""
    assert grade_prompt(suite, prompt, prompt.source.strip()).quality <= BAD_MAX


def test_every_task_is_covered_in_both_languages() -> None:
    langs = {(s.task, p.lang) for s, p in CASES}
    assert len(SUITES) == 8 and len(langs) == 16


# ---------------------------------------------------------------- through `router calibrate`

_PROMPTS = by_last_user_message(SUITES)


def _answerer(mode: str) -> Callable[[dict], str]:
    """A fake model's answers in `mode`; the loop model starts the loop the fake plays."""

    def reply(body: dict) -> str:
        last = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        if last not in _PROMPTS:  # a capability probe
            return '{"city": "Tokyo"}' if body.get("response_format") else "1, 2, 3"
        suite, prompt = _PROMPTS[last]
        if mode == "loop":
            return first_sentence(prompt.reference)
        return answer(suite, prompt, mode)

    return reply


def _models() -> list[FakeModel]:
    return [
        FakeModel(mode, answer=_answerer(mode), failure="loop" if mode == "loop" else None)
        for mode in (GOOD, *BAD)
    ]


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Profile]:
    tmp = tmp_path_factory.mktemp("grader-set")
    models = _models()
    with FakeUpstream(models) as fake:
        names = ", ".join(f'"{m.id}"' for m in models)
        config = tmp / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, f"models = [{names}]")
            + f'[routing]\nprofiles_dir = "{tmp / "out"}"\n'
        )
        run = subprocess.run(
            [sys.executable, "-m", "router", "calibrate", "--config", str(config), "--quick"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ROUTER_CONFIG": ""},
        )
        assert run.returncode == 0, run.stderr
        yield load_profile(next(Path(tmp / "out").iterdir()))


def test_quick_calibration_scores_bad_models_low(quick_profile: Profile) -> None:
    table = {
        task: {s.model: s.measured for s in scores} for task, scores in quick_profile.tasks.items()
    }
    assert len(table) == 8
    for task, scores in table.items():
        assert scores[GOOD] >= GOOD_MIN, (task, scores)
        for mode in BAD:
            assert scores[mode] <= BAD_MAX, (task, mode, scores)
