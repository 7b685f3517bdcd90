"""Whole answers from upstreams: their size cap, the answer check off the event loop (a
concurrent `/healthz` stays fast behind a 50 MB answer), an early refusal of a declared
length over the cap, a 200 whose body is an error, and SSE keep-alive comments."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import openai
import pytest

from router.backends.http.pool import Pool, ResponseTooLarge
from router.backends.openai import OpenAIBackend
from router.config import OpenAIBackendConfig
from router.errors import AnswerTooLarge
from tests.conftest import RunningRouter, backend_toml, free_port, wait_ready
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


def _fetch(port: int, results: dict[str, object]) -> None:
    """POST the routed request and read the answer as it comes, with as little Python per
    byte as can be (this process's other threads measure the router's latency)."""
    body = msgspec.json.encode(ASK)
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + b"content-length: %d\r\n\r\n" % len(body) + body)
        got = b""
        while b"\r\n\r\n" not in got:
            got += sock.recv(65536)
        header, _, rest = got.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        fields = dict(line.lower().split(": ", 1) for line in lines[1:])
        size, length = len(rest), int(fields["content-length"])
        buffer = bytearray(2**20)
        while size < length and (n := sock.recv_into(buffer)):
            size += n
    results.update(status=int(lines[0].split()[1]), size=size, model=fields["x-router-model"])


def test_healthz_stays_fast_behind_a_50_mb_routed_answer(served: Callable[[str], str]) -> None:
    body = _answer(_big_text(50_000_000))
    models = [FakeModel("huge", body=body), FakeModel("small", answer="A short summary.")]
    with FakeUpstream(models) as fake:
        root = served(backend_toml("up", fake.base_url, "max_answer_bytes = 67108864"))
        port = int(root.rsplit(":", 1)[1])
        health = _Health(port)
        for _ in range(20):  # warm: the first requests of a process are slower
            health.poll()
        health.slowest, health.polls = 0.0, 0
        results: dict[str, object] = {}
        fetch = threading.Thread(target=_fetch, args=(port, results))
        fetch.start()
        while fetch.is_alive():
            health.poll()
            time.sleep(0.002)
        fetch.join()
    print(f"slowest /healthz: {health.slowest * 1000:.1f} ms of {health.polls} polls")
    assert results == {"status": 200, "size": len(body), "model": "huge"}
    assert health.polls >= 5  # the answer takes ~0.2 s on loopback
    assert health.slowest < 0.050, f"/healthz waited {health.slowest * 1000:.0f} ms"


def _client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)


@pytest.mark.parametrize(
    ("declared", "said"),
    [(None, "declares 34603252 bytes, over 33554432"), (0, "is larger than 33554432 bytes")],
    ids=["sized", "chunked"],
)
def test_a_whole_answer_over_the_cap_is_a_clear_502(
    start_router: Callable[[str], RunningRouter], declared: int | None, said: str
) -> None:
    body = _answer(_big_text(33 * 2**20))  # the default cap: 32 MiB
    with FakeUpstream([FakeModel("huge", body=body, declared_length=declared)]) as fake:
        router = start_router(backend_toml("up", fake.base_url))
        with pytest.raises(openai.APIStatusError) as caught:
            _client(router).chat.completions.create(model="huge", messages=ASK["messages"])
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_answer_too_large"
    assert f"the answer {said} (max_answer_bytes)" in caught.value.message


def test_a_declared_length_over_the_cap_is_refused_at_once(
    start_router: Callable[[str], RunningRouter],
) -> None:
    declared = FakeModel("liar", body=b'{"choices": [' + b" " * 2**20, declared_length=2 * 10**9)
    with FakeUpstream([declared]) as fake:
        router = start_router(backend_toml("up", fake.base_url, "read_timeout = 30"))
        start = time.perf_counter()
        with pytest.raises(openai.APIStatusError) as caught:
            _client(router).chat.completions.create(model="liar", messages=ASK["messages"])
        took = time.perf_counter() - start
        while fake.in_flight and time.perf_counter() - start < 2:
            time.sleep(0.01)
        assert fake.in_flight == 0  # the connection was closed, not read on
    assert caught.value.status_code == 502 and took < 2, f"{took:.1f}s"
    message = "the answer declares 2000000000 bytes, over 33554432 (max_answer_bytes)"
    assert message in caught.value.message


def test_a_200_whose_body_is_an_error_falls_back(
    start_router: Callable[[str], RunningRouter],
) -> None:
    error = b'{"error": {"message": "model crashed", "type": "server_error"}}'
    with (
        FakeUpstream([FakeModel("gemma", body=error)]) as one,
        FakeUpstream([FakeModel("gemma", answer="from mac two")]) as two,
    ):
        config = backend_toml("mac1", one.base_url) + backend_toml("mac2", two.base_url)
        router = start_router(config)
        raw = _client(router).chat.completions.with_raw_response.create(
            model="gemma", messages=ASK["messages"]
        )
    assert raw.parse().choices[0].message.content == "from mac two"
    assert raw.headers["x-router-reason"] == "direct; fell back from gemma (upstream_error)"
    assert router.metric("router_fallbacks_total", from_model="gemma", to_model="gemma") == 1
    assert router.metric("router_requests_total", model="gemma", backend="mac2") == 1


def test_keep_alive_comments_alone_run_into_the_read_timeout(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router(backend_toml("up", fake.base_url, "read_timeout = 0.5"))
    fake.model("fast-model").failure = "keepalive"
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0, timeout=10)
    start = time.perf_counter()
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fast-model", messages=ASK["messages"], stream=True)
    assert caught.value.status_code == 504
    assert "no event within 0.5s" in caught.value.message
    assert time.perf_counter() - start < 2


async def _lying_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request with a head announcing 300 MiB, then 1 MiB, then nothing."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 314572800\r\n\r\n" + b" " * 2**20)
    await writer.drain()
    await asyncio.sleep(30)


async def test_a_model_list_over_its_cap_is_refused() -> None:
    server = await asyncio.start_server(_lying_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = OpenAIBackendConfig(name="up", base_url=f"http://127.0.0.1:{port}/v1")
    backend = OpenAIBackend(config)
    try:
        with pytest.raises(AnswerTooLarge, match="declares 314572800 bytes"):
            await asyncio.wait_for(backend.models(), 5)
    finally:
        await backend.close()
        server.close()


async def test_an_answer_cut_at_the_cap_lets_go_of_its_buffer_at_once() -> None:
    """Without waiting for the cyclic collector (a connection and its parser refer to each
    other): 8 answers cut at 4 MiB leave nothing like 8 x 4 MiB behind."""
    body = _answer(_big_text(12 * 2**20))
    with FakeUpstream([FakeModel("huge", body=body, declared_length=0)]) as fake:
        pool = Pool("127.0.0.1", fake.port)
        request = msgspec.json.encode({"model": "huge", "messages": ASK["messages"]})
        gc.collect()
        gc.disable()
        tracemalloc.start()
        try:
            for _ in range(8):
                with pytest.raises(ResponseTooLarge):
                    await pool.request("POST", "/v1/chat/completions", request, max_body=4 * 2**20)
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            gc.enable()
            await pool.aclose()
    assert held < 4 * 2**20, f"{held / 2**20:.0f} MiB still held"
