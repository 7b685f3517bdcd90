"""`router calibrate` against models whose behaviour is known, and on the real embedded model.

The fake upstream plays four models: `slow-good` answers every suite prompt with the suite's
own reference answer (slowly), `fast-wrong` answers fast but in English whatever the prompt's
language, `looper` falls into an endless repetition, `crasher` drops the connection after two
tokens. The calibration must rank slow-good first, and count each failure under its kind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router.app import RouterApp
from router.calibration.measure import timed_stream
from router.calibration.results import profile_filename
from router.calibration.suites import load_suites
from router.cli import main
from router.config import LoadedConfig, load_config, parse_config
from router.profiles import Capabilities, Profile, load_profile, this_machine
from router.serving.service import Service
from tests.conftest import backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

TASKS = ["qa", "translate", "business_mail"]
MODELS = ["slow-good", "fast-wrong", "looper", "crasher"]


def _last_user(body: dict) -> str:
    return next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")


REFERENCES = {
    p.to_messages()[-1]["content"]: (p.lang, p.reference) for s in load_suites() for p in s.prompts
}


def good_answer(body: dict) -> str:
    """The suite's reference answer; sensible answers to the capability probes."""
    text = _last_user(body)
    if text in REFERENCES:
        return REFERENCES[text][1]
    if "Count from 1 to 10" in text:
        return "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    if body.get("response_format"):
        return '{"city": "Tokyo", "population": 14000000}'
    return "Hello."


def english_answer(body: dict) -> str:
    """Right in English; in English too when asked in Japanese (like the seed's mistral)."""
    lang, reference = REFERENCES.get(_last_user(body), ("en", "Sure! Here you are."))
    if lang == "en":
        return reference
    return "Sure! Here is my answer in English: the meeting moves to four in the afternoon."


def fake_models() -> list[FakeModel]:
    return [
        FakeModel("slow-good", answer=good_answer, ttft=0.05, tokens_per_s=400),
        FakeModel("fast-wrong", answer=english_answer, ttft=0.002),
        FakeModel(
            "looper",
            answer="Let me answer this. The answer is coming soon.",
            failure="loop",
            ttft=0.002,
        ),
        FakeModel("crasher", answer=good_answer, failure="drop", fail_after_tokens=2, ttft=0.002),
    ]


def config_text(base_url: str, profiles_dir: Path) -> str:
    models = ", ".join(f'"{m}"' for m in MODELS)
    return (
        backend_toml("fake", base_url, f"models = [{models}]")
        + f'[routing]\nprofiles_dir = "{profiles_dir}"\n'
    )


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """One quick calibration of the four fakes, through the CLI; its outputs."""
    tmp = tmp_path_factory.mktemp("calibrate")
    with FakeUpstream(fake_models()) as fake:
        config = tmp / "router.toml"
        out = tmp / "profiles"
        config.write_text(config_text(fake.base_url, out))
        report = tmp / "report" / "calibration.md"
        capture = subprocess.run(
            [
                sys.executable,
                "-m",
                "router",
                "calibrate",
                "--config",
                str(config),
                "--quick",
                "--tasks",
                ",".join(TASKS),
                "--report",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=90,
            env={**os.environ, "ROUTER_CONFIG": ""},
        )
        assert capture.returncode == 0, capture.stderr
        files = sorted(out.iterdir())
        yield {
            "config": config,
            "out": out,
            "files": files,
            "stdout": capture.stdout,
            "stderr": capture.stderr,
            "report": report,
            "requests": list(fake.requests),
        }


def _profile(calibrated: dict) -> Profile:
    return load_profile(calibrated["files"][0])


def test_writes_one_loadable_toml_profile_atomically(calibrated: dict) -> None:
    files = calibrated["files"]
    assert [f.name for f in files] == [profile_filename(this_machine(), set(MODELS))]
    tomllib.loads(files[0].read_text())  # plain TOML, not just what msgspec reads
    profile = _profile(calibrated)
    assert profile.kind == "measured" and profile.schema_version == 1
    assert profile.created.endswith("Z") and profile.machine.chip
    assert profile.suite_hash and profile.router_version
    assert profile.backend_versions["fake"].startswith("openai-compatible 127.0.0.1:")
    assert list(profile.tasks) == TASKS
    assert [m.id for m in profile.models] == MODELS


def test_slow_good_ranks_first_on_every_task(calibrated: dict) -> None:
    profile = _profile(calibrated)
    for task, scores in profile.tasks.items():
        assert scores[0].model == "slow-good", (task, scores)
        assert scores[0].measured is not None and scores[0].measured >= 0.8
        assert scores[0].failure_rate == 0
        assert scores[0].samples == 2  # --quick: one prompt per language
        assert scores[0].latency_seconds is not None and scores[0].latency_seconds > 0.05
        wrong = next(s for s in scores if s.model == "fast-wrong")
        assert wrong.failure_rate == 0.5 and wrong.quality < scores[0].quality
        assert wrong.latency_seconds is not None
        assert wrong.latency_seconds < scores[0].latency_seconds


def test_failures_are_counted_by_kind(calibrated: dict) -> None:
    profile = _profile(calibrated)
    per_model = {m.id: m for m in profile.models}
    assert per_model["fast-wrong"].failures.wrong_language == len(TASKS)  # the ja prompts
    assert per_model["fast-wrong"].failures.total() == len(TASKS)
    assert per_model["looper"].failures.loop == 2 * len(TASKS)
    assert per_model["crasher"].failures.crash == 2 * len(TASKS)
    assert "crash" in per_model["crasher"].notes
    assert per_model["slow-good"].failures.total() == 0
    for scores in profile.tasks.values():
        rates = {s.model: s.failure_rate for s in scores}
        assert rates["looper"] == rates["crasher"] == 1.0
        assert [s.model for s in scores][-2:] != ["slow-good"]


def test_every_prompt_and_probe_is_streamed(calibrated: dict) -> None:
    looper = next(m for m in _profile(calibrated).models if m.id == "looper")
    assert looper.requests == 2 * len(TASKS)
    asked = [r.json for r in calibrated["requests"] if r.json and r.json["model"] == "looper"]
    assert all(r["stream"] for r in asked) and len(asked) == 4 + 2 * len(TASKS)


def test_measurements_and_capabilities(calibrated: dict) -> None:
    good = next(m for m in _profile(calibrated).models if m.id == "slow-good")
    assert good.ttft_seconds is not None and 0.04 < good.ttft_seconds < 1
    assert good.decode_tokens_per_s is not None and 100 < good.decode_tokens_per_s < 1000
    assert good.prompt_tokens_per_s and good.e2e_p50_seconds and good.e2e_p95_seconds
    assert good.e2e_p95_seconds >= good.e2e_p50_seconds
    assert good.load_seconds is not None and good.load_seconds < 0.5
    caps = good.capabilities
    assert (caps.json_schema, caps.tools, caps.stop, caps.include_usage) == (
        True,
        False,
        True,
        True,
    )
    wrong = next(m for m in _profile(calibrated).models if m.id == "fast-wrong").capabilities
    assert wrong.json_schema is False and wrong.stop is None
    crasher = next(m for m in _profile(calibrated).models if m.id == "crasher").capabilities
    assert crasher.include_usage is None  # crashed: could not tell
    asked = [r.json for r in calibrated["requests"] if r.json and r.json["model"] == "slow-good"]
    assert all(r["max_tokens"] <= 64 for r in asked)  # --quick caps the answers


def test_progress_and_summary(calibrated: dict) -> None:
    lines = calibrated["stderr"].splitlines()
    steps = len(MODELS) * (len(TASKS) + 1)
    assert len(lines) == steps  # not a TTY: one line per model and task
    assert lines[0].startswith(f"[ 1/{steps}] slow-good ") and "capabilities" in lines[0]
    assert "qa" in lines[1] and "██████████ 2/2" in lines[1]
    assert "2 failed" in next(line for line in lines if "looper" in line and "qa" in line)
    out = calibrated["stdout"]
    assert "Best model per task" in out and "Models" in out
    best = [line.split() for line in out.splitlines() if line.split()[:1] == ["qa"]]
    assert best[0][1] == "slow-good"
    assert f"wrote {calibrated['files'][0]}" in out


def test_profiles_command_shows_it(calibrated: dict, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", str(calibrated["files"][0])]) == 0
    shown = capsys.readouterr().out
    assert "machine: " in shown and "made: " in shown
    qa = shown.split("\nqa\n")[1].splitlines()
    assert qa[0].split()[:2] == ["1.", "slow-good"] and "measured 1.00" in qa[0]
    assert main(["profiles", "--json", str(calibrated["files"][0])]) == 0
    assert '"how": "file"' in capsys.readouterr().out


def test_profiles_command_finds_the_active_profile(
    calibrated: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeUpstream(fake_models()) as fake:  # the same models, served again
        config = calibrated["config"].parent / "again.toml"
        config.write_text(config_text(fake.base_url, calibrated["out"]))
        assert main(["profiles", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"profile: measured ({calibrated['files'][0]})")


def test_report_is_markdown_with_an_svg_chart(calibrated: dict) -> None:
    import xml.etree.ElementTree as ET

    report: Path = calibrated["report"]
    text = report.read_text()
    for heading in (
        "# Calibration report",
        "## Best model per task",
        "## Models",
        "## Rankings per task",
        "### business_mail",
        "## Failures by kind",
        "## Capabilities",
    ):
        assert heading in text
    assert "![Quality against latency per task](calibration.svg)" in text
    svg = ET.parse(report.with_suffix(".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert set(TASKS) <= set(texts)
    assert sum(1 for t in texts if t and t.startswith("slow-good")) >= len(TASKS)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "router", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ROUTER_CONFIG": ""},
    )


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    with FakeUpstream([FakeModel("m")]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(backend_toml("fake", fake.base_url, 'models = ["m"]'))
        empty = tmp_path / "empty.toml"
        empty.write_text(backend_toml("fake", fake.base_url, "models = []"))
        blocker = tmp_path / "file"
        blocker.write_text("")
        cases = {
            ("--config", str(empty)): "no models to calibrate",
            ("--config", str(config), "--models", "m,nope"): "unknown model 'nope' (known: m)",
            ("--config", str(config), "--tasks", "qa,poetry"): "unknown task 'poetry'",
            ("--config", str(config), "--out", str(blocker / "sub")): "cannot write profiles",
        }
        for args, message in cases.items():
            result = _run_cli("calibrate", *args, "--quick")
            assert result.returncode == 2, result
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("router: ") and message in lines[0]
        # nothing measured before the arguments were checked
        assert [r.path for r in fake.requests if r.path != "/v1/models"] == []


def test_kill_9_leaves_the_old_profile_intact(tmp_path: Path) -> None:
    slow = FakeModel("slow", answer="word " * 60, ttft=0.2, tokens_per_s=20)
    with FakeUpstream([slow]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(backend_toml("fake", fake.base_url, 'models = ["slow"]'))
        out = tmp_path / "profiles"
        out.mkdir()
        old = out / profile_filename(this_machine(), {"slow"})
        old.write_bytes(b'# an older profile\nschema_version = 1\nkind = "measured"\n')
        before = old.read_bytes()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router",
                "calibrate",
                "--config",
                str(config),
                "--out",
                str(out),
                "--tasks",
                "qa",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "ROUTER_CONFIG": ""},
        )
        deadline = time.monotonic() + 30
        while len(fake.requests) < 6 and time.monotonic() < deadline:  # probes, then prompts
            time.sleep(0.05)
        assert len(fake.requests) >= 6, "calibration never reached the prompts"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert old.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [old.name]


async def test_background_calibration_switches_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    caplog.set_level(logging.INFO, logger="router")
    models = [
        FakeModel("good", answer=good_answer, ttft=0.002),
        FakeModel("english", answer=english_answer, ttft=0.002),
    ]
    with FakeUpstream(models) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["good", "english"]')
            + f'[routing]\nprofiles_dir = "{tmp_path / "profiles"}"\n'
        )
        app = RouterApp(load_config(str(config)), "quick")
        service = app.service
        await app.start()
        await service.discovered()  # `serve` starts before the backends answer
        try:
            assert service.active.how != "measured"
            assert service.ready()[0]  # serving while it calibrates
            for _ in range(600):
                if service.active.how == "measured":
                    break
                await asyncio.sleep(0.1)
            assert service.active.how == "measured"
            assert service.active.profile is not None
            assert service.active.profile.tasks["translate"][0].model == "good"
        finally:
            await app.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "router"]
    assert any(m.startswith("calibrating 2 model(s) in the background (quick)") for m in messages)
    assert any(m.startswith("calibration done in ") for m in messages)


async def test_background_calibration_failure_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    caplog.set_level(logging.INFO, logger="router")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with FakeUpstream([FakeModel("m", ttft=0.002)]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["m"]')
            + f'[routing]\nprofiles_dir = "{blocker / "profiles"}"\n'
        )
        app = RouterApp(load_config(str(config)), "quick")
        await app.start()
        try:
            assert app.calibration.task is not None
            await asyncio.wait_for(app.calibration.task, 30)  # ends without raising
            assert app.service.ready()[0]
        finally:
            await app.stop()
    failed = [r.getMessage() for r in caplog.records if "calibration failed" in r.getMessage()]
    assert len(failed) == 1 and "cannot write profiles" in failed[0]


@pytest.mark.timeout(900)
def test_quick_calibration_of_the_real_embedded_model(
    embedded_model_path: Path, tmp_path: Path
) -> None:
    """SmolLM2-135M in process (mlx): one task, quick; slow on a CPU (~10 tokens/s)."""
    config = tmp_path / "router.toml"
    config.write_text(
        '[[backends]]\nname = "local"\nkind = "mlx"\n'
        f'models = [{{ id = "smollm2", path = "{embedded_model_path}" }}]\n'
    )
    out = tmp_path / "profiles"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "router",
            "calibrate",
            "--config",
            str(config),
            "--quick",
            "--tasks",
            "qa",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=850,
        env={**os.environ, "ROUTER_CONFIG": ""},
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout, f"({time.monotonic() - started:.0f} s)")
    [path] = out.iterdir()
    profile = load_profile(path)
    assert profile.backend_versions["local"].startswith("mlx-lm ")
    [model] = profile.models
    assert (model.id, model.backend, model.requests) == ("smollm2", "local", 2)
    assert model.load_seconds is not None and model.load_seconds > 0
    assert model.ttft_seconds is not None and model.ttft_seconds > 0
    assert model.decode_tokens_per_s is not None and model.decode_tokens_per_s > 1
    assert model.prompt_tokens_per_s is not None and model.prompt_tokens_per_s > 1
    assert model.e2e_p50_seconds is not None
    assert model.size_bytes and model.peak_memory_bytes == model.size_bytes
    assert model.capabilities.include_usage is True  # the mlx backend always counts
    assert model.capabilities.tools is False  # no tool calls from a plain chat template
    [score] = profile.tasks["qa"]
    assert score.model == "smollm2" and score.samples == 2 and 0 <= score.quality <= 1
    assert "smollm2" in result.stdout and result.stderr.count("\n") == 2  # two progress lines


def test_timeouts_and_errors_are_counted_and_the_run_completes(tmp_path: Path) -> None:
    models = [
        FakeModel("hanger", failure="hang_after_headers"),
        FakeModel("broken", failure="500"),
        FakeModel("fine", answer=good_answer),
    ]
    with FakeUpstream(models) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["hanger", "broken", "fine"]')
        )
        result = _run_cli(
            "calibrate",
            "--config",
            str(config),
            "--out",
            str(tmp_path / "p"),
            "--quick",
            "--tasks",
            "qa",
            "--timeout",
            "0.3",
        )
    assert result.returncode == 0, result.stderr
    [path] = (tmp_path / "p").iterdir()
    profile = load_profile(path)
    models_by_id = {m.id: m for m in profile.models}
    assert models_by_id["hanger"].failures.timeout == 2
    assert models_by_id["hanger"].capabilities == Capabilities()  # could not tell
    assert models_by_id["broken"].failures.error == 2
    assert "internal error" in models_by_id["broken"].notes
    assert models_by_id["fine"].failures.total() == 0
    assert profile.tasks["qa"][0].model == "fine"


async def test_a_loop_is_cut_as_soon_as_it_shows() -> None:
    """The stream is read only until `loop_detected` fires, not to max_tokens."""
    looper = FakeModel(
        "looper",
        answer="Let me answer this. The answer is coming soon.",
        failure="loop",
        tokens_per_s=100,
    )
    with FakeUpstream([looper]) as fake:
        service = Service(
            LoadedConfig(
                parse_config(
                    backend_toml("fake", fake.base_url, 'models = ["looper"]').encode(), "t"
                ),
                "t",
            )
        )
        await service.start()
        try:
            replica = service.catalog.replicas("looper")[0]
            body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 300}
            run = await timed_stream(replica, body, 30)
        finally:
            await service.stop()
    assert run.failure == "loop" and run.finish_reason is None
    assert 20 < run.completion_tokens < 80  # of 300: the full answer would take 3 s
    assert run.e2e is not None and run.e2e < 1.5
    assert run.decode_tokens_per_s is not None and 50 < run.decode_tokens_per_s < 150
    assert replica.outstanding == 0


# ---------------------------------------------------------------- code answers: who, where


def hostile_code_answer(marker: Path) -> Callable[[dict], str]:
    """The reference answer plus a block that writes `marker` and exits: when run, the code
    check fails (code_failed), and outside a sandbox the marker would appear."""
    block = f"```python\nopen({str(marker)!r}, 'w').write('ran')\nraise SystemExit(1)\n```\n"
    return lambda body: good_answer(body) + "\n" + block


async def _calibrate_code(loaded: LoadedConfig, out: Path) -> Profile:
    from router.calibration.calibrate import Options, calibrate_service

    service = Service(loaded, routes=False)
    await service.start()
    try:
        options = Options(tasks=["code"], quick=True, quick_max_tokens=600, out=str(out))
        return (await calibrate_service(service, options)).profile
    finally:
        await service.stop()


@pytest.mark.parametrize("trusted", ["", "trusted = false"])
async def test_code_answers_run_sandboxed_for_configured_backends_only(
    tmp_path: Path, trusted: str, caplog: pytest.LogCaptureFixture
) -> None:
    from router.grading.sandbox import detect

    caplog.set_level(logging.INFO, logger="router")
    marker = tmp_path / "ran"
    with FakeUpstream([FakeModel("coder", answer=hostile_code_answer(marker))]) as fake:
        text = backend_toml("fake", fake.base_url, f'models = ["coder"]\n{trusted}')
        loaded = LoadedConfig(parse_config(text.encode(), "t"), "t")
        profile = await _calibrate_code(loaded, tmp_path)
    score = profile.tasks["code"][0]
    if trusted:  # not run: graded on the code block and the language
        expected = f"{detect().describe()}; skipped for untrusted backends: fake"
        assert profile.code_checks == expected
        assert score.quality > 0.5 and score.failure_rate == 0
        assert any("code answers of fake are not run" in r.getMessage() for r in caplog.records)
    else:  # run, in the sandbox: the exit fails the check, the marker is never written
        assert profile.code_checks == "sandboxed: bubblewrap"
        assert score.measured == 0 and score.failure_rate == 1
    assert not marker.exists()


async def test_code_from_servers_found_by_discovery_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.config import Config, RoutingConfig

    marker = tmp_path / "ran"
    monkeypatch.setattr("router.serving.discover.is_ready", lambda folder: False)
    with FakeUpstream([FakeModel("coder", answer=hostile_code_answer(marker))]) as fake:
        monkeypatch.setattr("router.serving.discover.USUAL_PORTS", {fake.port: "local-test"})
        config = Config(routing=RoutingConfig(profiles_dir=str(tmp_path)))
        profile = await _calibrate_code(LoadedConfig(config, None), tmp_path)
    assert profile.code_checks.endswith("; skipped for untrusted backends: local-test")
    assert profile.tasks["code"][0].quality > 0.5
    assert not marker.exists()


async def test_without_a_sandbox_code_is_not_run_and_the_profile_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from router.grading.sandbox import Sandbox

    none = Sandbox("none", reason="bwrap is not installed")
    monkeypatch.setattr("router.calibration.trust.detect", lambda: none)
    monkeypatch.setattr("router.grading.graders.detect", lambda: none)
    monkeypatch.setattr("router.grading.coderun.detect", lambda: none)
    caplog.set_level(logging.INFO, logger="router")
    marker = tmp_path / "ran"
    with FakeUpstream([FakeModel("coder", answer=hostile_code_answer(marker))]) as fake:
        text = backend_toml("fake", fake.base_url, 'models = ["coder"]')
        loaded = LoadedConfig(parse_config(text.encode(), "t"), "t")
        profile = await _calibrate_code(loaded, tmp_path)
    assert profile.code_checks == "skipped: no sandbox"
    assert load_profile(next(tmp_path.glob("*.toml"))).code_checks == "skipped: no sandbox"
    assert profile.tasks["code"][0].quality > 0.5  # graded on the rest
    assert not marker.exists()
    warnings = [r.getMessage() for r in caplog.records if "no sandbox" in r.getMessage()]
    assert len(warnings) == 1 and "bwrap is not installed" in warnings[0]
    if sys.platform == "linux":
        assert "apt-get install bubblewrap" in warnings[0]
