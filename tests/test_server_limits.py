"""Slow and huge requests before auth, against a real router on loopback (`router.server`):
slowloris heads, a header flood, silent connections, idle keep-alive, slow bodies, the
connection cap, and a shutdown with a stream still running past the grace period."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from router.calibration import calibrate
from tests.conftest import RunningRouter, backend_toml, free_port, wait_ready
from tests.fakes.upstream import FakeUpstream

Start = Callable[[str], RunningRouter]
CHAT = b'{"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]}'


def _config(fake: FakeUpstream, server: str) -> str:
    return f"[server]\n{server}\n" + backend_toml("lmstudio", fake.base_url)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _closed(sock: socket.socket, wait: float) -> bool:
    """Whether the peer closes `sock` within `wait` seconds (what it sends is read and dropped)."""
    sock.settimeout(wait)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def _read_all(sock: socket.socket, wait: float = 5) -> bytes:
    sock.settimeout(wait)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionError:
        pass
    return b"".join(chunks)


def test_a_head_dribbled_slower_than_header_timeout_is_closed(
    fake: FakeUpstream, start_router: Start
) -> None:
    router = start_router(_config(fake, "header_timeout = 1"))
    sock = _connect(router.port)
    began = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
    closed = False
    while not closed and time.monotonic() - began < 5:
        try:
            sock.sendall(b"x-slow: 1\r\n")  # a header line every 0.2 s: never complete
        except ConnectionError:
            closed = True
            break
        closed = _closed(sock, 0.2)
    assert closed, "the slow head was still being read after 5 s"
    assert time.monotonic() - began < 2.5
    assert httpx.get(f"{router.root}/healthz").status_code == 200


def test_a_1_mib_header_gets_431_at_once(fake: FakeUpstream, start_router: Start) -> None:
    router = start_router(_config(fake, ""))  # the default limit, 64 KiB
    sock = _connect(router.port)
    began = time.monotonic()
    with contextlib.suppress(ConnectionError):  # answered before the last byte was sent
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 2**20 + b"\r\n\r\n")
    answer = _read_all(sock)
    assert time.monotonic() - began < 1.0
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:200]
    error = msgspec.json.decode(body)["error"]
    assert error["code"] == "headers_too_large" and "65536 bytes" in error["message"]
    many = {f"x-h{i}": "v" * 100 for i in range(700)}  # 70 KB in many small headers
    assert httpx.get(f"{router.root}/healthz", headers=many).status_code == 431
    assert httpx.get(f"{router.root}/healthz", headers={"x-ok": "v" * 30_000}).status_code == 200
    body = CHAT.replace(b'"hi"', b'"' + b"w " * 150_000 + b'"')  # 300 KB
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-near: " + b"v" * 60_000
    sock = _connect(router.port)  # a head just under the limit, its body in the same packets
    sock.sendall(head + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_an_idle_keep_alive_connection_is_closed(fake: FakeUpstream, start_router: Start) -> None:
    router = start_router(_config(fake, "keepalive_timeout = 1"))
    sock = _connect(router.port)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    began = time.monotonic()
    assert _closed(sock, 5)
    assert 0.5 < time.monotonic() - began < 2.5


def test_a_body_slower_than_body_timeout_is_closed(fake: FakeUpstream, start_router: Start) -> None:
    router = start_router(_config(fake, "body_timeout = 1"))
    sock = _connect(router.port)
    began = time.monotonic()
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n"
    sock.sendall(head + b"{")
    closed = False
    while not closed and time.monotonic() - began < 5:
        try:
            sock.sendall(b" ")  # a byte every 0.2 s: 1000 bytes would take 200 s
        except ConnectionError:
            break
        closed = _closed(sock, 0.2)
    assert time.monotonic() - began < 2.5, "the slow body was still being read"
    assert router.metric("router_requests_total", status="200") == 0


def test_connections_over_the_cap_are_refused_at_once(
    fake: FakeUpstream, start_router: Start
) -> None:
    router = start_router(_config(fake, "max_connections = 4"))
    silent = [_connect(router.port) for _ in range(4)]
    time.sleep(0.3)  # accepted by now
    began = time.monotonic()
    extra = _connect(router.port)
    answer = _read_all(extra, wait=2)
    assert time.monotonic() - began < 0.5
    assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
    assert b'"code":"too_many_connections"' in answer and b"retry-after: 1" in answer
    silent.pop().close()
    time.sleep(0.3)
    assert httpx.get(f"{router.root}/healthz").status_code == 200
    for sock in silent:
        sock.close()


@pytest.fixture
def many_files() -> Iterator[None]:
    """Room in this test process for thousands of sockets (the router's are its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2500:
        pytest.fail(f"the hard limit on open files ({hard}) leaves no room for this test: raise it")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _low_file_limit() -> None:
    """The usual default soft limit (1024), as a router started from a shell would have it."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def test_a_thousand_silent_connections_do_not_stop_healthz(
    fake: FakeUpstream, tmp_path: Path, many_files: None
) -> None:
    config = tmp_path / "router.toml"
    config.write_text(_config(fake, "header_timeout = 60"))
    port = free_port()
    command = [sys.executable, "-m", "router", "serve", "--config", str(config)]
    command += ["--port", str(port), "--calibrate", "off"]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ROUTER_CONFIG": ""},
        preexec_fn=_low_file_limit,
    )
    silent: list[socket.socket] = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        silent = [_connect(port) for _ in range(1010)]
        time.sleep(0.5)  # accepted (or not) by now
        times = []
        for _ in range(5):  # connect, ask, read the status line (no client library's set-up)
            began = time.perf_counter()
            with _connect(port) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                assert probe.recv(65536).startswith(b"HTTP/1.1 200 ")
            times.append(time.perf_counter() - began)
        assert statistics.median(times) < 0.1, times
    finally:
        for sock in silent:
            sock.close()
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output


def _shutdown_config(fake: FakeUpstream, tmp_path: Path, grace: float) -> RunningRouter:
    fake.model("slow-model").answer = " ".join(["word"] * 200)
    fake.model("slow-model").tokens_per_s = 10  # 20 s for the whole answer
    config = tmp_path / "router.toml"
    config.write_text(_config(fake, f"shutdown_grace = {grace}"))
    return RunningRouter(config)


def _open_stream(port: int) -> socket.socket:
    body = CHAT.replace(b"fast-model", b"slow-model").replace(b"{", b'{"stream": true, ', 1)
    sock = _connect(port)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n"
    sock.sendall(head % len(body) + body)
    sock.settimeout(5)
    seen = b""
    while b"data: " not in seen:  # the stream is running
        seen += sock.recv(65536)
    return sock


def test_a_stream_running_past_the_grace_period_ends_with_an_error_event(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    router = _shutdown_config(fake, tmp_path, grace=1).start()
    try:
        sock = _open_stream(router.port)
        began = time.monotonic()
        router._server.should_exit = True  # as SIGTERM does
        rest = _read_all(sock, wait=10)
    finally:
        router.stop()
    assert 0.9 < time.monotonic() - began < 5
    assert rest.endswith(b"\r\n0\r\n\r\n"), rest[-200:]  # the chunked body's proper end
    last_event = rest.rstrip().split(b"data: ")[-1].split(b"\r\n")[0]
    error = msgspec.json.decode(last_event)["error"]
    assert error["code"] == "shutting_down", error
    assert router.metric("router_requests_total", status="503") == 1


def test_a_whole_answer_not_begun_by_the_end_of_the_grace_period_is_a_503(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    import openai

    router = _shutdown_config(fake, tmp_path, grace=1).start()
    client = openai.OpenAI(base_url=router.base_url, api_key="none", max_retries=0)
    stopper = threading.Timer(0.5, lambda: setattr(router._server, "should_exit", True))
    stopper.start()
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(
                model="slow-model", messages=[{"role": "user", "content": "hi"}]
            )
    finally:
        stopper.join()
        router.stop()
    assert caught.value.status_code == 503
    assert caught.value.code == "shutting_down"


def test_shutting_down_stops_background_calibration_at_once(
    fake: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calibrate, "BACKGROUND_DELAY", 0.0)
    router = _shutdown_config(fake, tmp_path, grace=5)
    router.app.calibration.mode = "quick"
    router.start()
    try:
        deadline = time.monotonic() + 10
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.05)  # calibration's first requests
        sock = _open_stream(router.port)
        task = router.app.calibration.task
        assert task is not None and not task.done()
        router._server.should_exit = True
        time.sleep(0.5)  # the stream is still running: its grace period lasts 5 s
        assert task.done(), "calibration went on during the grace period"
        sock.close()
    finally:
        router.stop()
