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
    └── RequestError             the client's request cannot be served as sent
        ├── InvalidRequest       400  malformed JSON, missing or wrong fields
        │   └── NoCapableModel   400  no model can take this request (images, tools, context)
        ├── AuthenticationError  401  missing or wrong bearer key
        ├── OriginNotAllowed     403  a CORS preflight from an origin `cors_origins` leaves out
        ├── ModelNotFound        404  no configured or discovered model by that name
        ├── EndpointNotFound     404  a path the router does not serve (lists those it does)
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
            └── BackendStatusError  the upstream answered with an error status of its own

`BackendError.retryable` says whether another candidate may be tried: true for every failure
of the backend itself, false for an upstream 4xx (the client's request is at fault there).
"""

from __future__ import annotations

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
