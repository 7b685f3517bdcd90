"""The edges of the HTTP layer: CORS for browser clients, and the answers to requests for what
the router does not serve.

CORS is a plain ASGI middleware around the whole application (`CORS`), so the raw generation
handlers, their streams, errors and unknown paths all get it, and a preflight is answered
before any API key is asked for. litestar's own `CORSConfig` would cover the same routes, but
it builds a header map for every request: ~10 us without an `Origin`, ~20 us with one (measured;
the router's whole overhead is ~200 us), against ~1 us and ~3 us here, where the raw header list
is read once and a request without an `Origin` is left alone.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) gets 204 with the
  origin, the method and the headers asked for allowed; 403 in OpenAI's shape when
  `[server] cors_origins` leaves the origin out.
- Any other request from an allowed origin gets `Access-Control-Allow-Origin` on its answer
  (streamed or not, error or not), with the `x-router-*` headers exposed to the page.

Which origins (`allowed_origins`): `cors_origins` when set ("*" for any); else any origin while
the router listens on loopback only, and none when it listens on the network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from typing import Any

from litestar import Litestar, Request
from litestar.exceptions import HTTPException
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from router.config import ServerConfig
from router.errors import EndpointNotFound, MethodNotAllowed, OriginNotAllowed

EXPOSED = b"x-router-model, x-router-task, x-router-reason, x-router-backend, x-router-session, "
EXPOSED += b"retry-after"
MAX_AGE = b"600"  # seconds a browser may keep a preflight's answer
_SHOWN_PATH = 200  # characters of an unknown path quoted back in an error


def allowed_origins(server: ServerConfig, host: str | None = None) -> list[str]:
    """The origins allowed to call the router listening on `host` (default: the config's)."""
    if server.cors_origins is not None:
        return list(server.cors_origins)
    return ["*"] if is_loopback(host or server.host) else []


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class CORS:
    """The ASGI middleware: preflights answered here, the allowed origin added to answers."""

    def __init__(self, app: ASGIApp, origins: Collection[str]) -> None:
        self.app = app
        self.any = "*" in origins
        self.origins = frozenset(o.encode("latin-1") for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = requested = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                requested = value
        if origin is None:
            await self.app(scope, receive, send)
        elif scope["method"] == "OPTIONS" and requested is not None:
            await self._preflight(scope, origin, requested, send)
        elif self.any or origin in self.origins:
            await self.app(scope, receive, _adding(send, self._allow(origin)))
        else:  # not allowed: answered as usual, and the browser keeps the answer from the page
            await self.app(scope, receive, send)

    def _allow(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        if self.any:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin), (b"vary", b"origin")]

    async def _preflight(self, scope: Scope, origin: bytes, method: bytes, send: Send) -> None:
        if not (self.any or origin in self.origins):
            shown = origin.decode("latin-1")[:_SHOWN_PATH]
            err = OriginNotAllowed(
                f"Requests from the web page at {shown} are not allowed: "
                "[server] cors_origins lists the origins that are."
            )
            headers = [(b"content-type", b"application/json")]
            await _answer(send, err.status, headers, err.body())
            return
        asked = [
            value for name, value in scope["headers"] if name == b"access-control-request-headers"
        ]
        headers = [
            *self._allow(origin),
            (b"access-control-allow-methods", method),
            (b"access-control-max-age", MAX_AGE),
        ]
        if asked:  # every header is allowed, Authorization too (a wildcard would not cover it)
            headers.append((b"access-control-allow-headers", b", ".join(asked)))
        await _answer(send, 204, headers, b"")


def _adding(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    """`send`, adding the CORS headers to the answer's start."""
    exposed = [*extra, (b"access-control-expose-headers", EXPOSED)]

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), *exposed]
            message = {**message, "headers": headers}  # type: ignore[typeddict-item]
        await send(message)

    return wrapped


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def served(app: Litestar) -> list[str]:
    """'METHOD /path' for every endpoint `app` serves (the raw ASGI handlers take POST)."""
    found = []
    for route in app.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if isinstance(route, HTTPRoute):
            methods = sorted(m for m in route.methods if m not in ("OPTIONS", "HEAD"))
        else:
            methods = ["POST"]
        found.extend(f"{method} {path}" for method in methods)
    return found


def unserved(
    request: Request[Any, Any, Any], err: HTTPException
) -> EndpointNotFound | MethodNotAllowed | None:
    """The router's error for litestar's 404 (no such path) or 405 (not with this method)."""
    asked = f"{request.method} {request.url.path[:_SHOWN_PATH]}"
    if err.status_code == 404:
        listed = ", ".join(served(request.app))
        return EndpointNotFound(f"The router does not serve {asked}; it serves {listed}.")
    if err.status_code == 405:
        allow = (err.headers or {}).get("allow", "")
        methods = ", ".join(m.strip() for m in allow.split(",") if m.strip() != "OPTIONS")
        path = request.url.path[:_SHOWN_PATH]
        return MethodNotAllowed(
            f"The router serves {path} with {methods}, not {request.method}.", allow=allow
        )
    return None
