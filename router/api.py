"""The HTTP layer: OpenAI's API over a `Service`, and nothing else.

It translates: bytes and headers in, a decoded request and hints to the service, answers and
`RouterError`s back out in OpenAI's shape. The generation endpoints are raw ASGI handlers (the
hot path: the body is read once and forwarded as it came, chunks pass through as bytes); the
rest are ordinary litestar handlers. The generation handlers live in `router.api_generation`,
Anthropic's routes over them in `router.api_anthropic`, the Responses API's in
`router.api_responses`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Litestar, Request, Response, asgi, get
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from prometheus_client import CONTENT_TYPE_LATEST

from router.api_anthropic import CountTokens, Messages
from router.api_generation import Generation
from router.api_responses import Responses
from router.api_stored import stored_handlers
from router.auth import Keys
from router.backends.protocol import Endpoint, Parsed
from router.edges import CORS, allowed_origins, unserved
from router.errors import ModelNotFound, RequestError, RouterError
from router.serving.response_store import ResponseStore
from router.serving.service import Service
from router.wire import ModelList, decode_chat, decode_completion, decode_embedding, model_object

log = logging.getLogger("router")

_MODELS_PREFIX = b"/v1/models/"
_encode = msgspec.json.Encoder().encode


def create_app(
    service: Service,
    host: str | None = None,
    *,
    on_startup: Sequence[Callable[[], Any]] = (),
    on_shutdown: Sequence[Callable[[], Any]] = (),
    calibration: Callable[[], dict[str, Any] | None] = lambda: None,
    responses: ResponseStore | None = None,
) -> Litestar:
    """The litestar application serving `service`, listening on `host` (default: the config's;
    it decides which web pages may call the router, see `router.edges`). Starting and stopping
    the service is the caller's (`router.app`), through the two hooks; `calibration` says how
    far background calibration got, for `/readyz` (None: there is none); `responses` is where
    the Responses API's answers are stored (None: nowhere)."""
    keys = Keys(service.config.server)
    generation = _generation_handlers(service, keys, responses)
    app = Litestar(
        route_handlers=[
            *generation,
            *_plain_handlers(service, keys, calibration),
            *stored_handlers(responses, keys),
        ],
        on_startup=list(on_startup),
        on_shutdown=list(on_shutdown),
        exception_handlers={
            RouterError: _router_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        logging_config=None,  # litestar's default would send every httpx log line through a queue
        openapi_config=None,
        debug=False,
    )
    origins = allowed_origins(service.config.server, host)
    app.asgi_handler = CORS(app.asgi_handler, origins)  # around everything, unknown paths too
    return app


def _generation_handlers(
    service: Service, keys: Keys, responses: ResponseStore | None
) -> list[Any]:
    endpoints: list[tuple[str, Endpoint, Callable[[bytes], Parsed]]] = [
        ("/v1/chat/completions", "chat/completions", decode_chat),
        ("/v1/completions", "completions", decode_completion),
        ("/v1/embeddings", "embeddings", decode_embedding),
    ]
    handlers = []
    for path, endpoint, decode in endpoints:
        generation = Generation(service, keys, endpoint, decode)
        handlers.append(asgi(path, copy_scope=False)(generation.handle))
    for path, cls in (("/v1/messages", Messages), ("/v1/messages/count_tokens", CountTokens)):
        handlers.append(asgi(path, copy_scope=False)(cls(service, keys).handle))
    posted = Responses(service, keys, responses)
    handlers.append(asgi("/v1/responses", copy_scope=False)(posted.handle))
    return handlers


def _plain_handlers(
    service: Service, keys: Keys, calibration: Callable[[], dict[str, Any] | None]
) -> list[Any]:
    started = int(time.time())  # `created` of the router's own names and of undated models

    def models_list() -> list[dict[str, object]]:
        return [model_object(c, started) for c in service.models()]

    @get("/v1/models", sync_to_thread=False)
    def list_models(request: Request[Any, Any, Any]) -> Response[bytes]:
        keys.check(request.headers.get("authorization"))
        return Response(_encode(ModelList(models_list())), media_type="application/json")

    @get("/v1/models/{model_id:path}", sync_to_thread=False)
    def get_model(request: Request[Any, Any, Any], model_id: FromPath[str]) -> Response[bytes]:
        keys.check(request.headers.get("authorization"))
        wanted = _raw_model_id(request) or model_id.removeprefix("/")
        for card in models_list():
            if card["id"] == wanted:
                return Response(_encode(card), media_type="application/json")
        raise ModelNotFound(f"The model '{wanted}' does not exist here.", param="model")

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=False)
    def readyz() -> Response[dict[str, Any]]:
        ready, detail = service.ready()
        states = {
            s.name: {"up": s.up, "models": s.models, "error": s.error}
            for s in service.backend_states()
        }
        body = {"status": "ready" if ready else "not ready", "detail": detail, "backends": states}
        if (progress := calibration()) is not None:
            body["calibration"] = progress
        return Response(body, status_code=200 if ready else 503)

    @get("/metrics", sync_to_thread=False)
    def metrics() -> Response[bytes]:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [list_models, get_model, healthz, readyz, metrics]


def _raw_model_id(request: Request[Any, Any, Any]) -> str | None:
    """The id in `GET /v1/models/{id}` as the client sent it. litestar's path collapses '//',
    which would lose the leading '/' of ids that are absolute paths (mlx_lm.server's); the raw
    path keeps it, with '%2F' and raw slashes alike."""
    raw = request.scope.get("raw_path") or b""
    if not raw.startswith(_MODELS_PREFIX):
        return None
    return unquote_to_bytes(raw[len(_MODELS_PREFIX) :]).decode("utf-8", "replace")


def _router_error(_: Request[Any, Any, Any], err: RouterError) -> Response[bytes]:
    return Response(
        err.body(), status_code=err.status, media_type="application/json", headers=err.headers()
    )


def _http_error(request: Request[Any, Any, Any], err: HTTPException) -> Response[bytes]:
    if (unknown := unserved(request, err)) is not None:
        return _router_error(request, unknown)
    wrapped = RequestError(str(err.detail))
    wrapped.status = err.status_code
    if err.status_code == 404:
        wrapped.code = "not_found"
    return _router_error(request, wrapped)


def _internal_error(_: Request[Any, Any, Any], err: Exception) -> Response[bytes]:
    log.error("unexpected error: %r", err, exc_info=err)
    wrapped = RouterError("The router failed unexpectedly; its log says why.")
    return _router_error(_, wrapped)
