"""Conversations: which one a request belongs to, and whether it stays on its model.

Pure: no I/O, no clock. The running router keeps the sessions (`router.serving.sessions`);
these functions decide.

1. `identify(headers, request)`: the conversation's id. Named by the client where it says so
   (`x-session-id`, `x-claude-code-session-id`, `metadata.session_id`), else a stable hash of
   the system prompt and the first user turn, scoped by a client's user id (OpenAI's `user`,
   Anthropic's `metadata.user_id`) when it sends one. Without a user id, a request is known as
   a conversation only from its second turn (an assistant turn or a second user turn). The hash
   is the same in every process, so two routers name a conversation alike.
2. `turn_of(request)`: which user turn this is, whether it closes a tool loop (the last message
   a tool result or an assistant's tool call), and the prompt's size (the whole conversation,
   and what came since the last answer).
3. `follow(...)`: the route for a turn of a known conversation. A tool loop stays on the model
   that made the call; a turn whose task is unchanged stays on its model; a task change moves
   only when the new best is clearly better once the re-read of the conversation is counted
   (`worth_switching`); a model that can no longer take the request is left.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.structs

from router.routing.policy import Candidate, Needs, Settings, rank
from router.tasks import Policy
from router.wire import content_text

SESSION_HEADERS = ("x-session-id", "x-claude-code-session-id")  # a client's own name for it
MAX_ID = 128  # a client's id longer than this, or not printable ASCII, is hashed
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,128}")  # MAX_ID
PRIOR_PROMPT_TPS = 600.0  # prompt tokens read per second per GB of weights, when unmeasured
MAX_PRIOR_PROMPT_TPS = 3000.0
CHARS_PER_TOKEN = 3  # as routing.decide.needs_of: between English (~4) and Japanese (~1-2)
KINDS = ("new", "kept", "tool", "switched", "unfit")  # how a turn was placed (bounded)


class SessionId(msgspec.Struct, frozen=True):
    id: str  # printable ASCII, at most MAX_ID characters: goes out as `x-router-session`
    source: str  # the header or field that named it, or "conversation" for the hash


class Turn(msgspec.Struct, frozen=True):
    number: int  # user turns so far, this one included (1 for a first turn)
    tool_loop: bool  # the last message is a tool result or an assistant's tool call
    prompt_tokens: int  # the whole conversation, estimated
    new_tokens: int  # what came after the last assistant turn (a warm cache reads only this)


class Prior(msgspec.Struct, frozen=True):
    """Where a conversation is: the model that answered it, for which task, since which turn."""

    model: str
    task: str
    since: int


class Steer(msgspec.Struct, frozen=True):
    candidates: list[str]  # best first
    task: str
    reason: str  # "" for a new conversation (the policy's reason stands), else the session's
    kind: str  # one of KINDS


def _field(obj: Any, name: str) -> Any:
    """A field of a decoded request (a Struct) or of plain JSON (a dict)."""
    return obj.get(name) if type(obj) is dict else getattr(obj, name, None)


def _text(value: Any) -> str | None:
    """A client's id as a string: decoded JSON (raw bytes decoded first), or None."""
    if isinstance(value, msgspec.Raw):
        if not len(value):  # absent from the request
            return None
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.strip() else None


def stable_hash(*parts: str) -> str:
    """The same short id for the same parts, in every process and on every machine."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def _named(value: str) -> str:
    value = value.strip()
    return value if _PRINTABLE.fullmatch(value) else "s-" + stable_hash(value)


def _messages(request: Any) -> list[Any]:
    messages = _field(request, "messages")
    return messages if isinstance(messages, list) else []


def _opening(request: Any, messages: list[Any]) -> tuple[str, str]:
    """(system prompt, first user turn): what names a conversation from its start."""
    system = content_text(_field(request, "system"))  # Anthropic's top-level system prompt
    first = ""
    for m in messages:
        role = _field(m, "role")
        if role in ("system", "developer") and not system:
            system = content_text(_field(m, "content"))
        elif role == "user":
            first = content_text(_field(m, "content"))
            break
    return system, first


def identify(headers: Mapping[str, str], request: Any) -> SessionId | None:
    """The conversation a request belongs to (see the module's docstring), or None. `headers`
    by lower-case name; `request` any parsed request with `messages` (and `user`, `metadata`,
    `system` where its API has them)."""
    for name in SESSION_HEADERS:
        if value := _text(headers.get(name)):
            return SessionId(_named(value), name)
    metadata = _field(request, "metadata")
    if isinstance(metadata, msgspec.Raw):
        metadata = _text_map(metadata)
    if value := _text(_field(metadata, "session_id")):
        return SessionId(_named(value), "metadata.session_id")
    messages = _messages(request)
    if not messages:
        return None
    scope, source = _text(_field(metadata, "user_id")), "metadata.user_id"
    if scope is None:
        scope, source = _text(_field(request, "user")), "user"
    if scope is None:
        if len(messages) < 2:
            return None  # a first turn: nothing says a conversation will follow
        roles = [_field(m, "role") for m in messages]
        if "assistant" not in roles and roles.count("user") < 2:
            return None
        scope, source = "", "conversation"
    return SessionId("c-" + stable_hash(scope, *_opening(request, messages)), source)


def _text_map(raw: msgspec.Raw) -> dict[str, Any]:
    if not len(raw):
        return {}
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _present(value: Any) -> bool:
    """A field that holds something: not absent, null or empty (raw JSON read as such)."""
    if isinstance(value, msgspec.Raw):
        return bytes(memoryview(value)).strip() not in (b"", b"null", b"[]")
    return bool(value)


def turn_of(request: Any) -> Turn:
    """Which user turn a chat request is, whether it closes a tool loop, and its size."""
    messages = _messages(request)
    users = sum(1 for m in messages if _field(m, "role") == "user")
    last = messages[-1] if messages else None
    role = _field(last, "role")
    tool_loop = role in ("tool", "function") or (
        role == "assistant" and _present(_field(last, "tool_calls"))
    )
    total = since = 0
    for m in messages:
        size = len(content_text(_field(m, "content")))
        total += size
        since = 0 if _field(m, "role") == "assistant" else since + size
    return Turn(max(users, 1), tool_loop, total // CHARS_PER_TOKEN, since // CHARS_PER_TOKEN)


def prompt_speed(measured: float | None, size_bytes: int | None) -> float:
    """Prompt tokens a second: the profile's, else a prior from the model's size (memory-bound
    reading on Apple silicon; a 4 GB model ~150 tokens/s, a small one up to 3,000)."""
    if measured:
        return measured
    gb = (size_bytes or 4e9) / 1e9
    return min(MAX_PRIOR_PROMPT_TPS, PRIOR_PROMPT_TPS / max(gb, 0.05))


def reread_seconds(turn: Turn, stay_tps: float, best_tps: float) -> tuple[float, float]:
    """The prompt reading each side costs: staying reads only what came since the last answer
    (the rest is in its warm cache); moving re-reads the whole conversation."""
    return turn.new_tokens / stay_tps, turn.prompt_tokens / best_tps


def worth_switching(
    task: str,
    stay: Candidate,
    best: Candidate,
    costs: tuple[float, float],
    needs: Needs,
    policy: Policy,
    settings: Settings,
    margin: float,
) -> bool:
    """Whether the new best beats staying by at least `margin` of the policy's score, each
    side's prompt reading (`costs`: stay, best) added to its expected time."""
    with_cost = [
        msgspec.structs.replace(c, latency_seconds=c.latency_seconds + extra)
        for c, extra in ((stay, costs[0]), (best, costs[1]))
    ]
    decision = rank(task, with_cost, needs, policy, settings)
    scores = {r.model: r.score for r in decision.ranked}
    if best.model not in scores:
        return False
    if stay.model not in scores:
        return True
    return decision.ranked[0].model == best.model and scores[best.model] - scores[stay.model] >= (
        margin
    )


def _staying(prior: Prior, fresh: list[str], limit: int) -> list[str]:
    return [prior.model, *(m for m in fresh if m != prior.model)][:limit]


def follow(
    prior: Prior | None,
    turn: Turn,
    task: str,
    fresh: list[str],
    stay_fits: bool,
    switch: bool,
    limit: int,
) -> Steer:
    """The route for a turn: `fresh` is the policy's for this request alone; `stay_fits` says
    the prior model can take the request (or the policy took it anyway: when no model declares
    what a request needs, its candidates are the default's, and the prior model among them is no
    reason to move); `switch` is `worth_switching`'s answer (asked only when the task
    changed)."""
    if prior is None:
        return Steer(fresh, task, "", "new")
    if not stay_fits and prior.model not in fresh:
        return Steer(fresh, task, f"switched: {prior.model} cannot take it", "unfit")
    if turn.tool_loop:
        kept = _staying(prior, fresh, limit)
        return Steer(kept, prior.task, f"tool loop: kept from turn {prior.since}", "tool")
    if task != prior.task and fresh and fresh[0] != prior.model and switch:
        return Steer(fresh, task, f"switched: task changed to {task}", "switched")
    reason = f"kept from turn {prior.since}"
    if task != prior.task:
        reason += f" (task changed to {task}; not worth a switch)"
    return Steer(_staying(prior, fresh, limit), task, reason, "kept")
