"""What clients send (chat and text completions, embeddings), as far as the router reads it.

The router forwards a client's body as it came; these Structs decode only the fields it
needs (model, stream, messages for classification, sampling settings for in-process models)
and ignore the rest, which therefore reaches the upstream untouched. Decoders are built once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

TokenCount = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


TEXT_PARTS = ("text", "input_text")  # content parts that hold text
SYSTEM_ROLES = ("system", "developer")
SYSTEM_AT = 4  # a system prompt counts among a chat's first this many messages


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class Message(msgspec.Struct, omit_defaults=True):
    role: Role
    content: str | list[ContentPart] | None = None
    tool_calls: msgspec.Raw = msgspec.Raw()  # an assistant's calls: a tool loop (routing.sessions)

    def text(self) -> str:
        """The message's text, its text parts joined; images and other parts left out."""
        content = self.content
        return content if isinstance(content, str) else content_text(content)

    def has_image(self) -> bool:
        return isinstance(self.content, list) and any(
            p.type in ("image_url", "input_image") for p in self.content
        )


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ResponseFormat(msgspec.Struct):
    type: str


class Sampling(msgspec.Struct, kw_only=True):
    """Settings shared by chat and text completions."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    stream: bool | None = None  # null is absent, as everywhere the spec allows null
    stream_options: StreamOptions | None = None
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    seed: int | None = None
    stop: str | list[str] | None = None

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def wants_usage(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)


class ChatRequest(Sampling, kw_only=True):
    messages: Annotated[list[Message], msgspec.Meta(min_length=1, max_length=100_000)]
    tools: list[msgspec.Raw] | None = None
    response_format: ResponseFormat | None = None
    user: msgspec.Raw = msgspec.Raw()  # read only to name a conversation (routing.sessions)
    metadata: msgspec.Raw = msgspec.Raw()

    def user_turn(self) -> tuple[str, str]:
        """(system prompt, the user's trailing turn): see `user_turn`."""
        return user_turn(self.messages)

    def last_user_text(self) -> str:
        """The text of the last message the user wrote, wherever it stands."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        return ""


class CompletionRequest(Sampling, kw_only=True):
    prompt: str | list[str]

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else self.prompt

    def user_turn(self) -> tuple[str, str]:
        """No system prompt; the prompts joined are the user's turn."""
        return "", "\n".join(self.prompts())

    def last_user_text(self) -> str:
        prompts = self.prompts()
        return prompts[-1] if prompts else ""


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: str | list[str | int | list[int]]


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):  # the usual cases first: the ABC check costs more
        return obj.get(name)
    if isinstance(obj, Message):
        return getattr(obj, name, None)
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def content_text(content: Any) -> str:
    """A message's text: the string itself, or its text parts (`TEXT_PARTS`, or bare strings)
    joined by newlines; images and other parts left out. Reads decoded content and plain JSON
    (dicts, a single part) alike; anything else is no text."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        content = [content]
    elif not isinstance(content, list | tuple):
        return ""
    texts = (
        p if isinstance(p, str) else _field(p, "text")
        for p in content
        if isinstance(p, str) or _field(p, "type") in TEXT_PARTS
    )
    return "\n".join(t for t in texts if isinstance(t, str))


def user_turn(messages: Any) -> tuple[str, str]:
    """(system prompt, the user's trailing turn) of a chat: the first system or developer
    message among the first `SYSTEM_AT`, and the user messages after the last message of
    another role, joined. A request gives its own; a bare string is a user turn; decoded
    messages and plain JSON (dicts) alike, and odd input is no text, never an error."""
    if not isinstance(messages, (list, tuple)):  # messages, the usual case, tested first
        if isinstance(messages, (ChatRequest, CompletionRequest)):
            return messages.user_turn()
        return ("", messages) if isinstance(messages, str) else ("", "")
    system = _system(messages)
    users: list[str] = []
    for msg in reversed(messages):
        role = _field(msg, "role")
        if role == "user":
            users.append(content_text(_field(msg, "content")))
        elif users and role not in SYSTEM_ROLES:
            break
    return system, "\n".join(reversed(users))


def user_turns(messages: Any, last: int = 4) -> tuple[str, list[tuple[str, str]]]:
    """(system prompt, the chat's last `last` user turns, oldest first), each turn as (its
    text, the assistant's text just before it: the answer to the turn before, "" if none). A
    turn is a run of user messages (system messages in it skipped), joined, as in `user_turn`,
    whose turn is the last here. Reads back only as far as `last` turns; a completion request
    or a bare string is one turn; odd input is no turn, never an error."""
    if isinstance(messages, ChatRequest):
        messages = messages.messages
    elif not isinstance(messages, (list, tuple)):
        system, turn = user_turn(messages)
        return system, [(turn, "")] if turn else []
    turns: list[list[str]] = []
    run: list[str] = []
    for msg in reversed(messages):
        decoded = type(msg) is Message  # the server's case: attributes, no look-up by name
        role = msg.role if decoded else _field(msg, "role")
        if role == "user":
            if not run and len(turns) == last:
                break
            content = msg.content if decoded else _field(msg, "content")
            run.append(content if type(content) is str else content_text(content))
        elif role not in SYSTEM_ROLES:
            if run:
                turns.append(["\n".join(reversed(run)), ""])
                run = []
            if role == "assistant" and turns and not turns[-1][1]:
                turns[-1][1] = content_text(msg.content if decoded else _field(msg, "content"))
    if run:
        turns.append(["\n".join(reversed(run)), ""])
    return _system(messages), [(t, a) for t, a in reversed(turns)]


def _system(messages: list[Any] | tuple[Any, ...]) -> str:
    """The first system or developer message's text among the first `SYSTEM_AT`."""
    for m in messages[:SYSTEM_AT]:
        if type(m) is Message:  # the server's case: attributes, no look-up by name
            if m.role in SYSTEM_ROLES:
                return content_text(m.content)
        elif _field(m, "role") in SYSTEM_ROLES:
            return content_text(_field(m, "content"))
    return ""


decode_chat = msgspec.json.Decoder(ChatRequest).decode
decode_completion = msgspec.json.Decoder(CompletionRequest).decode
decode_embedding = msgspec.json.Decoder(EmbeddingRequest).decode
decode_fields = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
encode = msgspec.json.Encoder().encode


def replace_fields(body: bytes, **fields: object) -> bytes:
    """The body with some top-level fields set; every other field kept byte for byte."""
    top = decode_fields(body)
    for key, value in fields.items():
        top[key] = msgspec.Raw(encode(value))
    return encode(top)
