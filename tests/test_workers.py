"""`router serve --workers N`: several processes on one port, their metrics merged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.conftest import backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeUpstream


def test_two_workers_share_the_port_and_the_metrics_add_up(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    config = tmp_path / "router.toml"
    config.write_text(backend_toml("lmstudio", fake.base_url))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ROUTER_CONFIG": ""},
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        assert len(psutil.Process(process.pid).children()) >= 2
        body = {"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(30):  # a new connection each time: the kernel spreads them
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body)
            assert reply.status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    labels = 'api="chat",backend="lmstudio",model="fast-model",status="200",task="none"'
    total = f"router_requests_total{{{labels}}}"
    assert f"{total} 30.0" in metrics
    assert 'router_backend_up{backend="lmstudio"} 1.0' in metrics
    assert "Traceback" not in output and "Warning" not in output


def test_workers_refuse_in_process_models(tmp_path: Path) -> None:
    config = tmp_path / "router.toml"
    config.write_text('[[backends]]\nname = "local"\nkind = "mlx"\n')
    result = subprocess.run(
        [sys.executable, "-m", "router", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("router: --workers above 1 needs a config whose backends are all kind")
    )
