"""How many tokens a chat request's prompt is, for the model it would be routed to
(`POST /v1/messages/count_tokens`).

The route is decided as for an answer (`Service.explain`: `auto`, `router/<task>` and aliases
alike) and its first candidate counts. An in-process model counts with its own tokenizer
(read from its folder, without the weights, kept for later requests) over its chat template,
tools included: exact. Any other model gets an estimate (about 3 characters a token, as
routing assumes, plus a few tokens a message), and the answer says it is one.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import msgspec

from router.backends.mlx.prompt import chat_messages
from router.routing.decide import Hints
from router.serving.service import Service
from router.wire import ChatRequest, decode_fields

PER_MESSAGE = 4  # role and separators, about what chat templates add per message
CHARS_PER_TOKEN = 3  # between English (~4) and Japanese (~1-2), as routing assumes


class Count:
    __slots__ = ("exact", "model", "tokens")

    def __init__(self, model: str, tokens: int, exact: bool) -> None:
        self.model = model
        self.tokens = tokens
        self.exact = exact


async def count_tokens(service: Service, parsed: ChatRequest, body: bytes, hints: Hints) -> Count:
    """The prompt's tokens for the model `parsed` routes to (RouterErrors as for an answer)."""
    model = service.explain(parsed.model, hints, parsed).route.candidates[0]
    for replica in service.catalog.replicas(model):
        path = _folder(replica.backend, replica.name)
        if path is not None:
            tokens = await asyncio.to_thread(_exact, path, parsed, body)
            return Count(model, tokens, True)
    return Count(model, estimate(parsed, body), False)


def estimate(parsed: ChatRequest, body: bytes) -> int:
    """About how many tokens: the messages' text and the tools' JSON, ~3 characters each."""
    chars = sum(len(m.text()) for m in parsed.messages)
    tools = decode_fields(body).get("tools")
    chars += len(bytes(tools)) if tools is not None else 0
    return max(1, chars // CHARS_PER_TOKEN + PER_MESSAGE * len(parsed.messages))


def _folder(backend: Any, name: str) -> Path | None:
    """An in-process model's folder, where its tokenizer can be read."""
    if getattr(backend, "kind", None) != "mlx":
        return None
    slot = backend.residency.slots.get(name)
    path = getattr(slot, "path", None)
    return path if path is not None and (path / "config.json").is_file() else None


def _exact(path: Path, parsed: ChatRequest, body: bytes) -> int:
    raw = _raw(body)
    messages = chat_messages(parsed.messages, raw.get("messages") or [])
    tools = raw.get("tools") or None
    tokenizer = _tokenizer(path)
    if tools:
        return len(tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True))
    return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True))


def _raw(body: bytes) -> dict[str, Any]:
    value = msgspec.json.decode(body)
    return value if isinstance(value, dict) else {}


@functools.lru_cache(maxsize=8)
def _tokenizer(path: Path) -> Any:
    from mlx_lm.utils import load_tokenizer  # mlx-lm is heavy: only when a model counts

    return load_tokenizer(path)
