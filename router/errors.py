"""The router's errors, and how each one reaches a client.

Every failure the router can report is one of these classes. The HTTP layer turns any
`RouterError` into OpenAI's error shape (`{"error": {"message", "type", "param", "code"}}`)
with the class's status; the CLI prints `str(err)` as one line. Errors from lower layers
(httpx, sockets, mlx, msgspec) are translated into this tree at the boundary where they occur
(the backend, the config loader), never further up.

    RouterError
    ├── ConfigError              a config file or setting is wrong (CLI: one line, exit 2)
    ├── ModelFileError           a model file cannot be read or converted (GGUF import, loading)
    ├── ServerBusy           503  open connections at `max_connections` (router.server)
    ├── ShuttingDown         503  the server stopped before the answer was complete
    ├── StoreFailed          500  the stored responses' file broke while serving
    └── RequestError             the client's request cannot be served as sent
        ├── InvalidRequest       400  malformed JSON, missing or wrong fields
        │   └── NoCapableModel   400  no model can take this request (images, tools, context)
        ├── AuthenticationError  401  missing or wrong bearer key
        ├── OriginNotAllowed     403  a CORS preflight from an origin `cors_origins` leaves out
        ├── ModelNotFound        404  no configured or discovered model by that name
        ├── EndpointNotFound     404  a path the router does not serve (lists those it does)
        ├── ResponseNotFound     404  no stored response by that id (Responses API)
        ├── MethodNotAllowed     405  a served path asked with another method (carries Allow)
        ├── PayloadTooLarge      413  body over the configured limit
        ├── HeadersTooLarge      431  request head over `max_header_bytes` (router.server)
        └── BackendError         the model's backend failed or is busy; the router may try another
            ├── Overloaded          429  the model's queue is full (carries Retry-After)
            ├── QueueTimeout        503  waited in the model's queue past the limit
            ├── BackendUnavailable  502  the connection dropped mid-answer
            │   └── BackendUnreachable 502  refused, reset, DNS, connect timeout (backend-wide)
            ├── BackendTimeout      504  no answer in time
            ├── NoModelAvailable    503  no backend has a usable model
            ├── BackendProtocolError 502 the upstream answered something that is not OpenAI
            │   └── AnswerTooLarge   502  a whole answer over `max_answer_bytes`
            ├── BackendStatusError  the upstream answered with an error status of its own
            │   └── Unsupported     400  a field an in-process model cannot honour (names it)
            ├── ModelLoadFailed     502  an in-process model's folder does not load
            ├── GenerationFailed    502  an in-process model failed while generating
            ├── BadOutput           502  an in-process answer failed its `response_format` twice
            └── AllCandidatesFailed  every candidate tried failed: carries each `Failure`
                                     (model, backend, error); status derived from them

`BackendError.retryable` says whether another candidate may be tried: true for every failure
of the backend itself, false for an upstream 4xx (the client's request is at fault there).

Not in this tree: the HTTP client's own exceptions (`router.backends.http.connection`), which
subclass httpx's so that one translation (`router.backends.translate.translated`) serves both
the router's pool and httpx; they never leave the `openai` backend.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import NamedTuple

import msgspec


class ErrorDetail(msgspec.Struct, omit_defaults=False):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


_encode = msgspec.json.Encoder().encode


def split_validation(err: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's 'Problem - at `$.a[0].b`' as ('Problem', 'a[0].b'); the path may be ''."""
    problem, _, where = str(err).partition(" - at `$")
    return problem, where.rstrip("`").lstrip(".")


class RouterError(Exception):
    """Base of every error the router reports."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> bytes:
        """The error as OpenAI's JSON error object."""
        detail = ErrorDetail(self.message, self.type, self.param, self.code)
        return _encode(ErrorBody(detail))

    def headers(self) -> dict[str, str]:
        """Extra response headers this error asks for (e.g. Retry-After)."""
        return {}


class ConfigError(RouterError):
    """A config file or setting is wrong; the message names the file, key and problem."""


class ModelFileError(RouterError):
    """A model file cannot be read, converted or loaded."""


class ServerBusy(RouterError):
    status = 503
    code = "too_many_connections"

    def headers(self) -> dict[str, str]:
        return {"retry-after": "1"}


class ShuttingDown(RouterError):
    status = 503
    code = "shutting_down"


class RequestError(RouterError):
    status = 400
    type = "invalid_request_error"


class InvalidRequest(RequestError):
    code = "invalid_request"


class NoCapableModel(InvalidRequest):
    code = "no_capable_model"


class AuthenticationError(RequestError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class OriginNotAllowed(RequestError):
    status = 403
    type = "permission_error"
    code = "origin_not_allowed"


class ModelNotFound(RequestError):
    status = 404
    code = "model_not_found"


class EndpointNotFound(RequestError):
    status = 404
    code = "endpoint_not_found"


class ResponseNotFound(RequestError):
    status = 404
    code = "not_found"


class StoreFailed(RouterError):
    """The stored responses could not be read (their file broke after it was opened)."""

    code = "response_store_failed"


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"allow": self.allow}


class PayloadTooLarge(RequestError):
    status = 413
    code = "payload_too_large"


class HeadersTooLarge(RequestError):
    status = 431
    code = "headers_too_large"


class BackendError(RequestError):
    status = 502
    type = "upstream_error"
    code = "upstream_error"
    retryable = True
    model: str | None = None  # which model and backend failed, once the dispatcher knows
    backend: str | None = None


class Overloaded(BackendError):
    status = 429
    type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


class QueueTimeout(BackendError):
    status = 503
    code = "queue_timeout"

    def headers(self) -> dict[str, str]:
        return {"retry-after": "5"}


class BackendUnavailable(BackendError):
    code = "upstream_unavailable"


class BackendUnreachable(BackendUnavailable):
    """The connection itself failed (not one model's answer): the backend-wide breaker's
    business (see `router.serving.admission`)."""


class BackendTimeout(BackendError):
    status = 504
    code = "upstream_timeout"


class NoModelAvailable(BackendError):
    status = 503
    code = "no_model_available"

    def headers(self) -> dict[str, str]:
        return {"retry-after": "5"}


class BackendProtocolError(BackendError):
    code = "upstream_protocol_error"


class AnswerTooLarge(BackendProtocolError):
    code = "upstream_answer_too_large"


class BackendStatusError(BackendError):
    """The upstream answered with an error status; 4xx passes through, 5xx becomes 502."""

    def __init__(
        self, upstream_status: int, message: str, *, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.retry_after = retry_after  # the upstream's Retry-After, passed on to the client
        self.retryable = upstream_status >= 500 or upstream_status in (404, 429)
        if upstream_status == 429:
            self.status, self.type, self.code = 429, "rate_limit_exceeded", "rate_limit_exceeded"
        elif upstream_status < 500:
            self.status = upstream_status
            self.type = "invalid_request_error"
            self.code = "upstream_rejected"

    def headers(self) -> dict[str, str]:
        return {"retry-after": self.retry_after} if self.retry_after else {}


class Unsupported(BackendStatusError):
    """A request field an in-process model cannot honour: 400, naming the field."""

    code = "unsupported_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(400, message)
        self.param = param


class ModelLoadFailed(BackendError):
    """A model folder could not be loaded; retryable, so the router may try another model."""

    code = "model_load_failed"


class GenerationFailed(BackendError):
    """The model failed while generating (before the first token the router falls back)."""

    code = "generation_failed"


class BadOutput(BackendError):
    """The model's answer failed the request's `response_format`, twice."""

    code = "response_format_failed"


class Failure(NamedTuple):
    """One candidate's failed attempt: the model, the backend it was asked on, the error."""

    model: str
    backend: str
    error: BackendError


class AllCandidatesFailed(BackendError):
    """Every candidate the dispatcher tried failed; `failures` holds each, in order.

    One failure is reported as it is (its status, body and headers). Of several, the client
    sees: a 5xx if any candidate failed with one (the last such: 502, 503 or 504), else 429 if
    any was busy (with the shortest Retry-After among them: the soonest a retry may succeed),
    else the last failure's status (e.g. a 404 from every upstream); the message names each
    model and why it failed."""

    def __init__(self, failures: list[Failure]) -> None:
        assert failures, "at least one candidate failed"
        self.failures = failures
        shown = _representative(failures)
        if len(failures) == 1:
            message = shown.message
        else:
            tried = "; ".join(f"{f.model}: {f.error.message}" for f in failures)
            message = f"Every candidate failed. {tried}"
        super().__init__(message, param=shown.param)
        self.status, self.type, self.code = shown.status, shown.type, shown.code
        self.retryable = shown.retryable
        self.model, self.backend = failures[-1].model, failures[-1].backend  # the metrics' labels
        self._headers = shown.headers()

    def headers(self) -> dict[str, str]:
        return self._headers


def _representative(failures: list[Failure]) -> BackendError:
    """The failure whose status, type and code the client sees (see AllCandidatesFailed)."""
    errors = [f.error for f in failures]
    broken = [e for e in errors if e.status >= 500]
    if broken:
        return broken[-1]
    busy = [e for e in errors if e.status == 429]
    if busy:
        return min(busy, key=lambda e: retry_after_seconds(e.headers().get("retry-after")))
    return errors[-1]


def retry_after_seconds(value: str | None, wall_now: float | None = None) -> float:
    """A Retry-After header's wait in seconds (a number or an HTTP date); inf when absent or
    unreadable."""
    text = (value or "").strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text).timestamp()
        except (TypeError, ValueError, IndexError):
            return math.inf
        seconds = when - (time.time() if wall_now is None else wall_now)
    return seconds if not math.isnan(seconds) else math.inf
