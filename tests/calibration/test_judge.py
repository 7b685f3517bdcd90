"""The LLM judge through the real `router calibrate --quick`, against the socket fake upstream.

The fake plays the calibrated models (`reference` answers with the suite's reference,
`echo` echoes the prompt, `reversed` answers with the reference's sentences in reverse order:
the task's facts, words and shape, which the graders pass, with no logic left) and two judges:
`rule-judge` compares by a rule (it prefers the answer closer to as much of the reference,
A on a tie) and `biased-judge` always answers "A". The rule judge passes its check, is used,
and moves the open-ended tasks' scores (`reversed` falls, `reference` keeps the top); the
biased one fails the check, is not used, and the scores equal a run without a judge.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from router.calibration.judge import prior_quality
from router.calibration.report import markdown
from router.calibration.suites import Prompt, load_suites
from router.grading.judge import JUDGED_TASKS
from router.profiles import Profile, load_profile, shipped_examples
from router.wire import ModelCard
from tests.conftest import backend_toml
from tests.fakes.answers import answer, by_last_user_message
from tests.fakes.upstream import FakeModel, FakeUpstream

SUITES = load_suites()
PROMPTS = by_last_user_message(SUITES)
BY_TEXT = {p.text(): p for s in SUITES for p in s.prompts}
CALIBRATED = ["reference", "echo", "reversed"]
OTHER_TASKS = ["qa", "summarize"]  # not judged: their scores must not move
TASKS = [*JUDGED_TASKS, *OTHER_TASKS]
_TASK = re.compile(r"<task>\n(.*?)\n</task>", re.DOTALL)
_ANSWERS = re.compile(r"Answer [AB]:\n<answer>\n(.*?)\n</answer>", re.DOTALL)


_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")


def _reversed(prompt: Prompt) -> str:
    """The reference's sentences, last first."""
    return " ".join(reversed([s.strip() for s in _SENTENCE.findall(prompt.reference)]))


def _answerer(mode: str) -> Callable[[dict], str]:
    def reply(body: dict) -> str:
        last = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        if last not in PROMPTS:  # a capability probe
            return '{"city": "Tokyo"}' if body.get("response_format") else "1, 2, 3"
        suite, prompt = PROMPTS[last]
        return _reversed(prompt) if mode == "reversed" else answer(suite, prompt, mode)

    return reply


def _closeness(answer: str, reference: str) -> float:
    """How close an answer is to the reference's beginning of the same length."""
    answer, reference = answer.strip(), reference.strip()
    return SequenceMatcher(None, answer, reference[: len(answer)], autojunk=False).ratio()


def rule_judge(body: dict) -> str:
    """Prefers the answer closer to the reference (A on a tie)."""
    user = body["messages"][-1]["content"]
    task, answers = _TASK.search(user), _ANSWERS.findall(user)
    if task is None or len(answers) != 2 or task[1] not in BY_TEXT:
        return "I cannot tell."
    first, second = (_closeness(a, BY_TEXT[task[1]].reference) for a in answers)
    return "B" if second > first else "A"


def _models() -> list[FakeModel]:
    return [
        *(FakeModel(m, answer=_answerer(m)) for m in CALIBRATED),
        FakeModel("rule-judge", answer=rule_judge),
        FakeModel("biased-judge", answer="A"),
        # 1,000 words at 100 a second: 10 s a reply unless the reading stops early
        FakeModel("rambler", answer="A, " + "because it reads better, " * 250, tokens_per_s=100),
        FakeModel("google/gemma-3-12b", answer="A"),
        FakeModel("liquid/lfm2.5-1.2b", answer="A"),
    ]


def _calibrate(
    fake: FakeUpstream, tmp: Path, *args: str, setting: str | None = None
) -> subprocess.CompletedProcess[str]:
    names = ", ".join(f'"{m.id}"' for m in _models())
    config = tmp / "router.toml"
    config.write_text(
        backend_toml("fake", fake.base_url, f"models = [{names}]")
        + f'[routing]\nprofiles_dir = "{tmp / "out"}"\n'
        + (f'[calibration]\njudge = "{setting}"\n' if setting else "")
    )
    return _router("calibrate", "--config", str(config), "--quick", *args)


def _router(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTER_CONFIG": ""}
    command = [sys.executable, "-m", "router", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)


def _written(tmp: Path) -> Path:
    (path,) = (tmp / "out").iterdir()
    return path


def _measured(profile: Profile) -> dict[str, dict[str, float | None]]:
    return {t: {s.model: s.measured for s in scores} for t, scores in profile.tasks.items()}


@dataclass
class Run:
    profile: Profile
    judge_requests: int  # chat requests the rule judge got
    shown: str  # `router profiles FILE`


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """The same quick calibration without a judge, with the rule judge (--judge), with the
    biased judge (the config's setting); the rule judge is also calibrated as a model."""
    plan = {
        "none": ([], None, CALIBRATED),
        "rule": (["--judge", "rule-judge"], None, [*CALIBRATED, "rule-judge"]),
        "biased": ([], "biased-judge", CALIBRATED),
    }
    out: dict[str, Run] = {}
    with FakeUpstream(_models()) as fake:
        for name, (args, setting, models) in plan.items():
            tmp = tmp_path_factory.mktemp(name)
            fake.reset()
            flags = [*args, "--models", ",".join(models), "--tasks", ",".join(TASKS)]
            run = _calibrate(fake, tmp, *flags, setting=setting)
            assert run.returncode == 0, run.stderr
            asked = [r.json["model"] for r in fake.requests if r.path.endswith("/completions")]
            shown = _router("profiles", str(_written(tmp)))
            assert shown.returncode == 0, shown.stderr
            out[name] = Run(load_profile(_written(tmp)), asked.count("rule-judge"), shown.stdout)
    yield out


def test_a_judge_that_passes_its_check_moves_the_open_ended_scores(
    runs: dict[str, Run],
) -> None:
    plain, judged = _measured(runs["none"].profile), _measured(runs["rule"].profile)
    assert runs["rule"].profile.judge == "rule-judge: passed 8/8"
    assert "judge: rule-judge: passed 8/8" in runs["rule"].shown  # `router profiles`
    for task in JUDGED_TASKS:
        # the task's words and shape without its logic: the judge finds it worse both times
        assert 0 < judged[task]["reversed"] < plain[task]["reversed"], task
        assert judged[task]["reference"] >= plain[task]["reference"] >= 0.8, task
        assert judged[task]["echo"] <= 0.25, task
    # where the graders passed it whole, the judge halves it
    assert {t: judged[t]["reversed"] for t in JUDGED_TASKS if plain[t]["reversed"] == 1.0} == {
        "explain_simple": 0.5,
        "story": 0.5,
        "style_rewrite": 0.5,
    }
    for task in OTHER_TASKS:
        assert {m: judged[task][m] for m in CALIBRATED} == plain[task], task


def test_a_judge_calibrated_too_keeps_its_own_samples(runs: dict[str, Run]) -> None:
    judge = runs["rule"].profile.model("rule-judge")
    assert judge is not None
    samples = sum(len(s.quick()) for s in SUITES if s.task in TASKS)
    assert judge.requests == samples  # the judge's requests are not its samples
    # its probes and samples, the check (8 prompts x 2 foils x 2 orders), then the judging
    assert runs["rule"].judge_requests > 4 + samples + 8 * 4


def test_a_position_biased_judge_is_not_used(runs: dict[str, Run]) -> None:
    assert runs["biased"].profile.judge == (
        "not used: biased-judge preferred the echo on 8/8, preferred the off-topic answer on 8/8"
    )
    assert "judge: not used: biased-judge" in runs["biased"].shown
    assert "- Judge: not used: biased-judge" in markdown(runs["biased"].profile, None)
    assert _measured(runs["biased"].profile) == _measured(runs["none"].profile)
    assert runs["none"].profile.judge == "" and "judge:" not in runs["none"].shown


def test_auto_picks_the_best_model_of_the_prior(tmp_path: Path) -> None:
    examples = shipped_examples()
    gemma = prior_quality(ModelCard(id="google/gemma-3-12b"), examples)
    lfm = prior_quality(ModelCard(id="liquid/lfm2.5-1.2b"), examples)
    big = prior_quality(ModelCard(id="unknown", size_bytes=64 * 10**9), examples)
    assert gemma > lfm and big > lfm
    with FakeUpstream(_models()) as fake:
        flags = ["--models", "reference", "--tasks", "story"]
        run = _calibrate(fake, tmp_path, *flags, setting="auto")
        assert run.returncode == 0, run.stderr
    # the example profile knows gemma-3-12b as its best on these tasks; it answers "A" always
    assert load_profile(_written(tmp_path)).judge.startswith(
        "not used: google/gemma-3-12b preferred the echo"
    )


def test_a_reply_longer_than_a_verdict_is_no_verdict(tmp_path: Path) -> None:
    """The judge's reply is read up to 200 characters, then the request is closed."""
    with FakeUpstream(_models()) as fake:
        started = time.monotonic()
        flags = ["--models", "reference", "--tasks", "story", "--judge", "rambler"]
        run = _calibrate(fake, tmp_path, *flags)
        seconds = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert load_profile(_written(tmp_path)).judge == "not used: rambler gave no verdict on 2/2"
    assert seconds < 40  # 8 replies read whole: 80 s


def test_an_unknown_judge_is_one_line_naming_it(tmp_path: Path) -> None:
    with FakeUpstream(_models()) as fake:
        run = _calibrate(fake, tmp_path, "--judge", "no-such-judge", "--tasks", "story")
        asked = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("router: unknown judge model 'no-such-judge' (known: reference, ")
    assert not asked  # refused before anything was measured
