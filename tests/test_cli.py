"""The `router` command as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeUpstream

ROUTER = [sys.executable, "-m", "router"]


def run(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "ROUTER_CONFIG": ""}
    return subprocess.run(
        [*ROUTER, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def test_models_json_lists_the_upstream_models(fake: FakeUpstream, tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(backend_toml("lmstudio", fake.base_url))
    result = run("models", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["id"], r["backend"], r["state"]) for r in rows][:2] == [
        ("fast-model", "lmstudio", "remote"),
        ("slow-model", "lmstudio", "remote"),
    ]
    assert rows[2]["capabilities"] == ["vision"]


def test_models_table(fake: FakeUpstream, tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text(backend_toml("lmstudio", fake.base_url))
    lines = run("models", "--config", str(config)).stdout.splitlines()
    assert lines[0].split()[:4] == ["MODEL", "BACKEND", "KIND", "STATE"]
    assert lines[1].split()[:4] == ["fast-model", "lmstudio", "openai", "remote"]


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text('[[backends]]\nname = "x"\nkind = "openai"\nbase_url = "localhost:1"\n')
    for command in ("serve", "models"):
        result = run(command, "--config", str(config))
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"router: {config}: backends[0]: base_url must start with http:// or https://"
        ]


def test_port_in_use_is_one_line(tmp_path: Path, fake: FakeUpstream) -> None:
    config = tmp_path / "router.toml"
    config.write_text(backend_toml("lmstudio", fake.base_url))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run("serve", "--config", str(config), "--port", port)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"router: cannot listen on 127.0.0.1:{port}:")
    )


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path, fake: FakeUpstream) -> None:
    config = tmp_path / "router.toml"
    config.write_text(backend_toml("lmstudio", fake.base_url))
    port = free_port()
    process = subprocess.Popen(
        [*ROUTER, "serve", "--config", str(config), "--port", str(port), "--calibrate", "off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", seconds=90)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answer.status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells of it
    assert process.returncode in (0, -15)
    assert "Application shutdown complete" in output
    assert "lmstudio (openai, 3 models)" in output
    assert "Traceback" not in output


def test_zero_config_serves_the_embedded_model(tmp_path: Path, embedded_model_path: Path) -> None:
    """No config file: the embedded model answers, through the openai SDK, as `make serve`."""
    import openai

    port = free_port()
    env = {
        **os.environ,
        "ROUTER_CONFIG": "",
        "ROUTER_CACHE_DIR": str(embedded_model_path.parent.parent),
    }
    process = subprocess.Popen(
        [*ROUTER, "serve", "--port", str(port), "--calibrate", "off"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", seconds=90)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
        assert "smollm2-135m-instruct" in [m.id for m in client.models.list()]
        started = time.monotonic()
        raw = client.chat.completions.with_raw_response.create(  # the README's first example
            model="auto",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
        )
        assert "Paris" in (raw.parse().choices[0].message.content or "")
        assert time.monotonic() - started < 30  # in seconds: the model's defaults, the task's cap
        assert raw.headers["x-router-model"] == "smollm2-135m-instruct"
        assert raw.headers["x-router-backend"] == "local"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "no config file (zero-config): local (mlx, 1 models)" in output


def test_import_gguf_writes_a_model_folder_or_says_why_not(tmp_path: Path) -> None:
    import numpy as np

    from tests.modelfiles.test_gguf import tiny_llama

    source, _ = tiny_llama(tmp_path / "tiny.gguf", np.random.default_rng(0))
    result = run("import-gguf", str(source), "--out", str(tmp_path / "tiny-mlx"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "tiny-mlx")
    assert (tmp_path / "tiny-mlx" / "config.json").is_file()
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\xff" * 64)
    result = run("import-gguf", str(broken))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"router: {broken}")
