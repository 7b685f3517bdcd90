"""Faults end to end, over real sockets: what a client sees when an upstream fails, and what
the router leaves behind afterwards.

For every upstream fault (refused, 5xx, 429, a hang before the first byte or after the headers,
a drop, malformed SSE, an answer far larger than usual) the client's outcome is checked (a
fallback to the second replica before the first token; a clean OpenAI error event ending the
stream after it; the right status when there is no other candidate), and then that nothing is
left over: `router_requests_in_flight` back at 0, no request open on the fake upstream, and the
next request answered. Then clients that go away (the upstream request is closed, no asyncio
task is left in the router's loop) and a graceful shutdown of a real `router serve` process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningRouter, backend_toml, free_port
from tests.fakes.upstream import FakeModel, FakeUpstream

MESSAGES = [{"role": "user", "content": "hello"}]
ANSWER = "one two three four five six seven eight"
FAULTS = ["refused", "500", "503", "429", "hang", "hang_after_headers", "drop", "malformed"]
NO_CANDIDATE = {  # fault -> (status, code) when no other replica can take the request
    "refused": (502, "upstream_unavailable"),
    "500": (502, "upstream_error"),
    "503": (502, "upstream_error"),
    "429": (429, "rate_limit_exceeded"),
    "hang": (504, "upstream_timeout"),
    "hang_after_headers": (504, "upstream_timeout"),
    "drop": (502, "upstream_unavailable"),
    "malformed": (502, "upstream_protocol_error"),
}
TIMEOUT = "read_timeout = 0.3"
StartRouter = Callable[[str], RunningRouter]


# ---------------------------------------------------------------- helpers


def gemma(answer: str = ANSWER, **script: object) -> FakeModel:
    return FakeModel("gemma", answer=answer, **script)  # type: ignore[arg-type]


@pytest.fixture
def pair() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    """Two upstreams serving the same model id `gemma`, with different answers."""
    with (
        FakeUpstream([gemma("from mac one")]) as one,
        FakeUpstream([gemma("from mac two")]) as two,
    ):
        yield one, two


def chat(
    router: RunningRouter, stream: bool, model: str = "gemma", timeout: float = 10, **extra: object
) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, "stream": stream, **extra}
    return httpx.post(router.base_url + "/chat/completions", json=body, timeout=timeout)


def data_events(body: bytes) -> list[bytes]:
    """The `data:` payloads of a server-sent event stream, in order."""
    return [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]


def streamed_text(body: bytes) -> str:
    text = []
    for payload in data_events(body):
        if payload != b"[DONE]":
            choices = json.loads(payload).get("choices") or [{}]
            text.append((choices[0].get("delta") or {}).get("content") or "")
    return "".join(text)


def answer_text(response: httpx.Response, stream: bool) -> str:
    assert response.status_code == 200, response.text
    if stream:
        assert data_events(response.content)[-1] == b"[DONE]"
        return streamed_text(response.content)
    return response.json()["choices"][0]["message"]["content"]


def assert_openai_error(payload: bytes, code: str | None = None) -> dict[str, object]:
    error = json.loads(payload)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, error
    return error


def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def assert_settled(router: RunningRouter, *fakes: FakeUpstream) -> None:
    """Nothing in flight: not in the router's gauge, not on any upstream."""
    assert eventually(lambda: router.metric("router_requests_in_flight") == 0), "router in flight"
    for fake in fakes:
        assert eventually(lambda f=fake: f.in_flight == 0), f"upstream {fake.base_url} in flight"


def inject(fake: FakeUpstream, fault: str) -> None:
    """Make `fake` fail its next `gemma` requests with `fault` ("refused": stop listening)."""
    if fault == "refused":
        fake.stop()  # the router still believes it up: its next request is refused
    else:
        fake.model("gemma").failure = fault


def chats_on(fake: FakeUpstream) -> int:
    return sum(r.path == "/v1/chat/completions" for r in fake.requests)


def loop_tasks(router: RunningRouter) -> int:
    """How many asyncio tasks the router's event loop holds now (this probe left out)."""
    loop = router._server.servers[0].get_loop()  # uvicorn's listening server knows its loop

    async def count() -> int:
        return len(asyncio.all_tasks()) - 1

    return asyncio.run_coroutine_threadsafe(count(), loop).result(timeout=5)


# ---------------------------------------------------------------- faults before the first token


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_before_the_first_token_falls_back_and_leaves_nothing_behind(
    pair: tuple[FakeUpstream, FakeUpstream], start_router: StartRouter, fault: str, stream: bool
) -> None:
    one, two = pair
    router = start_router(
        backend_toml("mac1", one.base_url, TIMEOUT) + backend_toml("mac2", two.base_url)
    )
    inject(one, fault)
    response = chat(router, stream)
    assert answer_text(response, stream) == "from mac two"
    assert response.headers["x-router-backend"] == "mac2"
    assert router.metric("router_fallbacks_total", from_model="gemma", to_model="gemma") == 1
    assert_settled(router, one, two)
    one.model("gemma").failure = None
    assert answer_text(chat(router, stream), stream).startswith("from mac")
    assert_settled(router, one, two)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_with_no_other_candidate_is_the_right_openai_error(
    start_router: StartRouter, fault: str, stream: bool
) -> None:
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(FakeUpstream([gemma()]))
        router = start_router(backend_toml("mac1", fake.base_url, TIMEOUT))
        inject(fake, fault)
        fake.model("gemma").retry_after = "0.2"
        response = chat(router, stream)
        status, code = NO_CANDIDATE[fault]
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = assert_openai_error(response.content, code)
        assert fault != "refused" or "cannot connect" in str(error["message"])
        assert_settled(router, fake)
        if fault == "refused":  # the same upstream comes back on the same port
            fake = stack.enter_context(FakeUpstream([gemma()], port=fake.port))
        fake.model("gemma").failure = None
        if fault == "429":  # not asked again until its Retry-After is over (test_dispatch_seam)
            time.sleep(0.25)
        assert answer_text(chat(router, stream), stream) == ANSWER
        assert_settled(router, fake)


# ---------------------------------------------------------------- faults after the first token


@pytest.mark.parametrize(
    ("script", "sent", "code"),
    [
        ({"failure": "drop", "fail_after_tokens": 2}, "one two ", "upstream_unavailable"),
        ({"failure": "malformed", "fail_after_tokens": 2}, "one two ", "upstream_protocol_error"),
        ({"tokens_per_s": 2.0}, "one ", "upstream_timeout"),  # a stall: read_timeout is 0.3 s
    ],
    ids=["drop", "malformed", "stall"],
)
def test_a_fault_mid_stream_ends_it_with_an_error_event_and_no_fallback(
    pair: tuple[FakeUpstream, FakeUpstream],
    start_router: StartRouter,
    script: dict[str, object],
    sent: str,
    code: str,
) -> None:
    one, two = pair
    router = start_router(
        backend_toml("mac1", one.base_url, TIMEOUT) + backend_toml("mac2", two.base_url, TIMEOUT)
    )
    one.model("gemma").__dict__.update(script, answer=ANSWER)
    response = chat(router, True)
    assert response.status_code == 200 and response.headers["x-router-backend"] == "mac1"
    assert streamed_text(response.content) == sent  # the tokens before the fault, no more
    assert_openai_error(data_events(response.content)[-1], code)  # then the error, last
    assert response.content.endswith(b"\n\n")
    assert chats_on(two) == 0, "a started stream must not switch to another replica"
    assert_settled(router, one, two)
    one.model("gemma").__dict__.update(failure=None, tokens_per_s=None)
    assert answer_text(chat(router, True), True).startswith(("one ", "from mac two"))
    assert_settled(router, one, two)


# ---------------------------------------------------------------- answers far larger than usual


def _big_answer(megabytes: int, tokens: int) -> str:
    """`megabytes` of random text in `tokens` words (random: the loop guard stays quiet)."""
    size = megabytes * 3 * 2**20 // 4 // tokens
    rng = random.Random(8)
    return " ".join(base64.b64encode(rng.randbytes(size)).decode() for _ in range(tokens))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_5_mb_answer_passes_through_whole(start_router: StartRouter, stream: bool) -> None:
    answer = _big_answer(5, 10)
    with FakeUpstream([gemma(answer)]) as fake:
        router = start_router(backend_toml("mac1", fake.base_url))
        response = chat(router, stream)
        assert answer_text(response, stream) == answer
        assert_settled(router, fake)
        assert chat(router, stream, max_tokens=1).status_code == 200


class EndlessUpstream:
    """A raw HTTP upstream whose answers never end: one SSE event (or one JSON body) that
    grows by 64 KB at a time, up to `cap` bytes, after which it waits for the peer to close.
    It records how much it sent and whether the router closed the connection first."""

    def __init__(self, stream: bool, cap: int, then_end: bool = False) -> None:
        self.stream, self.cap, self.then_end = stream, cap, then_end
        self.sent = 0
        self.closed_by_peer = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._server.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._server.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            head = _read_request(conn)
            if head.startswith(b"GET"):
                body = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                return
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        kind = b"text/event-stream" if self.stream else b"application/json"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: " + kind + b"\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        start = b'data: {"choices": [{"delta": {"content": "' if self.stream else b'{"x": "'
        conn.sendall(b"%x\r\n%s\r\n" % (len(start), start))
        piece = b"a" * 65536
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        try:
            while self.sent < self.cap:
                conn.sendall(chunk)
                self.sent += len(piece)
        except OSError:
            self.closed_by_peer.set()
            return
        if self.then_end:
            tail = b'"}}]}\n\ndata: [DONE]\n\n' if self.stream else b'"}'
            conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail))
        if conn.recv(1) == b"":
            self.closed_by_peer.set()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536) or b"\r\n\r\n"
    head, _, rest = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            size = int(line.split(b":")[1])
            while len(rest) < size:
                rest += conn.recv(65536)
    return head


def _max_health_latency(router: RunningRouter, done: threading.Event) -> list[float]:
    """Time /healthz in a thread until `done`: how responsive the router's loop stays."""
    latencies: list[float] = []

    def probe() -> None:
        while not done.is_set():
            start = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(router.root + "/healthz", timeout=10)
            latencies.append(time.perf_counter() - start)
            time.sleep(0.05)

    threading.Thread(target=probe, daemon=True).start()
    return latencies


def _timed_chat(router: RunningRouter, stream: bool, seconds: float) -> httpx.Response | None:
    """The answer to a chat request for `m`, or None when none came within `seconds`."""
    try:
        return chat(router, stream, model="m", timeout=seconds)
    except httpx.ReadTimeout:
        return None


def test_a_64_mb_sse_event_passes_or_fails_fast_and_the_loop_stays_responsive(
    start_router: StartRouter,
) -> None:
    """Splitting events must stay linear: a quadratic buffer takes minutes over one 64 MB
    event, blocking the event loop (and every other request) meanwhile."""
    endless = EndlessUpstream(stream=True, cap=64 * 2**20, then_end=True)
    router = start_router(backend_toml("big", endless.base_url, 'models = ["m"]'))
    done = threading.Event()
    latencies = _max_health_latency(router, done)
    try:
        response = _timed_chat(router, True, 3)
    finally:
        done.set()
        endless.close()
    assert response is not None, "no answer within 3 s"
    assert max(latencies, default=0.0) < 0.5


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_answer_that_never_ends_is_cut_off_with_an_error_before_256_mb(
    start_router: StartRouter, stream: bool
) -> None:
    """Neither a whole answer nor one event may be buffered without bound."""
    endless = EndlessUpstream(stream=stream, cap=256 * 2**20)
    router = start_router(
        backend_toml("endless", endless.base_url, 'models = ["m"]\nread_timeout = 1')
    )
    try:
        response = _timed_chat(router, stream, 3)
        assert response is not None, "no answer within 3 s"
        assert response.status_code >= 500
        assert_openai_error(response.content)
        assert endless.closed_by_peer.wait(1) and endless.sent < endless.cap, endless.sent
    finally:
        endless.close()


# ---------------------------------------------------------------- clients that go away


def open_request(router: RunningRouter, body: dict[str, object]) -> socket.socket:
    """A raw connection that has sent one chat request and not read anything yet."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", router.port), timeout=5)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: router\r\n"
    head += b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(data)
    sock.sendall(head + data)
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        piece = sock.recv(65536)
        assert piece, f"the connection closed before {marker!r}: {received!r}"
        received += piece
    return received


DISCONNECTS = {  # when the client goes away: (stream, the model's script, read up to this first)
    "before_the_first_token": (True, {"failure": "hang"}, None),
    "after_the_upstream_headers": (True, {"failure": "hang_after_headers"}, None),
    "mid_stream": (True, {"tokens_per_s": 20.0, "answer": "word " * 200}, b"data: "),
    "whole_answer_pending": (False, {"failure": "hang"}, None),
}


@pytest.mark.parametrize("when", list(DISCONNECTS))
def test_a_client_that_goes_away_closes_the_upstream_request_and_leaves_no_task(
    start_router: StartRouter, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    caplog.set_level(logging.WARNING)
    stream, script, marker = DISCONNECTS[when]
    with FakeUpstream([gemma(**script)]) as fake:  # type: ignore[arg-type]
        router = start_router(backend_toml("mac1", fake.base_url))
        before = loop_tasks(router)
        sock = open_request(router, {"model": "gemma", "messages": MESSAGES, "stream": stream})
        with sock:
            assert eventually(lambda: fake.in_flight == 1), "the request never reached upstream"
            if marker is not None:
                read_until(sock, marker)
            assert router.metric("router_requests_in_flight") == 1
        assert eventually(lambda: fake.in_flight == 0), "the upstream request was left open"
        assert_settled(router, fake)
        assert eventually(lambda: loop_tasks(router) == before), "a task was left behind"
        assert router.metric("router_requests_total", status="499") == 1
        fake.model("gemma").__dict__.update(failure=None, tokens_per_s=None)
        assert chat(router, stream).status_code == 200
    assert not caplog.records, caplog.text


def test_a_client_that_goes_away_while_sending_its_body_leaves_nothing_behind(
    start_router: StartRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with FakeUpstream([gemma()]) as fake:
        router = start_router(backend_toml("mac1", fake.base_url))
        before = loop_tasks(router)
        with socket.create_connection(("127.0.0.1", router.port), timeout=5) as sock:
            sock.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: router\r\n"
                b'content-length: 1000\r\n\r\n{"model": "gem'
            )
            time.sleep(0.1)
        assert eventually(lambda: loop_tasks(router) == before), "a task was left behind"
        assert_settled(router, fake)
        assert chats_on(fake) == 0
        assert chat(router, True).status_code == 200
    assert not caplog.records, caplog.text


def test_clients_that_go_away_while_waiting_for_an_upstream_connection_free_their_place(
    start_router: StartRouter,
) -> None:
    with FakeUpstream([gemma(), FakeModel("stuck", failure="hang")]) as fake:
        router = start_router(backend_toml("mac1", fake.base_url, "max_connections = 1"))
        body = {"messages": MESSAGES, "stream": True}
        holder = open_request(router, {**body, "model": "stuck"})  # takes the one connection
        assert eventually(lambda: fake.in_flight == 1)
        waiters = [open_request(router, {**body, "model": "gemma"}) for _ in range(3)]
        assert eventually(lambda: router.metric("router_requests_total") == 0)
        time.sleep(0.2)  # the waiters are queued for the connection now
        for sock in waiters:
            sock.close()
        assert eventually(lambda: router.metric("router_requests_total", status="499") == 3)
        holder.close()
        assert_settled(router, fake)
        assert chats_on(fake) == 1, "a waiter that went away still reached the upstream"
        for _ in range(2):  # the connection's place was given back, each time
            assert answer_text(chat(router, True, timeout=3), True) == ANSWER
        assert_settled(router, fake)


# ---------------------------------------------------------------- graceful shutdown


def _wait_ready(port: int, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"router exited: {process.stderr.read()}"  # type: ignore[union-attr]
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError("the router did not become ready")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _stream_in_thread(port: int, received: list[bytes]) -> threading.Thread:
    body = {"model": "slow", "messages": MESSAGES, "stream": True}

    def read() -> None:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        with httpx.stream("POST", url, json=body, timeout=20) as response:
            received.extend(response.iter_raw())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_sigterm_lets_a_running_stream_finish_and_refuses_new_connections(
    tmp_path: Path,
) -> None:
    words = " ".join(f"w{i}" for i in range(50))  # 2.5 s at 20 tokens/s
    with FakeUpstream([FakeModel("slow", answer=words, tokens_per_s=20)]) as fake:
        config = tmp_path / "router.toml"
        config.write_text(backend_toml("lm", fake.base_url) + '[server]\nlog_level = "warning"\n')
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
                "--calibrate",
                "off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_ready(port, process)
            received: list[bytes] = []
            reader = _stream_in_thread(port, received)
            assert eventually(lambda: b"w1 " in b"".join(received), 5), "no first tokens"
            process.send_signal(signal.SIGTERM)
            assert eventually(lambda: _refused(port), 2), "still accepting after SIGTERM"
            assert reader.is_alive(), "the stream ended before new connections were refused"
            reader.join(10)
            body = b"".join(received)
            assert streamed_text(body) == words and data_events(body)[-1] == b"[DONE]"
            assert process.wait(10) in (0, -signal.SIGTERM)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
