"""`router.backends.http.pool`: the HTTP/1.1 client under the openai backend, against the fake
upstream,
against raw scripted servers (for what the fake cannot do: drop a kept-alive connection, send
garbage, end a body by closing), and side by side with httpx's own transport."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

from router.backends.http.pool import HTTPTransport, MalformedResponse, Pool, ResponseTooLarge
from router.backends.openai import OpenAIBackend
from router.backends.protocol import BackendRequest
from router.config import OpenAIBackendConfig
from router.errors import (
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeout,
    BackendUnavailable,
)
from router.wire import decode_chat
from tests.conftest import free_port
from tests.fakes.upstream import FakeModel, FakeUpstream

ANSWER = "one two three four five"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
HEADERS = [("content-type", "application/json")]


def chat(**extra: object) -> bytes:
    return json.dumps({**CHAT, **extra}).encode()


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream([FakeModel("m", answer=ANSWER)]) as up:
        yield up


def pool_for(up: FakeUpstream, **settings: float) -> Pool:
    return Pool("127.0.0.1", up.port, **settings)  # type: ignore[arg-type]


async def eventually(check: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


# ---------------------------------------------------------------- a raw scripted server

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int, int], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (sized by content-length); b"" when the peer closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""
    size = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            size = int(line.split(b":")[1])
    return head + (await reader.readexactly(size) if size else b"")


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
        % (len(body), extra, body)
    )


class RawServer:
    """Answers each request with `reply(reader, writer, connection number, request number on
    that connection)`, which writes what it likes and says whether to keep the connection."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests = 0
        self.seen: list[bytes] = []  # every request, head and body
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number, served = self.connections, 0
        try:
            while request := await read_request(reader):
                self.seen.append(request)
                self.requests += 1
                served += 1
                if not await self.reply(reader, writer, number, served):
                    break
        finally:
            writer.close()

    def pool(self, **settings: float) -> Pool:
        return Pool("127.0.0.1", self.port, **settings)  # type: ignore[arg-type]


# ---------------------------------------------------------------- answers


async def test_a_whole_answer_is_what_httpx_reads(fake: FakeUpstream) -> None:
    pool = pool_for(fake)
    answer = await pool.request("POST", "/v1/chat/completions", chat(), pool.header_block(HEADERS))
    async with httpx.AsyncClient() as client:
        expected = await client.post(fake.base_url + "/chat/completions", content=chat())
    assert answer.status == expected.status_code == 200
    mine, theirs = json.loads(answer.body), expected.json()
    assert mine["choices"] == theirs["choices"] and mine["usage"] == theirs["usage"]
    assert (
        dict((k.decode(), v.decode()) for k, v in answer.headers)["content-type"]
        == (expected.headers["content-type"])
    )
    await pool.aclose()


async def test_a_chunked_stream_comes_as_its_bytes(fake: FakeUpstream) -> None:
    pool = pool_for(fake)
    streamed = await pool.stream(
        "POST", "/v1/chat/completions", chat(stream=True), pool.header_block(HEADERS)
    )
    assert streamed.status == 200
    assert (b"transfer-encoding", b"chunked") in streamed.headers
    body = await streamed.aread()
    async with httpx.AsyncClient() as client:
        expected = await client.post(fake.base_url + "/chat/completions", content=chat(stream=True))
    events = [e for e in body.split(b"\n\n") if e]
    assert len(events) == len([e for e in expected.content.split(b"\n\n") if e])
    assert events[-1] == b"data: [DONE]"
    assert await streamed.read() == b""
    await pool.aclose()


async def test_a_body_that_ends_when_the_server_closes() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end")
        await writer.drain()
        return False

    async with RawServer(reply) as server:
        pool = server.pool()
        assert (await pool.request("GET", "/")).body == b"until the end"
        assert pool.open_connections == 0  # not kept: the body ended with the connection
        streamed = await pool.stream("GET", "/")
        assert await streamed.aread() == b"until the end"


async def test_a_large_stream_passes_whole_through_the_reading_pause() -> None:
    big = bytes(range(256)) * 8 * 1024 * 4  # 8 MB, several times the pause threshold

    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(big))
        for i in range(0, len(big), 65536):
            writer.write(big[i : i + 65536])
            await writer.drain()
        return True

    async with RawServer(reply) as server:
        pool = server.pool()
        streamed = await pool.stream("GET", "/")
        received = []
        while piece := await streamed.read():
            received.append(piece)
            await asyncio.sleep(0)  # a reader slower than the socket
        assert b"".join(received) == big
        assert pool.idle_connections == 1  # read to the end: kept


# ---------------------------------------------------------------- the keep-alive pool


async def test_connections_are_kept_and_reused_most_recent_first(fake: FakeUpstream) -> None:
    fake.model("m").ttft = 0.05
    pool = pool_for(fake)
    head = pool.header_block(HEADERS)
    await asyncio.gather(
        *(pool.request("POST", "/v1/chat/completions", chat(), head) for _ in range(3))
    )
    assert pool.open_connections == pool.idle_connections == 3
    warmest = pool._idle[-1]
    fake.model("m").ttft = 0.0
    for _ in range(5):
        await pool.request("POST", "/v1/chat/completions", chat(), head)
        assert pool._idle[-1] is warmest  # LIFO: the same socket every time
    assert pool.open_connections == 3
    await pool.aclose()
    assert pool.idle_connections == 0


async def test_idle_connections_expire(fake: FakeUpstream) -> None:
    pool = pool_for(fake, keepalive_expiry=0.05)
    await pool.request("POST", "/v1/chat/completions", chat(), pool.header_block(HEADERS))
    first = pool._idle[-1]
    await asyncio.sleep(0.1)
    await pool.request("POST", "/v1/chat/completions", chat(), pool.header_block(HEADERS))
    assert pool._idle[-1] is not first and first.lost
    assert pool.open_connections == 1


async def test_a_connection_the_server_closes_while_idle_is_forgotten() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(ok())
        await writer.drain()
        await asyncio.sleep(0.05)
        return False  # closes the kept-alive connection a moment later

    async with RawServer(reply) as server:
        pool = server.pool()
        await pool.request("GET", "/")
        assert pool.idle_connections == 1
        assert await eventually(lambda: pool.open_connections == 0)
        assert (await pool.request("GET", "/")).status == 200
        assert server.connections == 2


async def test_a_kept_connection_dropped_before_any_byte_is_retried_once_on_another() -> None:
    async def reply(
        _: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int, n: int
    ) -> bool:
        if n == 2:
            return False  # the second request on a connection: closed unanswered
        writer.write(ok(b'{"connection": %d}' % conn))
        await writer.drain()
        return True

    async with RawServer(reply) as server:
        pool = server.pool()
        await pool.request("GET", "/")
        answer = await pool.request("GET", "/")  # sent on the kept one, which drops it
        assert answer.status == 200 and json.loads(answer.body) == {"connection": 2}
        assert (server.connections, server.requests) == (2, 3)


async def test_a_new_connection_dropped_is_an_error_not_a_retry() -> None:
    async def reply(*_: object) -> bool:
        return False

    async with RawServer(reply) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await server.pool().request("GET", "/")
        assert server.connections == 1


async def test_a_drop_after_some_bytes_is_never_retried() -> None:
    async def reply(
        _: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int, n: int
    ) -> bool:
        if n == 1:
            writer.write(ok())
            return True
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf")
        await writer.drain()
        return False

    async with RawServer(reply) as server:
        pool = server.pool()
        await pool.request("GET", "/")
        with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
            await pool.request("GET", "/")
        assert server.connections == 1
        assert pool.open_connections == 0


async def test_connections_are_capped_and_callers_wait_their_turn(fake: FakeUpstream) -> None:
    fake.model("m").ttft = 0.05
    pool = pool_for(fake, max_connections=2)
    head = pool.header_block(HEADERS)
    answers = await asyncio.gather(
        *(pool.request("POST", "/v1/chat/completions", chat(), head) for _ in range(6))
    )
    assert all(a.status == 200 for a in answers)
    assert fake.peak_in_flight == 2 and pool.open_connections == 2


async def test_waiting_for_a_connection_has_a_limit(fake: FakeUpstream) -> None:
    fake.model("m").failure = "hang"
    pool = pool_for(fake, max_connections=1, read_timeout=0.2)
    head = pool.header_block(HEADERS)
    hanging = asyncio.ensure_future(
        pool.request("POST", "/v1/chat/completions", chat(), head, timeout=5)
    )
    await asyncio.sleep(0.05)
    with pytest.raises(httpx.PoolTimeout):
        await pool.request("POST", "/v1/chat/completions", chat(), head)
    hanging.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await hanging
    assert pool.open_connections == 0
    fake.model("m").failure = None
    assert (await pool.request("POST", "/v1/chat/completions", chat(), head)).status == 200


async def test_a_cancelled_request_closes_its_connection_and_the_upstream_sees_it(
    fake: FakeUpstream,
) -> None:
    fake.model("m").failure = "hang"
    pool = pool_for(fake)
    task = asyncio.ensure_future(
        pool.request("POST", "/v1/chat/completions", chat(), pool.header_block(HEADERS))
    )
    assert await eventually(lambda: fake.in_flight == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool.open_connections == 0
    assert await eventually(lambda: fake.in_flight == 0)


async def test_closing_a_stream_early_closes_the_connection(fake: FakeUpstream) -> None:
    fake.model("m").tokens_per_s = 50.0
    pool = pool_for(fake)
    streamed = await pool.stream(
        "POST", "/v1/chat/completions", chat(stream=True), pool.header_block(HEADERS)
    )
    assert (await streamed.read()).startswith(b"data: ")
    await streamed.aclose()
    assert pool.open_connections == 0
    assert await eventually(lambda: fake.in_flight == 0)


# ---------------------------------------------------------------- timeouts and failures


async def test_no_first_byte_in_time_is_a_read_timeout(fake: FakeUpstream) -> None:
    fake.model("m").failure = "hang"
    pool = pool_for(fake, read_timeout=0.2)
    with pytest.raises(httpx.ReadTimeout):
        await pool.request("POST", "/v1/chat/completions", chat(), pool.header_block(HEADERS))
    assert pool.open_connections == 0


async def test_a_stream_that_stalls_between_chunks_is_a_read_timeout(fake: FakeUpstream) -> None:
    fake.model("m").tokens_per_s = 2.0  # a chunk every 0.5 s
    pool = pool_for(fake, read_timeout=0.2)
    streamed = await pool.stream(
        "POST", "/v1/chat/completions", chat(stream=True), pool.header_block(HEADERS)
    )
    assert (await streamed.read()).startswith(b"data: ")
    with pytest.raises(httpx.ReadTimeout):
        while await streamed.read():
            pass
    assert pool.open_connections == 0


async def test_a_steady_slow_whole_answer_does_not_time_out() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(6):  # 0.6 s in all, never 0.2 s without a byte
            await asyncio.sleep(0.1)
            writer.write(b"1\r\nx\r\n")
        writer.write(b"0\r\n\r\n")
        return True

    async with RawServer(reply) as server:
        answer = await server.pool(read_timeout=0.3).request("GET", "/")
        assert answer.body == b"xxxxxx"


async def test_connecting_has_its_own_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()

    async def never(*_: object, **__: object) -> None:
        await asyncio.sleep(10)

    monkeypatch.setattr(loop, "create_connection", never)
    with pytest.raises(httpx.ConnectTimeout):
        await Pool("127.0.0.1", 9, connect_timeout=0.05).request("GET", "/")


async def test_a_refused_connection_is_a_connect_error() -> None:
    pool = Pool("127.0.0.1", free_port())
    with pytest.raises(httpx.ConnectError):
        await pool.request("GET", "/")
    assert pool.open_connections == 0


async def test_garbage_is_a_malformed_response() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(b"SPDY/9 what\r\n\r\n")
        return True

    async with RawServer(reply) as server:
        pool = server.pool()
        with pytest.raises(MalformedResponse):
            await pool.request("GET", "/")
        assert pool.open_connections == 0


async def test_a_whole_answer_past_the_limit_is_cut_off() -> None:
    async def reply(_: asyncio.StreamReader, writer: asyncio.StreamWriter, *__: int) -> bool:
        writer.write(ok(b"x" * 100_000))
        return True

    async with RawServer(reply) as server:
        pool = server.pool()
        with pytest.raises(ResponseTooLarge):
            await pool.request("GET", "/", max_body=10_000)
        assert pool.open_connections == 0
        assert len((await pool.request("GET", "/")).body) == 100_000


# ---------------------------------------------------------------- under httpx's API


async def test_under_httpx_it_answers_as_httpx_does(fake: FakeUpstream) -> None:
    async with (
        httpx.AsyncClient(transport=HTTPTransport()) as mine,
        httpx.AsyncClient() as theirs,
    ):
        for client in (mine, theirs):
            listed = await client.get(fake.base_url + "/models")
            assert listed.status_code == 200 and listed.json()["data"][0]["id"] == "m"
            missing = await client.post(
                fake.base_url + "/chat/completions", json={**CHAT, "model": "nope"}
            )
            assert missing.status_code == 404 and missing.json()["error"]["code"]
            async with client.stream(
                "POST", fake.base_url + "/chat/completions", json={**CHAT, "stream": True}
            ) as response:
                lines = [line async for line in response.aiter_lines() if line]
            assert lines[-1] == "data: [DONE]" and len(lines) == 7


async def test_under_httpx_https_goes_to_httpx_own_transport() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"via": "fallback"})

    transport = HTTPTransport(fallback=httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("https://example.invalid/v1/models")
    assert response.json() == {"via": "fallback"} and seen


async def test_under_httpx_errors_carry_the_request() -> None:
    async with httpx.AsyncClient(transport=HTTPTransport()) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get(f"http://127.0.0.1:{free_port()}/")
    assert caught.value.request.url.path == "/"


# ---------------------------------------------------------------- the backend, both paths


@contextlib.asynccontextmanager
async def backend(url: str, fast: bool, **settings: object) -> AsyncIterator[OpenAIBackend]:
    config = OpenAIBackendConfig("up", base_url=url, **settings)  # type: ignore[arg-type]
    made = OpenAIBackend(config)
    if not fast:
        made._pool = None  # the httpx path, as for an https upstream
    try:
        yield made
    finally:
        await made.close()


def request(stream: bool = False) -> BackendRequest:
    body = chat(stream=True) if stream else chat()
    return BackendRequest("chat/completions", "m", body, decode_chat(body))


async def outcome(make: Callable[[], Awaitable[object]]) -> type[BaseException] | str:
    try:
        await make()
    except BackendError as err:
        return type(err)
    return "ok"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (None, "ok"),
        ("hang", BackendTimeout),
        ("drop", BackendUnavailable),
        ("500", BackendStatusError),
        ("malformed", BackendProtocolError),
    ],
)
async def test_the_backend_fails_alike_on_both_paths(
    fake: FakeUpstream, failure: str | None, expected: object, stream: bool
) -> None:
    fake.model("m").failure = failure
    fake.model("m").fail_after_tokens = 1

    async def ask(made: OpenAIBackend) -> None:
        if stream:
            async for _ in made.stream(request(stream=True)):
                pass
        else:
            await made.complete(request())

    results = []
    for fast in (True, False):
        async with backend(fake.base_url, fast, read_timeout=0.3) as made:
            results.append(await outcome(lambda m=made: ask(m)))
    assert results == [expected, expected]


async def test_the_backend_refused_is_unavailable_on_both_paths() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    for fast in (True, False):
        async with backend(url, fast) as made:
            with pytest.raises(BackendUnavailable, match="cannot connect"):
                await made.complete(request())


async def test_the_backend_streams_the_same_events_on_both_paths(fake: FakeUpstream) -> None:
    got = []
    for fast in (True, False):
        async with backend(fake.base_url, fast) as made:
            got.append(
                [
                    e.chunk.text() if e.chunk else None
                    async for e in made.stream(request(stream=True))
                ]
            )
    assert got[0] == got[1] and "".join(t or "" for t in got[0]) == ANSWER


def test_it_runs_on_uvloop(fake: FakeUpstream) -> None:
    import uvloop  # a dependency of the router on Linux and macOS: must be there

    async def twice() -> list[int]:
        pool = pool_for(fake)
        head = pool.header_block(HEADERS)
        answers = [
            await pool.request("POST", "/v1/chat/completions", chat(), head) for _ in range(2)
        ]
        await pool.aclose()
        return [a.status for a in answers]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(twice()) == [200, 200]


async def test_credentials_in_the_url_go_as_basic_auth_and_stay_out_of_messages() -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *_: int) -> bool:
        writer.write(ok(b'{"choices": []}'))
        return True

    async with RawServer(reply) as server:
        url = f"http://user:pa55@127.0.0.1:{server.port}/v1"
        async with backend(url, True) as made:
            await made.complete(request())
    async with httpx.AsyncClient() as client:
        expected = client.build_request("GET", "http://user:pa55@127.0.0.1/")
        auth = client._build_request_auth(expected).auth_flow(expected)
        header = next(auth).headers["authorization"].encode()
    assert b"authorization: " + header in server.seen[0]
    async with backend(f"http://user:pa55@127.0.0.1:{free_port()}/v1", True) as made:
        with pytest.raises(BackendUnavailable) as caught:
            await made.complete(request())
    assert "pa55" not in caught.value.message and "127.0.0.1" in caught.value.message
