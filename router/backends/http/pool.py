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

import httpx

from router.backends.http.connection import (
    FRAMING,
    Answer,
    Connection,
    MalformedResponse,
    ResponseTooLarge,
    Retry,
    Streamed,
)

__all__ = ["Answer", "HTTPTransport", "MalformedResponse", "Pool", "ResponseTooLarge", "Streamed"]


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
        self._idle: list[Connection] = []  # LIFO: the most recently used on top
        self._open = 0  # idle, busy and connecting
        self._waiters: collections.deque[asyncio.Future[Connection | None]] = collections.deque()
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
            except Retry:
                self.release(conn)
                continue
            except BaseException:
                self.release(conn)
                raise
            answer = Answer(conn.status, conn.headers, conn.take())
            self.release(conn)
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
            except Retry:
                self.release(conn)
                continue
            except BaseException:
                self.release(conn)
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

    async def _acquire(self) -> Connection:
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

    async def _wait_for_turn(self) -> Connection | None:
        """Wait in line for a connection or, with None, a place to open one (already counted)."""
        waiter: asyncio.Future[Connection | None] = self.loop.create_future()
        self._waiters.append(waiter)
        timer = self.loop.call_later(self.read_timeout, self._expire, waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()  # given just as this request went away: pass it on
                if handed is not None:
                    self.release(handed)
                else:
                    self._open -= 1
                    self._hand_on(None)
            raise
        finally:
            timer.cancel()
            if not waiter.done():
                waiter.cancel()

    def _expire(self, waiter: asyncio.Future[Connection | None]) -> None:
        if not waiter.done():
            waiter.set_exception(
                httpx.PoolTimeout(
                    f"all {self.max_connections} connections stayed busy for {self.read_timeout:g}s"
                )
            )

    async def _connect(self) -> Connection:
        conn = Connection(self)
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

    def release(self, conn: Connection) -> None:
        """A request is over: keep its connection when the answer was read to the end."""
        reusable = conn.complete and conn.keep_alive and not conn.lost and not conn.body
        conn.active = False
        if not reusable or self._closed:
            self._drop(conn)
            return
        conn._stop_timer()
        conn.idle_since = self.loop.time()
        self._hand_on(conn)

    def _hand_on(self, conn: Connection | None) -> None:
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

    def _drop(self, conn: Connection) -> None:
        conn.active = False
        conn.close()
        self._open -= 1
        self._hand_on(None)

    def forget(self, conn: Connection) -> None:
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
            b"%s: %s\r\n" % (k, v) for k, v in request.headers.raw if k.lower() not in FRAMING
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
