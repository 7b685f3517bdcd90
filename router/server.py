"""Serving: the HTTP server under the application, its limits, its signals, its socket.

uvicorn (the httptools parser, uvloop) serves the ASGI application. `GuardedProtocol`, a
subclass of uvicorn's httptools protocol, applies the `[server]` limits before a request
reaches the router (and so before its API key is checked):

- a request head (request line and headers) over `max_header_bytes` gets 431 at once: it is
  counted as its bytes arrive, so a huge header is never buffered whole;
- a head not complete `header_timeout` after the connection opened (or after the first byte of
  a later request on it), or a body not complete `body_timeout` after its head: the connection
  is closed; one sweep per server checks these deadlines a few times a second, rather than a
  timer per request;
- an idle keep-alive connection is closed after `keepalive_timeout` (uvicorn's own timer);
- with `max_connections` open, a new connection is answered 503 and closed before it is read.

At start-up the soft limit on open files is raised to the hard limit where the system allows,
and `max_connections` is kept below it. On SIGTERM or SIGINT the server stops accepting, stops
background work at once (calibration), and lets requests in flight finish for up to
`shutdown_grace` seconds; the API layer ends the streams still running then with an error event
and a proper end (`router.api`). `--workers N`: uvicorn's supervisor runs N such servers on one
socket, each limited alike.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import shutil
import socket
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import httptools
import msgspec
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from router import __version__
from router.config import LoadedConfig, ServerConfig
from router.errors import HeadersTooLarge, InvalidRequest, RouterError, ServerBusy

log = logging.getLogger("router")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
NEVER = float("inf")
FILE_RESERVE = 256  # descriptors kept for upstream connections, model files and logs
LINGER = 1.0  # seconds a refused connection is read from before it is closed
MACOS_OPEN_MAX = 10240  # macOS refuses a soft limit above this (kern.maxfilesperproc)


class Limits(msgspec.Struct, frozen=True):
    """What a client connection may take (from `[server]`, the connection cap made to fit)."""

    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int


class RouterConfig(uvicorn.Config):
    """uvicorn's settings plus the router's limits (pickled with it to worker processes)."""

    def __init__(self, app: Any, limits: Limits, **options: Any) -> None:
        super().__init__(app, **options)
        self.limits = limits


class _HeadTooLarge(Exception):
    """Raised inside a parser callback; the parser wraps it in HttpParserCallbackError."""


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with the router's limits on every connection."""

    # in slots, not the instance dict: uvicorn's protocol holds 28 attributes already, and a
    # dict of more than 30 loses CPython's fast attribute access (~0.7 us a request, measured)
    __slots__ = ("deadline", "in_head", "limits", "received")

    def __init__(
        self,
        config: RouterConfig,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = config.limits
        self.deadline = NEVER  # when the head or the body being read must be complete
        self.in_head = True  # reading a request head (or waiting for one)
        self.received = 0  # bytes received since the last head or message ended

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            _reply(transport, ServerBusy("The router has too many open connections; retry."))
            return
        super().connection_made(transport)
        self.deadline = self.loop.time() + limits.header_timeout
        if getattr(self.server_state, "sweeper", None) is None:
            self.server_state.sweeper = _Sweeper(self.server_state, self.loop, limits)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        self.received += len(data)
        if self.deadline == NEVER and self.in_head:  # a later request on a kept-alive connection
            self.deadline = self.loop.time() + self.limits.header_timeout
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as err:
            if isinstance(err.__context__, _HeadTooLarge):
                self._head_too_large()
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        if self.in_head and self.received > self.limits.max_header_bytes:
            self._head_too_large()  # a head still incomplete after this many bytes

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request its parser cannot read (a method no HTTP parser
        knows, a malformed request line or header): in OpenAI's shape, not plain text."""
        why = "an unknown method, or a malformed request line or header"
        body = InvalidRequest(f"The router cannot read this request as HTTP/1.1: {why}.").body()
        head = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
        self.transport.write(STATUS_LINE[400] + head + b"connection: close\r\n\r\n" + body)
        self.transport.close()

    def _head_too_large(self) -> None:
        """Answer 431 and hand the connection over to a `_Linger` (it is no longer counted)."""
        self.connections.discard(self)
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # a request before, pipelined
            cycle.disconnected = True
            cycle.message_event.set()
        limit = self.limits.max_header_bytes
        _reply(self.transport, HeadersTooLarge(f"The request head is over {limit} bytes."))

    def expire(self) -> None:
        """The head or body being read is late: close the connection (the sweep calls this)."""
        self.deadline = NEVER
        if not self.transport.is_closing():
            self.transport.close()

    # parser callbacks
    def on_headers_complete(self) -> None:
        limit = self.limits.max_header_bytes
        if self.received > limit and _head_size(self.url, self.headers) > limit:
            raise _HeadTooLarge  # (under `limit` bytes received, the head is surely within it)
        self.in_head = False
        self.received = 0
        self.deadline = self.loop.time() + self.limits.body_timeout
        HttpToolsProtocol.on_headers_complete(self)  # (super() costs more in 3.11)

    def on_message_complete(self) -> None:
        self.in_head = True
        self.received = 0
        self.deadline = NEVER  # until the next request begins (idle: the keep-alive timer)
        HttpToolsProtocol.on_message_complete(self)


def _head_size(url: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """The size of a request head as sent (near enough: the method and version left out)."""
    return len(url) + sum(len(name) + len(value) + 4 for name, value in headers)


def _reply(transport: asyncio.Transport, err: RouterError) -> None:
    """Answer `err` in OpenAI's shape straight on the transport, then end the connection (a
    `_Linger` reads what the client still sends, so that closing does not reset the connection
    before the client has read the answer)."""
    body = err.body()
    head = [STATUS_LINE[err.status], b"content-type: application/json\r\n"]
    head.append(b"content-length: %d\r\nconnection: close\r\n" % len(body))
    head += [f"{k}: {v}\r\n".encode() for k, v in err.headers().items()]
    transport.write(b"".join([*head, b"\r\n", body]))
    transport.set_protocol(_Linger(transport))
    if transport.can_write_eof():
        transport.write_eof()


class _Linger(asyncio.Protocol):
    """A connection answered and done with: discard what comes until the client closes, for
    at most `LINGER` seconds (closing with unread data would make the kernel send a reset,
    and the client could lose the answer)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.timer = asyncio.get_running_loop().call_later(LINGER, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        self.timer.cancel()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()


class _Sweeper:
    """Closes the connections of one server whose head or body is late, a few times a second."""

    def __init__(self, state: Any, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.connections: set[Any] = state.connections
        self.loop = loop
        self.every = min(1.0, max(0.05, min(limits.header_timeout, limits.body_timeout) / 4))
        self.handle = loop.call_later(self.every, self.sweep)

    def sweep(self) -> None:
        now = self.loop.time()
        for late in [c for c in self.connections if getattr(c, "deadline", NEVER) < now]:
            late.expire()
        self.handle = self.loop.call_later(self.every, self.sweep)


class RouterServer(uvicorn.Server):
    """uvicorn's server, calling `on_exit` as soon as it starts shutting down (before the
    grace period in which requests in flight may finish)."""

    def __init__(self, config: uvicorn.Config, on_exit: Sequence[Callable[[], None]] = ()):
        super().__init__(config)
        self.on_exit = list(on_exit)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for hook in self.on_exit:
            hook()
        await super().shutdown(sockets)


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit where allowed; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    wanted = [hard] if hard != resource.RLIM_INFINITY else []
    for limit in [*wanted, MACOS_OPEN_MAX]:
        if limit <= soft:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
        except (ValueError, OSError):
            continue
        return limit
    return soft


def limits_of(server: ServerConfig, open_files: int) -> Limits:
    """The limits a connection gets, the connection cap kept below the open-file limit."""
    cap = min(server.max_connections, max(open_files // 2, open_files - FILE_RESERVE))
    if cap < server.max_connections:
        log.info("max_connections lowered to %d: open files are limited to %d", cap, open_files)
    return Limits(server.max_header_bytes, server.header_timeout, server.body_timeout, cap)


def server_config(app: Any, server: ServerConfig, **options: Any) -> RouterConfig:
    """uvicorn's settings for the router: its protocol with `server`'s limits."""
    settings: dict[str, Any] = {
        "loop": _event_loop(),
        "http": GuardedProtocol,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,  # the router reads no client address; skip a dict per request
        "lifespan": "on",
        "timeout_graceful_shutdown": server.shutdown_grace,
        "timeout_keep_alive": server.keepalive_timeout,
    }
    limits = limits_of(server, raise_file_limit())
    return RouterConfig(app, limits, **{**settings, **options})


def serve(
    loaded: LoadedConfig,
    host: str,
    port: int,
    workers: int,
    calibrate: Literal["quick", "full", "off"],
) -> None:
    """`router serve`: listen, then serve until SIGTERM or SIGINT."""
    server = loaded.config.server
    if host not in LOOPBACK and not server.accepted_keys():
        log.warning("listening on %s without API keys: anyone who can reach it may use it", host)
    if workers > 1:
        _check_workers(loaded)
    elif workers < 1:
        raise RouterError("--workers must be 1 or more")
    sock = listen(host, port)
    log.info("router %s listening on http://%s:%d", __version__, host, sock.getsockname()[1])
    if workers > 1:
        os.environ["ROUTER_WORKER_HOST"] = host  # what the workers listen on (decides CORS)
        _serve_workers(loaded, workers, sock)
        return
    from router.app import RouterApp

    built = RouterApp(loaded, calibrate, host)
    config = server_config(built.app, server)
    RouterServer(config, on_exit=[built.stop_background]).run(sockets=[sock])


def _check_workers(loaded: LoadedConfig) -> None:
    if loaded.source is None or any(b.kind != "openai" for b in loaded.config.backends):
        raise RouterError(
            '--workers above 1 needs a config whose backends are all kind "openai": '
            "in-process models would load once per worker"
        )


def _serve_workers(loaded: LoadedConfig, workers: int, sock: socket.socket) -> None:
    """N worker processes on one listening socket, their metrics merged through files."""
    from uvicorn.supervisors import Multiprocess

    assert loaded.source is not None  # _check_workers
    metrics_dir = tempfile.mkdtemp(prefix="router-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ["ROUTER_WORKER_CONFIG"] = str(Path(loaded.source).resolve())
    log.info("%d workers; background calibration is off (run `router calibrate`)", workers)
    app = "router.app:app_from_environment"
    config = server_config(app, loaded.config.server, factory=True, workers=workers)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a one-line error saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise RouterError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.listen(2048)
    return sock


def _event_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
