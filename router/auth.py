"""API keys: the `Authorization: Bearer` check of every endpoint but health and metrics
(`x-api-key`, as Anthropic's clients send the key, is accepted as well).

The keys come from `[server] api_keys` (or its environment variable, see `ServerConfig`).
They are compared as bytes, in constant time, and with every key, so that neither the time
taken nor which key nearly matched tells a caller anything.
"""

from __future__ import annotations

import hmac

from router.config import ServerConfig
from router.errors import AuthenticationError


class Keys:
    """The accepted keys; `check` raises `AuthenticationError` unless a request carries one."""

    __slots__ = ("_keys",)

    def __init__(self, server: ServerConfig) -> None:
        self._keys = [k.encode() for k in server.accepted_keys()]

    def check(self, header: str | None, api_key: str | None = None) -> None:
        """Check a request's `Authorization` header (or its `x-api-key`) against the configured
        keys, if any."""
        if not self._keys:
            return
        token = _token_bytes(header[7:]) if header and header[:7].lower() == "bearer " else b""
        other = _token_bytes(api_key) if api_key else b""
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(token, key)
            matched |= hmac.compare_digest(other, key)
        if not matched:
            raise AuthenticationError(
                "Missing or invalid API key (Authorization: Bearer ... or x-api-key)."
            )


def _token_bytes(token: str) -> bytes:
    """A bearer token's bytes as the client sent them (servers decode headers as latin-1);
    the keys are compared as UTF-8 bytes, so a non-ASCII key matches what a client sends."""
    token = token.strip()
    try:
        return token.encode("latin-1")
    except UnicodeEncodeError:  # not decoded from bytes: the text itself
        return token.encode()
