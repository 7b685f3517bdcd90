"""Whole answers from upstreams: their size cap, the answer check off the event loop (a
concurrent `/healthz` stays fast behind a 50 MB answer), an early refusal of a declared
length over the cap, a 200 whose body is an error, and SSE keep-alive comments."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from tests.conftest import backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeModel, FakeUpstream

PROFILE = """schema_version = 1
kind = "measured"
[[models]]
id = "huge"
[[models]]
id = "small"
[tasks]
summarize = [
  { model = "huge", quality = 0.9, latency_seconds = 1.0 },
  { model = "small", quality = 0.5, latency_seconds = 1.0 },
]
"""
ASK = {"model": "router/summarize", "messages": [{"role": "user", "content": "Sum it up."}]}


def _answer(text: str) -> bytes:
    """A chat completion whose content is `text`."""
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    head = {"id": "x", "object": "chat.completion", "created": 0, "model": "huge"}
    return msgspec.json.encode({**head, "choices": [choice], "usage": usage})


def _big_text(size: int) -> str:
    """`size` characters of prose-like text that is no loop (random letters in words)."""
    letters = base64.b64encode(os.urandom(size)).translate(None, b"+/=0123456789")
    words = b" ".join(letters[i : i + 7] for i in range(0, len(letters), 7))
    return "Here is the summary. " + words[:size].decode()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """`serve(config_toml)` runs `router serve` in its own process; returns its root URL."""
    processes: list[subprocess.Popen[bytes]] = []

    def serve(config: str) -> str:
        (tmp_path / "profile.toml").write_text(PROFILE)
        path = tmp_path / "router.toml"
        path.write_text(config + f'[routing]\nprofile = "{tmp_path / "profile.toml"}"\n')
        port = free_port()
        command = [sys.executable, "-m", "router", "serve", "--config", str(path)]
        processes.append(
            subprocess.Popen(
                [*command, "--port", str(port)],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "ROUTER_CONFIG": ""},
            )
        )
        root = f"http://127.0.0.1:{port}"
        wait_ready(root + "/readyz")
        return root

    yield serve
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


class _Health:
    """Polls /healthz on one keep-alive connection; keeps the slowest answer's time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.slowest = 0.0
        self.polls = 0

    def poll(self) -> None:
        start = time.perf_counter()
        self.sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: router\r\n\r\n")
        got = b""
        while not (got.endswith(b"}") and b"\r\n\r\n" in got):
            got += self.sock.recv(4096)
        self.slowest = max(self.slowest, time.perf_counter() - start)
        self.polls += 1


def _fetch(url: str, results: dict[str, object]) -> None:
    """POST the routed request, reading the answer as it comes (size and status kept)."""
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", url + "/v1/chat/completions", json=ASK) as response,
    ):
        results["status"] = response.status_code
        results["size"] = sum(len(piece) for piece in response.iter_raw(2**20))
        results["model"] = response.headers.get("x-router-model")


def test_healthz_stays_fast_behind_a_50_mb_routed_answer(served: Callable[[str], str]) -> None:
    body = _answer(_big_text(50_000_000))
    models = [FakeModel("huge", body=body), FakeModel("small", answer="A short summary.")]
    with FakeUpstream(models) as fake:
        root = served(backend_toml("up", fake.base_url, "max_answer_bytes = 67108864"))
        health = _Health(int(root.rsplit(":", 1)[1]))
        for _ in range(20):  # warm: the first requests of a process are slower
            health.poll()
        health.slowest = 0.0
        results: dict[str, object] = {}
        fetch = threading.Thread(target=_fetch, args=(root, results))
        fetch.start()
        while fetch.is_alive():
            health.poll()
            time.sleep(0.002)
        fetch.join()
    print(f"slowest /healthz: {health.slowest * 1000:.1f} ms of {health.polls} polls")
    assert results == {"status": 200, "size": len(body), "model": "huge"}
    assert health.polls > 20
    assert health.slowest < 0.050, f"/healthz waited {health.slowest * 1000:.0f} ms"
