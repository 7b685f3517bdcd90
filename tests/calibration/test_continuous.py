"""`router serve` goes on calibrating while idle (issue 14 §5), end to end: a real router on
loopback with `--calibrate quick` in front of the socket fake upstream, two tasks' suites.

The quick start-up run writes a profile; then, after `idle_seconds` without requests, the full
suites go pair by pair. One calibration answer is slow (4 s): a client's request arriving
meanwhile is answered at once, the calibration request upstream is closed within a fraction of
a second, and the prompt is asked again after the next idle spell (the prompts before it are
not). Each step rewrites the profile and the router switches to it; `/readyz` and `/metrics`
show the progress; a restart finds the work done and asks nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from router.calibration.calibrate import Options, calibrate, select_suites
from router.calibration.coverage import task_hashes
from router.config import load_config
from router.profiles import load_profile
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream, RecordedRequest

TASKS = ["qa", "summarize"]
QUICK_CAP = 64  # the quick run's max_tokens; the full suites ask for 100 and more
SLOW_AT = 3  # the third full-suite answer takes 200 tokens at 50 tokens/s


class Script:
    """The fake model's answers: short ones (a few tokens at 50/s), except the SLOW_AT-th
    answer to a full-suite prompt, which is long."""

    def __init__(self) -> None:
        self.full = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> str:
        if (body.get("max_tokens") or 0) <= QUICK_CAP:
            return "The answer is Paris."
        with self.lock:
            self.full += 1
            slow = self.full == SLOW_AT
        long = " ".join(f"w{i}" for i in range(200))  # distinct words: not a loop
        return long if slow else "The answer is Paris, as the text says."


def _full(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """The upstream requests of the full suites (not the quick run, probes or the client)."""
    return [r for r in requests if r.json and (r.json.get("max_tokens") or 0) > QUICK_CAP]


def _until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
    return found


def _calibration(client: httpx.Client) -> dict[str, Any]:
    return client.get("/readyz").json().get("calibration", {})


def _full_pairs(path: Path) -> set[tuple[str, str]]:
    profile = load_profile(path)
    return {(s.model, t) for t, scores in profile.tasks.items() for s in scores if s.full_suite}


def _start(config: Path, monkeypatch: pytest.MonkeyPatch) -> RunningRouter:
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    router = RunningRouter(config, "quick")
    router.app.calibration.options = Options(tasks=TASKS)
    return router.start()


def test_calibration_goes_on_while_idle_and_pauses_for_a_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeUpstream([FakeModel("m", answer=Script(), tokens_per_s=50)]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["m"]')
            + f'[routing]\nprofiles_dir = "{tmp_path / "profiles"}"\n'
            + "[calibration]\nidle_seconds = 0.3\n"
        )
        router = _start(config, monkeypatch)
        sizes: list[set[tuple[str, str]]] = []
        try:
            with httpx.Client(base_url=router.root, timeout=10) as client:
                # the slow answer is being streamed: calibration is running
                _until(lambda: len(_full(fake.requests)) == SLOW_AT, 30, "the slow answer")
                status = _calibration(client)
                assert status["state"] == "running" and status["total"] == 2, status
                assert status["model"] == "m" and status["task"] == "qa"
                assert fake.in_flight == 1
                path = Path(router.service.active.path or "")
                assert _full_pairs(path) == set()  # the quick run's profile

                sdk = openai.OpenAI(base_url=router.base_url, api_key="none", max_retries=0)
                began = time.monotonic()
                answer = sdk.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=3
                )
                took = time.monotonic() - began
                assert answer.choices[0].message.content
                assert took < 1.0, f"the client waited {took:.2f}s behind calibration"
                _until(lambda: fake.in_flight == 0, 0.5, "the calibration request closed")
                closed = time.monotonic() - began
                assert closed < 0.5, f"the calibration request ran on {closed:.2f}s"
                assert _calibration(client)["state"] == "paused"

                def landed() -> bool:
                    pairs = _full_pairs(path) if path.exists() else set()
                    if not sizes or sizes[-1] != pairs:
                        sizes.append(pairs)
                    return len(pairs) == 2

                _until(landed, 30, "both pairs measured")
                assert sizes[-2:] == [{("m", "qa")}, {("m", "qa"), ("m", "summarize")}]
                done = _until(lambda: _calibration(client)["state"] == "done" and 1, 5, "done")
                assert done
                status = _calibration(client)
                assert (status["done"], status["total"]) == (2, 2), status
                metrics = client.get("/metrics").text
                assert "router_calibration_progress 1.0" in metrics

            active = router.service.active.profile
            assert active is not None and router.service.active.path == str(path)
            assert {s.model for s in active.tasks["qa"] if s.full_suite} == {"m"}
            assert active.tasks["qa"][0].samples == 12
            # the slow prompt was asked again after the pause; those before it only once
            asked = [str(r.json["messages"]) for r in _full(fake.requests)]
            first_three = asked[:SLOW_AT]
            assert asked.count(first_three[-1]) == 2
            assert all(asked.count(p) == 1 for p in first_three[:-1])
            assert len(asked) == 24 + 1
        finally:
            router.stop()

        fake.reset()  # a restart: the pairs measured are not asked again
        again = _start(config, monkeypatch)
        try:
            with httpx.Client(base_url=again.root, timeout=10) as client:
                _until(lambda: _calibration(client).get("state") == "done", 10, "done")
                assert _calibration(client)["done"] == 2
        finally:
            again.stop()
        assert not [r for r in fake.requests if r.path.endswith("/chat/completions")]


async def test_a_full_calibrate_marks_its_pairs_so_serve_asks_nothing(tmp_path: Path) -> None:
    with FakeUpstream([FakeModel("m", answer="The answer is Paris.")]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["m"]')
            + f'[routing]\nprofiles_dir = "{tmp_path / "profiles"}"\n'
        )
        result = await calibrate(load_config(str(config)), Options(tasks=["qa"]))
        digest = task_hashes(select_suites(Options(tasks=["qa"])))["qa"]
        assert [s.full_suite for s in result.profile.tasks["qa"]] == [digest]
        quick = await calibrate(load_config(str(config)), Options(tasks=["qa"], quick=True))
        assert [s.full_suite for s in quick.profile.tasks["qa"]] == [""]


def test_an_unreachable_backend_is_not_scored_and_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream goes away in the middle of a step: the prompts that find nobody are not
    scored (that is not the model's doing) and nothing is written; once it is back, the step
    goes on and lands."""
    monkeypatch.setattr("router.calibration.continuous.RETRY_AFTER", 0.5)
    script = Script()
    fake = FakeUpstream([FakeModel("m", answer=script, tokens_per_s=50)]).start()
    port = fake.port
    config = tmp_path / "router.toml"
    config.write_text(
        backend_toml("fake", fake.base_url, 'models = ["m"]\nconnect_timeout = 0.5')
        + f'[routing]\nprofiles_dir = "{tmp_path / "profiles"}"\n'
        + "[calibration]\nidle_seconds = 0.2\n"
    )
    router = _start(config, monkeypatch)
    try:
        _until(lambda: len(_full(fake.requests)) == SLOW_AT, 30, "the slow answer")
        path = Path(router.service.active.path or "")
        fake.stop()  # gone mid-answer; the next prompts find nobody
        time.sleep(1.5)
        assert _full_pairs(path) == set()  # nothing written for the pair meanwhile
        assert router.app.calibration.continuation is not None
        fake = FakeUpstream([FakeModel("m", answer=script, tokens_per_s=50)], port=port).start()
        _until(lambda: len(_full_pairs(path)) == 2, 30, "both pairs measured")
        qa = next(s for s in load_profile(path).tasks["qa"] if s.model == "m")
        assert qa.samples == 12
        # the step went on from the answers kept (the slow one, cut mid-stream, counts as a
        # crash: a broken stream may be the model's doing); the prompts that found nobody were
        # asked once the upstream was back, not counted as failed while it was away
        asked = [r.json["messages"] for r in _full(fake.requests)]
        qa_prompts = [p.to_messages() for p in select_suites(Options(tasks=["qa"]))[0].prompts]
        assert asked[: 12 - SLOW_AT] == qa_prompts[SLOW_AT:]
    finally:
        router.stop()
        fake.stop()
