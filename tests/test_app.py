"""The composition root (`router.app`): serving starts before a slow backend answers, and a
missing sandbox is said at start-up, once."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from router.app import RouterApp
from router.config import load_config
from router.grading.sandbox import Sandbox
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

NO_SANDBOX = Sandbox("none", reason="bwrap is not installed")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as sock:
        yield sock.getsockname()[1]


def _ready(client: httpx.Client, seconds: float) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_serving_starts_before_a_hung_backend_lists_its_models(
    fake: FakeUpstream, tmp_path: Path, silent_port: int
) -> None:
    config = tmp_path / "router.toml"
    config.write_text(
        "[server]\ndiscovery_timeout = 30\n"
        + backend_toml("hung", f"http://127.0.0.1:{silent_port}/v1", "read_timeout = 60")
        + backend_toml("lmstudio", fake.base_url)
    )
    began = time.monotonic()
    router = RunningRouter(config).start(discovered=False)
    try:
        with httpx.Client(base_url=router.root, timeout=10) as client:
            ready = _ready(client, 15)
            took = time.monotonic() - began
            assert ready.status_code == 200, ready.text
            assert took < 15, f"ready after {took:.1f}s, behind a hung backend"  # not 30 s
            body = ready.json()
            assert "asking hung for models" in body["detail"]
            assert body["backends"]["lmstudio"]["up"]
            assert body["backends"]["hung"] == {"up": False, "models": 0, "error": None}
            ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
            assert "fast-model" in ids
        sdk = openai.OpenAI(base_url=router.base_url, api_key="none", max_retries=0)
        answer = sdk.chat.completions.create(
            model="fast-model", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert answer.choices[0].message.content
        assert router.service.discovering  # the hung backend is still being asked
    finally:
        router.stop()


async def test_without_a_sandbox_serve_says_so_once_before_calibrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("router.app.detect", lambda: NO_SANDBOX)
    monkeypatch.setattr("router.calibration.trust.detect", lambda: NO_SANDBOX)
    monkeypatch.setattr("router.calibration.calibrate.BACKGROUND_DELAY", 0.0)
    caplog.set_level(logging.INFO, logger="router")
    with FakeUpstream([FakeModel("m", ttft=0.002)]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(
            backend_toml("fake", fake.base_url, 'models = ["m"]')
            + f'[routing]\nprofiles_dir = "{tmp_path / "profiles"}"\n'
        )
        app = RouterApp(load_config(str(config)), "quick")
        await app.start()
        try:
            assert app.calibration.task is not None
            await app.calibration.task
        finally:
            await app.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "router"]
    warned = [i for i, line in enumerate(lines) if line.startswith("code answers are not run")]
    assert len(warned) == 1, lines
    assert "bwrap is not installed" in lines[warned[0]] and "to enable:" in lines[warned[0]]
    calibrating = next(i for i, line in enumerate(lines) if line.startswith("calibrating 1 "))
    assert warned[0] < calibrating  # said at start-up, not when calibration begins
    assert any(line.startswith("calibration done in ") for line in lines)
