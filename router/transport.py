"""A small HTTP/1.1 client for plain-http upstreams: asyncio protocol + the `httptools` parser.

Why it exists: httpx's default engine (httpcore on anyio) costs about 1 ms of CPU per request
on loopback (a poll() on every pooled connection per request, locks, pause/resume per read),
more than everything else the router does together. This module does only what the router
needs, and does it directly:

- `Pool`: one per upstream origin (`http://host:port`). Keep-alive connections in a LIFO
  stack (the warmest socket first; idle ones expire after `keepalive_expiry`), a cap on open
  connections (callers wait in line, up to the read timeout), timeouts on connect, and on the
  response's first byte and every gap after it. Head and body go out in one write.
- `Pool.request` returns a whole `Answer`; `Pool.stream` returns a `Streamed` once the status
  line and headers are in, whose `read()` gives body bytes as they arrive (chunked, sized, or
  until close), coalesced, never re-framed.
- A pooled connection that the server had closed (its keep-alive ran out just as the request
  went) is retried on another connection, only when no byte of the response arrived. A fresh
  connection is never retried.
- `HTTPTransport`: the same pools under httpx's API (`httpx.AsyncClient(transport=...)`), with
  httpx's own default transport for everything this module does not do (https, HTTP/2,
  proxies).

Errors are httpx's exception classes, so callers translate one tree for both paths::

    httpx.ConnectError          refused, unreachable, DNS
    httpx.ConnectTimeout        no connection within the connect timeout
    httpx.ReadTimeout           no byte within the read timeout (first byte, or between two)
    httpx.PoolTimeout           no free connection within the read timeout
    httpx.RemoteProtocolError   the server closed the connection mid-answer (or before it)
    └── MalformedResponse       what came back is not HTTP/1.1
        └── ResponseTooLarge    a whole answer larger than the caller accepts
    httpx.ReadError             the connection was reset mid-answer

Cancelling a request (the client went away) closes its connection, which tells the upstream
to stop generating; only connections whose response was read to the end are reused.
Not handled here, by design: HEAD, `Expect: 100-continue`, upgrades, trailers (ignored).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Iterable

import httptools
import httpx

_HIGH_WATER = 256 * 1024  # buffered body bytes at which a stream stops reading the socket
_FRAMING = (b"content-length", b"transfer-encoding")
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


class _Retry(Exception):
    """A pooled connection was dead before any byte of the answer: try another one."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; it carries one request at a time."""

    def __init__(self, pool: Pool) -> None:
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
        self.body: list[bytes] = []
        self.buffered = 0
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
            self.pool._forget(self)
            return
        if self.complete:
            return
        if self.headed and self.until_close and exc is None:
            self._finish()
        elif not self.received:
            self._fail(_Retry() if self.reused else httpx.RemoteProtocolError(_DROPPED))
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
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.error is not None:
            return
        self.body.append(body)
        self.buffered += len(body)
        if self.max_body and self.buffered > self.max_body:
            self._fail(ResponseTooLarge(f"the answer is larger than {self.max_body} bytes"))
            self.close()
        elif self.streaming and self.buffered > _HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

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
            self.error = _Retry() if self.reused else httpx.RemoteProtocolError(_DROPPED)
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


class Streamed:
    """A response whose status and headers are in; its body is read as it arrives."""

    __slots__ = ("_conn", "_done", "headers", "pool", "status")

    def __init__(self, pool: Pool, conn: _Connection) -> None:
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
            self.pool._release(self._conn)


class Pool:
    """Keep-alive HTTP/1.1 connections to one origin; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 600.0,
        max_connections: int = 64,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.authority = f"[{host}]" if ":" in host else host
        if port != 80:
            self.authority += f":{port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._idle: list[_Connection] = []  # LIFO: the most recently used on top
        self._open = 0  # idle, busy and connecting
        self._waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    @property
    def open_connections(self) -> int:
        return self._open

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def header_block(self, headers: Iterable[tuple[str, str]] = ()) -> bytes:
        """Request headers as they go on the wire (Host first), to pass to `request`/`stream`."""
        lines = [f"host: {self.authority}\r\n".encode("latin-1")]
        lines += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers]
        return b"".join(lines)

    async def request(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: bytes | None = None,
        *,
        timeout: float | None = None,
        max_body: int = 0,
    ) -> Answer:
        """Send one request and read its whole answer (at most `max_body` bytes of body, when
        set: `ResponseTooLarge` past it, and the connection closed)."""
        data = _encode(method, target, body, headers or self.header_block())
        read_timeout = self.read_timeout if timeout is None else timeout
        while True:
            conn = await self._acquire()
            try:
                conn.send(data, read_timeout, False, max_body)
                while not conn.complete:
                    await conn.wait()
            except _Retry:
                self._release(conn)
                continue
            except BaseException:
                self._release(conn)
                raise
            answer = Answer(conn.status, conn.headers, conn.take())
            self._release(conn)
            return answer

    async def stream(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        headers: bytes | None = None,
        *,
        timeout: float | None = None,
    ) -> Streamed:
        """Send one request; returns once the answer's status and headers are in."""
        data = _encode(method, target, body, headers or self.header_block())
        read_timeout = self.read_timeout if timeout is None else timeout
        while True:
            conn = await self._acquire()
            try:
                conn.send(data, read_timeout, True)
                while not conn.headed:
                    await conn.wait()
            except _Retry:
                self._release(conn)
                continue
            except BaseException:
                self._release(conn)
                raise
            return Streamed(self, conn)

    async def aclose(self) -> None:
        """Close the idle connections now, and the busy ones as their requests end."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(httpx.ConnectError("the connection pool is closed"))

    # ---- connections -----------------------------------------------------------------------

    async def _acquire(self) -> _Connection:
        """An idle live connection (most recent first), a new one, or the next one freed."""
        if self._closed:
            raise httpx.ConnectError("the connection pool is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # first use, or a new event loop: the old sockets died with it
            self._loop, self._idle, self._open = loop, [], 0
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.lost or self.loop.time() - conn.idle_since > self.keepalive_expiry:
                self._drop(conn)
                continue
            conn.reused = True
            return conn
        if self._open >= self.max_connections:
            handed = await self._wait_for_turn()
            if handed is not None:
                handed.reused = True
                return handed
        else:
            self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._open -= 1
            self._hand_on(None)
            raise

    async def _wait_for_turn(self) -> _Connection | None:
        """Wait in line for a connection or, with None, a place to open one (already counted)."""
        waiter: asyncio.Future[_Connection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        timer = self.loop.call_later(self.read_timeout, self._expire, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()  # given just as this request went away: pass it on
                if handed is not None:
                    self._release(handed)
                else:
                    self._open -= 1
                    self._hand_on(None)
            raise
        finally:
            timer.cancel()
            if not waiter.done():
                waiter.cancel()

    def _expire(self, waiter: asyncio.Future[_Connection | None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                httpx.PoolTimeout(
                    f"all {self.max_connections} connections stayed busy for {self.read_timeout:g}s"
                )
            )

    async def _connect(self) -> _Connection:
        conn = _Connection(self)
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: conn, self.host, self.port),
                self.connect_timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {self.authority} within {self.connect_timeout:g}s"
            ) from None
        except OSError as err:
            raise httpx.ConnectError(str(err) or type(err).__name__) from None
        return conn

    def _release(self, conn: _Connection) -> None:
        """A request is over: keep its connection when the answer was read to the end."""
        reusable = conn.complete and conn.keep_alive and not conn.lost and not conn.body
        conn.active = False
        if not reusable or self._closed:
            self._drop(conn)
            return
        conn._stop_timer()
        conn.idle_since = self.loop.time()
        self._hand_on(conn)

    def _hand_on(self, conn: _Connection | None) -> None:
        """Give a connection (or, with None, a free place) to the first in line, else keep it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                if conn is None:
                    self._open += 1  # the place is the waiter's from now on
                else:
                    conn.active = True
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    def _drop(self, conn: _Connection) -> None:
        conn.active = False
        conn.close()
        self._open -= 1
        self._hand_on(None)

    def _forget(self, conn: _Connection) -> None:
        """An idle connection closed by the server: it no longer counts."""
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
            self._open -= 1
            self._hand_on(None)


def _encode(method: str, target: str, body: bytes, headers: bytes) -> bytes:
    if body or method == "POST":
        return b"%s %s HTTP/1.1\r\n%scontent-length: %d\r\n\r\n%s" % (
            method.encode(),
            target.encode(),
            headers,
            len(body),
            body,
        )
    return b"%s %s HTTP/1.1\r\n%s\r\n" % (method.encode(), target.encode(), headers)


class _Body(httpx.AsyncByteStream):
    def __init__(self, streamed: Streamed, request: httpx.Request) -> None:
        self._streamed = streamed
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while piece := await self._streamed.read():
                yield piece
        except httpx.TransportError as err:
            err.request = self._request
            raise

    async def aclose(self) -> None:
        await self._streamed.aclose()


class HTTPTransport(httpx.AsyncBaseTransport):
    """httpx's transport API over `Pool`s for http://; httpx's default one for the rest."""

    def __init__(
        self,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 600.0,
        max_connections: int = 64,
        keepalive_expiry: float = 5.0,
        fallback: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = {
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_connections": max_connections,
            "keepalive_expiry": keepalive_expiry,
        }
        self._pools: dict[tuple[str, int], Pool] = {}
        self._fallback = fallback or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=keepalive_expiry,
            ),
            trust_env=False,
        )

    def pool(self, host: str, port: int) -> Pool:
        """The pool for http://host:port (made on first use)."""
        key = (host, port)
        found = self._pools.get(key)
        if found is None:
            found = self._pools[key] = Pool(host, port, **self._settings)  # type: ignore[arg-type]
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            return await self._fallback.handle_async_request(request)
        pool = self.pool(url.host, url.port or 80)
        timeouts = request.extensions.get("timeout", {})
        read = timeouts.get("read") or pool.read_timeout
        headers = b"".join(
            b"%s: %s\r\n" % (k, v) for k, v in request.headers.raw if k.lower() not in _FRAMING
        )  # the body goes out whole, sized
        body = await request.aread()
        try:
            streamed = await pool.stream(
                request.method, url.raw_path.decode("ascii"), body, headers, timeout=read
            )
        except httpx.TransportError as err:
            err.request = request
            raise
        return httpx.Response(
            streamed.status,
            headers=streamed.headers,
            stream=_Body(streamed, request),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        await self._fallback.aclose()
