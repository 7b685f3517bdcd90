"""The one place where an upstream's lower-layer errors become the router's.

Below the `openai` backend, two layers raise: the HTTP clients (httpx, and the router's own
pool in `router.backends.http`, which raises httpx's exception classes on purpose so that both
paths share one tree) and the decoders of what came back (msgspec, UTF-8). Every call into them
runs inside `with translated(where, what):`, which turns what escapes into a `BackendError`, as
httpx translates its transport's errors at one boundary. Errors already in the router's tree
pass through untouched.

    httpx.PoolTimeout                      QueueTimeout         503  no free pooled connection
    httpx.ConnectTimeout, ConnectError     BackendUnreachable   502  backend-wide breaker
    httpx.TimeoutException (the rest)      BackendTimeout       504
    ResponseTooLarge                       AnswerTooLarge       502  names the setting, if any
    MalformedResponse                      BackendProtocolError 502
    RemoteProtocolError, ReadError, ...    BackendUnavailable   502  connection dropped
    msgspec.DecodeError, UnicodeDecodeError BackendProtocolError 502 unreadable body

No connection at all (refused, or timed out while connecting) is the backend's failure; what
went wrong once a request was sent is the model's; a wait for a pooled connection is a queue's
(see `router.serving.admission.outcome`).
"""

from __future__ import annotations

from types import TracebackType

import httpx
import msgspec

from router.backends.http.pool import MalformedResponse, ResponseTooLarge
from router.errors import (
    AnswerTooLarge,
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    BackendUnavailable,
    BackendUnreachable,
    QueueTimeout,
)

_DECODING = (msgspec.DecodeError, UnicodeDecodeError)


class translated:  # lower case: used as `with translated(...):`, like contextlib.suppress
    """Within it, lower-layer errors are raised as the router's (see the module's table).

    `where` names the upstream in messages ("lmstudio (http://127.0.0.1:1234/v1)"), `what` the
    body being read ("answer", "model list"), `cap` the setting whose size cap a too-large body
    broke. Holds no state of its own use: one instance may serve concurrent calls."""

    __slots__ = ("cap", "what", "where")

    def __init__(self, where: str, what: str, cap: str | None = None) -> None:
        self.where = where
        self.what = what
        self.cap = cap

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        trace: TracebackType | None,
    ) -> bool:
        if isinstance(err, httpx.HTTPError):
            raise self.http(err) from None
        if isinstance(err, _DECODING):
            raise BackendProtocolError(f"{self.where}: unreadable {self.what}: {err}") from None
        return False  # nothing, or already the router's (or a cancellation): as it is

    def http(self, err: httpx.HTTPError) -> BackendError:
        """An HTTP client's error as the router's."""
        where = self.where
        if isinstance(err, httpx.PoolTimeout):
            return QueueTimeout(f"{where}: no free connection: {err}")
        if isinstance(err, httpx.ConnectTimeout):
            return BackendUnreachable(f"{where}: cannot connect: {err or 'timed out'}")
        if isinstance(err, httpx.TimeoutException):
            return BackendTimeout(f"{where}: timed out ({type(err).__name__})")
        if isinstance(err, httpx.ConnectError):
            return BackendUnreachable(f"{where}: cannot connect: {err or 'refused'}")
        if isinstance(err, ResponseTooLarge):
            return AnswerTooLarge(f"{where}: {err}" + (f" ({self.cap})" if self.cap else ""))
        if isinstance(err, MalformedResponse):
            return BackendProtocolError(f"{where}: {err}")
        if isinstance(err, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return BackendUnavailable(f"{where}: connection dropped: {err or type(err).__name__}")
        return BackendUnavailable(f"{where}: {type(err).__name__}: {err}")
