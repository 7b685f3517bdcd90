"""One HTTP/1.1 connection to an upstream: an asyncio protocol fed by the `httptools` parser.

`Connection` writes a request (head and body in one write) and parses the answer as it
arrives: a whole `Answer`, or a `Streamed` whose `read()` gives body bytes as they come
(chunked, sized or until close), with back-pressure past a high-water mark. A whole answer
grows in one `io.BytesIO` (no join of its pieces at the end: a 50 MB answer would stall the
event loop) and is read `WHOLE_STEP` bytes per turn of the loop (uvloop reads up to 8 MiB per
socket event, ~15 ms in which no other client is served), one declaring a length over the
caller's cap is refused at its headers, and the buffers of a failed or closed answer are let go
at once. It raises httpx's exception classes (see `router.backends.http.pool` for the tree);
`Retry` tells the pool that a reused connection was closed by the server before any byte of the
answer, so another may be tried.

Its own two exceptions (`MalformedResponse`, `ResponseTooLarge`) live here, not in
`router.errors`: they are httpx exceptions (subclasses of `httpx.RemoteProtocolError`), raised
below the backend boundary as httpx's own are, and turned into the router's errors with them in
one place (`router.backends.translate.translated`); no caller above the `openai` backend sees
them.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Protocol

import httptools
import httpx

_HIGH_WATER = 256 * 1024  # buffered body bytes at which a stream stops reading the socket
WHOLE_STEP = 2**20  # whole answers: body bytes read before the loop's other work gets a turn
FRAMING = (b"content-length", b"transfer-encoding")
_DROPPED = "Server disconnected without sending a response."
_INCOMPLETE = "peer closed connection without sending complete message body"


class MalformedResponse(httpx.RemoteProtocolError):
    """The upstream's answer is not valid HTTP/1.1."""


class ResponseTooLarge(MalformedResponse):
    """A whole answer grew past the size the caller accepts (`Pool.request(max_body=...)`)."""


class Answer:
    """A whole response: status, headers as sent (raw), body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Retry(Exception):
    """A pooled connection was dead before any byte of the answer: try another one."""


class Owner(Protocol):
    """What a connection needs of the pool that holds it. The pool imports this module and
    implements this; the connection never imports the pool."""

    loop: asyncio.AbstractEventLoop

    def release(self, conn: Connection) -> None:
        """A request on `conn` is over: keep it for the next one, or close it."""

    def forget(self, conn: Connection) -> None:
        """`conn` closed while idle: it no longer counts."""


class Connection(asyncio.Protocol):
    """One keep-alive connection; it carries one request at a time."""

    def __init__(self, pool: Owner) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False  # the socket is closed (either side)
        self.active = False  # carrying a request (else idle in the pool)
        self.reused = False  # this request is not the connection's first
        self.idle_since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._begin(0.0)

    def _begin(self, timeout: float) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []  # streamed answers: the pieces not read yet
        self.whole: io.BytesIO | None = None  # whole answers: the body so far
        self.buffered = 0
        self.step_end = WHOLE_STEP  # whole answers: where reading pauses for one loop turn
        self.received = False  # any byte of this request's answer
        self.headed = False  # status line and headers complete
        self.complete = False  # the whole answer is in
        self.keep_alive = False
        self.until_close = False  # the body ends when the server closes
        self.paused = False
        self.streaming = False  # read piece by piece (else whole): may pause the socket
        self.max_body = 0  # whole answers: the most body bytes accepted (0: no limit)
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.timeout = timeout
        self.activity = 0.0

    # ---- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.lost:  # closed by this side; what was already in flight does not matter
            return
        if not self.active or self.complete:  # bytes nobody asked for: the stream is unusable
            self.close()
            return
        self.received = True
        self.activity = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(MalformedResponse(f"malformed HTTP response: {err}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.active:
            self.pool.forget(self)
            return
        if self.complete:
            return
        if self.headed and self.until_close and exc is None:
            self._finish()
        elif not self.received:
            self._fail(Retry() if self.reused else httpx.RemoteProtocolError(_DROPPED))
        elif isinstance(exc, OSError):
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        else:
            self._fail(httpx.RemoteProtocolError(_INCOMPLETE))

    def pause_writing(self) -> None:  # large bodies: the read timer covers a stalled upload
        pass

    def resume_writing(self) -> None:
        pass

    # ---- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.status = self.parser.get_status_code()
        if status < 200:
            return  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        sized = False
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                sized = True
                break
        self.until_close = not sized and status not in (204, 304)
        self.headed = True
        if self.max_body and (declared := _declared_length(self.headers)) > self.max_body:
            accepted = self.max_body
            self._fail(ResponseTooLarge(f"the answer declares {declared} bytes, over {accepted}"))
            self.close()
            return
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.error is not None:
            return
        self.buffered += len(body)
        if not self.streaming:
            if self.max_body and self.buffered > self.max_body:
                self._fail(ResponseTooLarge(f"the answer is larger than {self.max_body} bytes"))
                self.close()
                return
            if self.whole is None:
                self.whole = io.BytesIO()
            self.whole.write(body)
            if self.buffered >= self.step_end:
                self.step_end = self.buffered + WHOLE_STEP
                self.transport.pause_reading()  # type: ignore[union-attr]
                self.loop.call_soon(self._after_a_turn)
            return
        self.body.append(body)
        if self.buffered > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def _after_a_turn(self) -> None:
        if not self.lost and not self.paused:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        if self.status < 200:
            self.headers = []
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._finish()

    # ---- the request's side ----------------------------------------------------------------

    def send(self, data: bytes, timeout: float, streaming: bool, max_body: int = 0) -> None:
        """Write a request (head and body at once) and start the read timer."""
        self._begin(timeout)
        self.streaming = streaming
        self.max_body = max_body
        self.active = True
        if self.lost:  # closed while it was being handed over
            self.error = Retry() if self.reused else httpx.RemoteProtocolError(_DROPPED)
            return
        self.activity = self.loop.time()
        self._timer = self.loop.call_at(self.activity + timeout, self._check_timeout)
        self.transport.write(data)  # type: ignore[union-attr]

    async def wait(self) -> None:
        """Until the protocol has news (headers, body, end, or an error); raises the error."""
        if self.error is None:
            waiter = self.waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self.waiter = None
        if self.error is not None:
            raise self.error

    def take(self) -> bytes:
        """The body bytes buffered so far (and reading resumed, if it had paused)."""
        if self.whole is not None:  # getvalue() hands over the buffer itself: no copy
            data, self.whole, self.buffered = self.whole.getvalue(), None, 0
            return data
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.buffered = 0
        if self.paused and not self.lost:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.close()
        self.lost = True
        self._stop_timer()
        self._drop_buffers()

    def _drop_buffers(self) -> None:
        """Let go of a whole answer's bytes (the connection lives on until the cyclic
        collector frees it: its parser refers back to it). A stream's unread pieces stay
        readable: they come before the error."""
        if self.whole is not None:
            self.whole, self.buffered = None, 0

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self) -> None:
        self.complete = True
        self._stop_timer()
        self._wake()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        self._stop_timer()
        self._drop_buffers()
        self._wake()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_timeout(self) -> None:
        """The read timer: re-armed while bytes keep coming (or the reader holds them)."""
        self._timer = None
        if self.complete or self.error is not None:
            return
        due = self.activity + self.timeout
        if self.streaming and (self.paused or self.buffered):
            self.activity = self.loop.time()  # our reader is slow, not the upstream
            due = self.activity + self.timeout
        if due > self.loop.time():
            self._timer = self.loop.call_at(due, self._check_timeout)
            return
        what = "the rest of the answer" if self.received else "the answer"
        self._fail(httpx.ReadTimeout(f"no byte of {what} within {self.timeout:g}s"))
        self.close()


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length an answer announces (0 when none, or not a number)."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else 0
    return 0


class Streamed:
    """A response whose status and headers are in; its body is read as it arrives."""

    __slots__ = ("_conn", "_done", "headers", "pool", "status")

    def __init__(self, pool: Owner, conn: Connection) -> None:
        self.pool = pool
        self._conn = conn
        self._done = False
        self.status = conn.status
        self.headers = conn.headers

    async def read(self) -> bytes:
        """The body bytes that arrived since the last call (waiting for some); b"" at the end."""
        conn = self._conn
        while True:
            if self._done:  # given back: the connection may carry another answer by now
                return b""
            if conn.body:
                return conn.take()
            if conn.complete:
                self._release()
                return b""
            try:
                await conn.wait()
            except BaseException:
                self._release()
                raise

    async def aread(self, limit: int | None = None) -> bytes:
        """The rest of the body; with `limit`, at most about that many bytes (the connection
        is then closed by `aclose`, unread)."""
        parts = []
        size = 0
        while piece := await self.read():
            parts.append(piece)
            size += len(piece)
            if limit is not None and size >= limit:
                break
        return b"".join(parts)

    async def iter_raw(self) -> AsyncIterator[bytes]:
        while piece := await self.read():
            yield piece

    async def aclose(self) -> None:
        """Give the connection back: kept when the body was read to the end, else closed."""
        self._release()

    def _release(self) -> None:
        if not self._done:
            self._done = True
            self.pool.release(self._conn)
