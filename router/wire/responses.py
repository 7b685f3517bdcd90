"""OpenAI's Responses API on the wire: what clients send to `POST /v1/responses`, the Response
object the router answers, and the streamed events. Field names follow the `openai` SDK's typed
models (`openai.types.responses`).

The request is decoded in two steps. `ResponsesRequest` reads the settings and keeps `input`
items and `tools` as plain JSON, so that a request using something the chat path cannot express
(a hosted tool, a file, an item reference) still decodes and `untranslatable` can name it (the
place a pass-through to an upstream's own `/v1/responses` hooks in: pure, no I/O).
`responses_chat.input_items` then reads each item into its Struct. Translating to and from
chat completions is `router.wire.responses_chat`'s.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from router.errors import InvalidRequest
from router.wire.answers import sse_event

TokenCount = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
ItemStatus = Literal["in_progress", "completed", "incomplete"]

# --- request -----------------------------------------------------------------------------------


class InputText(msgspec.Struct, tag="input_text", tag_field="type"):
    text: str


class InputImage(msgspec.Struct, tag="input_image", tag_field="type"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str = "auto"


class OutputTextPart(msgspec.Struct, tag="output_text", tag_field="type"):
    """An earlier answer's text, sent back in an assistant message (annotations ignored)."""

    text: str


class RefusalPart(msgspec.Struct, tag="refusal", tag_field="type"):
    refusal: str


InputPart = InputText | InputImage | OutputTextPart | RefusalPart


class MessageItem(msgspec.Struct, kw_only=True):
    """A message in `input` (`type` may be left out: the "easy" form)."""

    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputPart]
    type: Literal["message"] = "message"
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallItem(msgspec.Struct, kw_only=True):
    """A call the model made earlier, sent back with its output."""

    call_id: str
    name: str
    arguments: str
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    status: ItemStatus | None = None


class FunctionCallOutputItem(msgspec.Struct, kw_only=True):
    call_id: str
    output: str | list[InputText | InputImage]
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    status: ItemStatus | None = None


class ReasoningItem(msgspec.Struct, kw_only=True):
    """The model's notes of an earlier turn: accepted, not sent on (not the conversation)."""

    type: Literal["reasoning"] = "reasoning"
    id: str | None = None


InputItem = MessageItem | FunctionCallItem | FunctionCallOutputItem | ReasoningItem
ITEM_TYPES: dict[str, type[InputItem]] = {
    "message": MessageItem,
    "function_call": FunctionCallItem,
    "function_call_output": FunctionCallOutputItem,
    "reasoning": ReasoningItem,
}


class FunctionTool(msgspec.Struct, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    type: Literal["function"] = "function"
    parameters: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextFormat(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`text.format`: plain text, any JSON object, or JSON following `schema`."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class TextConfig(msgspec.Struct, kw_only=True):
    format: TextFormat | None = None
    verbosity: str | None = None


class ResponsesRequest(msgspec.Struct, kw_only=True):
    """`POST /v1/responses`, as far as the router serves it (other fields are ignored)."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: TokenCount | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    store: bool | None = None  # null or absent: stored
    stream: bool | None = None
    previous_response_id: str | None = None

    def stored(self) -> bool:
        return self.store is not False


decode_request = msgspec.json.Decoder(ResponsesRequest).decode

# --- what translates onto chat completions ----------------------------------------------------

_PARTS = ("input_text", "input_image", "output_text", "refusal")
_NOT_SERVED = "is not served: the router answers over chat completions, which take"
_ITEMS = "messages, function_call and function_call_output items"


def untranslatable(request: ResponsesRequest) -> str | None:
    """Why the chat path cannot serve `request`, naming what it uses; None when it can."""
    found = untranslatable_at(request)
    return found[1] if found else None


def untranslatable_at(request: ResponsesRequest) -> tuple[str, str] | None:
    """(param, message) of the first thing in `request` chat completions cannot express."""
    for i, tool in enumerate(request.tools or []):
        if (kind := tool.get("type")) != "function":
            return f"tools[{i}].type", f"Tools of type '{kind}' {_NOT_SERVED} function tools."
    choice = request.tool_choice
    if isinstance(choice, dict) and (kind := choice.get("type")) != "function":
        return "tool_choice", f"tool_choice of type '{kind}' {_NOT_SERVED} a function's name."
    if isinstance(request.input, str):
        return None
    for i, item in enumerate(request.input):
        if (problem := item_problem(item, f"input[{i}]")) is not None:
            return problem
    return None


def item_problem(item: dict[str, Any], where: str) -> tuple[str, str] | None:
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        return None  # malformed, not untranslatable: reading the item says so (a 400)
    if kind not in ITEM_TYPES:
        return f"{where}.type", f"Input items of type '{kind}' {_NOT_SERVED} {_ITEMS}."
    content = item.get("content") if kind == "message" else item.get("output")
    if not isinstance(content, list):
        return None
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        if ptype not in _PARTS:
            message = f"Content of type '{ptype}' {_NOT_SERVED} text and images by URL."
            return f"{where}.content[{j}].type", message
        if ptype == "input_image" and not part.get("image_url"):
            message = f"An input_image by file_id {_NOT_SERVED} images by URL or data URL."
            return f"{where}.content[{j}].image_url", message
    return None


def check_translatable(request: ResponsesRequest) -> None:
    """Raise a 400 naming what the chat path cannot express, if anything."""
    if (found := untranslatable_at(request)) is not None:
        raise InvalidRequest(found[1], param=found[0])


# --- answers -----------------------------------------------------------------------------------


class OutputText(msgspec.Struct, tag="output_text", tag_field="type"):
    text: str
    annotations: list[Any] = []
    logprobs: list[Any] = []


class OutputMessage(msgspec.Struct, tag="message", tag_field="type"):
    id: str
    content: list[OutputText]
    status: ItemStatus = "completed"
    role: str = "assistant"


class FunctionCall(msgspec.Struct, tag="function_call", tag_field="type"):
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus = "completed"


class ReasoningText(msgspec.Struct, tag="reasoning_text", tag_field="type"):
    text: str


class Reasoning(msgspec.Struct, tag="reasoning", tag_field="type"):
    """A model's reasoning (`reasoning_content` on the chat path), as its own output item."""

    id: str
    content: list[ReasoningText]
    summary: list[Any] = []
    status: ItemStatus = "completed"


OutputItem = OutputMessage | FunctionCall | Reasoning


class InputTokensDetails(msgspec.Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(msgspec.Struct):
    reasoning_tokens: int = 0


class ResponseUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails = msgspec.field(default_factory=InputTokensDetails)
    output_tokens_details: OutputTokensDetails = msgspec.field(default_factory=OutputTokensDetails)


class IncompleteDetails(msgspec.Struct):
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseError(msgspec.Struct):
    code: Literal["server_error", "rate_limit_exceeded"]
    message: str


ResponseStatus = Literal["completed", "failed", "in_progress", "incomplete"]


class Response(msgspec.Struct, kw_only=True):
    """The Response object: whole answers, and inside the lifecycle events."""

    id: str
    created_at: int
    model: str
    status: ResponseStatus
    output: list[OutputItem]
    object: str = "response"
    usage: ResponseUsage | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    completed_at: int | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] = []
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    text: dict[str, Any] = msgspec.field(default_factory=lambda: {"format": {"type": "text"}})
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    previous_response_id: str | None = None
    metadata: dict[str, str] = {}
    user: str | None = None
    store: bool = True


# --- stream events -----------------------------------------------------------------------------


class _Event(msgspec.Struct, kw_only=True):
    sequence_number: int = 0


class Created(_Event, tag="response.created", tag_field="type"):
    response: Response


class InProgress(_Event, tag="response.in_progress", tag_field="type"):
    response: Response


class Completed(_Event, tag="response.completed", tag_field="type"):
    response: Response


class Incomplete(_Event, tag="response.incomplete", tag_field="type"):
    response: Response


class Failed(_Event, tag="response.failed", tag_field="type"):
    response: Response


class ItemAdded(_Event, tag="response.output_item.added", tag_field="type"):
    output_index: int
    item: OutputItem


class ItemDone(_Event, tag="response.output_item.done", tag_field="type"):
    output_index: int
    item: OutputItem


class PartAdded(_Event, tag="response.content_part.added", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | ReasoningText


class PartDone(_Event, tag="response.content_part.done", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | ReasoningText


class TextDelta(_Event, tag="response.output_text.delta", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = []


class TextDone(_Event, tag="response.output_text.done", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = []


class ReasoningDelta(_Event, tag="response.reasoning_text.delta", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ReasoningDone(_Event, tag="response.reasoning_text.done", tag_field="type"):
    item_id: str
    output_index: int
    content_index: int
    text: str


class ArgumentsDelta(_Event, tag="response.function_call_arguments.delta", tag_field="type"):
    item_id: str
    output_index: int
    delta: str


class ArgumentsDone(_Event, tag="response.function_call_arguments.done", tag_field="type"):
    item_id: str
    output_index: int
    arguments: str
    name: str | None = None


Event = Created | InProgress | Completed | Incomplete | Failed | ItemAdded | ItemDone
Event = Event | PartAdded | PartDone | TextDelta | TextDone | ReasoningDelta | ReasoningDone
Event = Event | ArgumentsDelta | ArgumentsDone

encode = msgspec.json.Encoder().encode


def event_bytes(event: Event) -> bytes:
    """One server-sent event as OpenAI streams them: `event:` names the type `data:` holds."""
    return sse_event(event)
