"""The connection cap is kept below the open-file limit, which the router raises where it can:
with a low hard limit, idle connections past the cap are refused at once (503), never left
hanging on a server that has run out of descriptors."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from router.config import ServerConfig
from router.server import FILE_RESERVE, limits_of
from tests.conftest import backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeModel, FakeUpstream

HARD = 512  # the router's open-file limit in the process test, soft and hard
BODY = b'{"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]}'
CHAT = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n"


def test_the_connection_cap_stays_below_the_open_file_limit() -> None:
    assert limits_of(ServerConfig(), 1024).max_connections == 1024 - FILE_RESERVE
    assert limits_of(ServerConfig(), 300).max_connections == 150  # half, when that is more
    assert limits_of(ServerConfig(), 10**6).max_connections == 4096  # the setting
    assert limits_of(ServerConfig(max_connections=100), 1024).max_connections == 100


def test_the_soft_file_limit_is_raised_to_the_hard_one() -> None:
    code = (
        "import resource\nfrom router.server import raise_file_limit\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(raise_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def _hard_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (HARD, HARD))


def test_past_a_low_hard_limit_connections_are_refused_at_once(tmp_path: Path) -> None:
    with FakeUpstream([FakeModel("fast-model")]) as fake:
        config = tmp_path / "router.toml"
        config.write_text("[server]\nheader_timeout = 60\n" + backend_toml("up", fake.base_url))
        port = free_port()
        command = [sys.executable, "-m", "router", "serve", "--config", str(config)]
        process = subprocess.Popen(
            [*command, "--port", str(port), "--calibrate", "off"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "ROUTER_CONFIG": ""},
            preexec_fn=_hard_limit,
        )
        silent: list[socket.socket] = []
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
            client = socket.create_connection(("127.0.0.1", port), timeout=5)  # before the flood
            silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(HARD + 20)]
            time.sleep(1.5)  # the overflow answered 503 and closed by now
            began = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                answer = extra.recv(65536)
            assert time.monotonic() - began < 0.5
            assert answer.startswith(b"HTTP/1.1 503 ") and b"too_many_connections" in answer
            # the descriptors kept in reserve let an accepted client's request reach upstream
            client.sendall(CHAT % len(BODY) + BODY)
            assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
            client.close()
        finally:
            for sock in silent:
                sock.close()
            process.terminate()
            output, _ = process.communicate(timeout=30)
    assert f"max_connections lowered to {HARD - FILE_RESERVE}" in output
    assert "Traceback" not in output
