"""OpenAI Responses <-> chat completions: the router serves `/v1/responses` by asking its chat
path, so every backend (upstreams and in-process models) answers it.

- `input_items`, `chat_messages`, `chat_body`: a request's items read, as chat messages (a
  `function_call` joins the assistant message before it as one of its `tool_calls`; a
  `function_call_output` is a `tool` message; `developer` is `system`; reasoning items are left
  out), and the chat request asking what the Responses request asks (`instructions` first).
- `skeleton`, `to_response`: the Response a request gets, and a whole chat answer as its output.
- `stored_items`, `assistant_message`: what a stored response keeps (the input items with ids,
  the output as a chat message, for `previous_response_id`).

What the chat path cannot express is `router.wire.responses`' `untranslatable`; the stream's
events are `router.wire.responses_stream`'s. Pure: no I/O.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from router.errors import InvalidRequest, split_validation
from router.wire.answers import Usage
from router.wire.responses import (
    ITEM_TYPES,
    FunctionCall,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    IncompleteDetails,
    InputImage,
    InputItem,
    InputText,
    InputTokensDetails,
    MessageItem,
    OutputItem,
    OutputMessage,
    OutputText,
    Reasoning,
    ReasoningText,
    RefusalPart,
    Response,
    ResponsesRequest,
    ResponseUsage,
)

_CHOICES = ("auto", "none", "required")


def new_id(prefix: str) -> str:
    """An id of OpenAI's form: `resp_`, `msg_`, `fc_`, `rs_` and 32 hex digits."""
    return f"{prefix}_{uuid.uuid4().hex}"


# --- request -----------------------------------------------------------------------------------


def input_items(request: ResponsesRequest) -> list[InputItem]:
    """The request's input as typed items (a string is one user message)."""
    if isinstance(request.input, str):
        return [MessageItem(role="user", content=request.input)]
    items: list[InputItem] = []
    for i, raw in enumerate(request.input):
        named = raw.get("type", "message")
        kind = ITEM_TYPES.get(named, MessageItem) if isinstance(named, str) else MessageItem
        try:
            items.append(msgspec.convert(raw, kind))
        except msgspec.ValidationError as err:
            message, path = split_validation(err)
            where = f"input[{i}].{path}" if path else f"input[{i}]"
            raise InvalidRequest(f"{message} (at {where})", param=where) from None
    return items


def chat_messages(items: list[InputItem]) -> list[dict[str, Any]]:
    """The items as chat messages, in order."""
    out: list[dict[str, Any]] = []
    for item in items:
        if type(item) is MessageItem:
            out.append(_message(item))
        elif type(item) is FunctionCallItem:
            call = {"id": item.call_id, "type": "function"}
            call["function"] = {"name": item.name, "arguments": item.arguments}  # type: ignore[assignment]
            last = out[-1] if out else None
            if last is None or last["role"] != "assistant":
                last = {"role": "assistant", "content": None}
                out.append(last)
            last.setdefault("tool_calls", []).append(call)
        elif type(item) is FunctionCallOutputItem:
            out.extend(_tool_result(item))
    return out


def _message(item: MessageItem) -> dict[str, Any]:
    role = "system" if item.role == "developer" else item.role
    content = item.content
    if isinstance(content, str):
        return {"role": role, "content": content}
    parts = [_part(p) for p in content]
    if all(p["type"] == "text" for p in parts):
        return {"role": role, "content": "\n".join(p["text"] for p in parts)}
    return {"role": role, "content": parts}


def _part(part: Any) -> dict[str, Any]:
    if type(part) is InputImage:
        url = {"url": part.image_url or ""}
        if part.detail != "auto":
            url["detail"] = part.detail
        return {"type": "image_url", "image_url": url}
    text = part.refusal if type(part) is RefusalPart else part.text
    return {"type": "text", "text": text}


def _tool_result(item: FunctionCallOutputItem) -> list[dict[str, Any]]:
    """A tool message (its text), then its images as a user message, if any."""
    output = item.output
    if isinstance(output, str):
        return [{"role": "tool", "tool_call_id": item.call_id, "content": output}]
    text = "\n".join(p.text for p in output if type(p) is InputText)
    out = [{"role": "tool", "tool_call_id": item.call_id, "content": text}]
    images = [_part(p) for p in output if type(p) is InputImage]
    if images:
        out.append({"role": "user", "content": images})
    return out


def chat_body(
    request: ResponsesRequest, messages: list[dict[str, Any]], *, stream: bool = False
) -> dict[str, Any]:
    """The chat completion request asking what `request` asks, over the conversation's
    `messages` (earlier turns and this input); a stream asks for usage."""
    if request.instructions:
        messages = [{"role": "system", "content": request.instructions}, *messages]
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        body["tools"] = [_tool(i, t) for i, t in enumerate(request.tools)]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if (fmt := _response_format(request)) is not None:
        body["response_format"] = fmt
    if request.max_output_tokens is not None:
        body["max_tokens"] = request.max_output_tokens
    for name in ("temperature", "top_p", "metadata", "user"):
        if (value := getattr(request, name)) is not None:
            body[name] = value
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _tool(i: int, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        tool = msgspec.convert(raw, FunctionTool)
    except msgspec.ValidationError as err:
        message, path = split_validation(err)
        where = f"tools[{i}].{path}" if path else f"tools[{i}]"
        raise InvalidRequest(f"{message} (at {where})", param=where) from None
    function: dict[str, Any] = {"name": tool.name}
    function["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice not in _CHOICES:
            raise InvalidRequest(
                f"tool_choice '{choice}' is not one of {_CHOICES}.", param="tool_choice"
            )
        return choice
    name = choice.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(
            "tool_choice of type 'function' names the function.", param="tool_choice"
        )
    return {"type": "function", "function": {"name": name}}


def _response_format(request: ResponsesRequest) -> dict[str, Any] | None:
    fmt = request.text.format if request.text is not None else None
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    if fmt.schema is None:
        raise InvalidRequest(
            "text.format of type json_schema has a schema.", param="text.format.schema"
        )
    schema: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.schema}
    if fmt.description:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


# --- what is stored ----------------------------------------------------------------------------

_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}


def stored_items(request: ResponsesRequest) -> list[dict[str, Any]]:
    """This request's input items as `GET .../input_items` lists them: each with an id, and a
    message's content as parts."""
    raw = request.input
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw
    out = []
    for item in items:
        kind = item.get("type", "message")
        copy = {**item, "type": kind}
        copy.setdefault("id", new_id(_ITEM_PREFIX.get(kind, "item")))
        if kind == "message" and isinstance(copy.get("content"), str):
            part = "output_text" if copy.get("role") == "assistant" else "input_text"
            copy["content"] = [{"type": part, "text": copy["content"]}]
        if kind in ("message", "function_call_output"):
            copy.setdefault("status", "completed")
        out.append(copy)
    return out


def assistant_message(response: Response) -> dict[str, Any] | None:
    """A Response's output as one chat assistant message (None when it has none)."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.output:
        if type(item) is OutputMessage:
            texts.extend(p.text for p in item.content)
        elif type(item) is FunctionCall:
            function = {"name": item.name, "arguments": item.arguments}
            calls.append({"id": item.call_id, "type": "function", "function": function})
    if not texts and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


# --- answers -----------------------------------------------------------------------------------


class ChatFunction(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ChatCall(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: ChatFunction | None = None


class _Said(msgspec.Struct):
    """A chat answer's message, or a chunk's delta."""

    content: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ChatCall] | None = None

    def thought(self) -> str | None:
        return self.reasoning_content or self.reasoning


class _Choice(msgspec.Struct):
    message: _Said | None = None
    delta: _Said | None = None
    finish_reason: str | None = None


class _ErrorDetail(msgspec.Struct):
    message: str = ""
    code: str | None = None


class ChatAnswer(msgspec.Struct):
    """A chat answer or chunk, as far as the translation reads it."""

    choices: list[_Choice] = []
    usage: Usage | None = None
    error: _ErrorDetail | None = None


decode_answer = msgspec.json.Decoder(ChatAnswer).decode


def skeleton(request: ResponsesRequest, response_id: str, model: str) -> Response:
    """The Response `request` gets, before its output: the settings it echoes."""
    text = {"format": {"type": "text"}}
    if request.text is not None and request.text.format is not None:
        text = {"format": msgspec.to_builtins(request.text.format)}
    return Response(
        id=response_id,
        created_at=int(time.time()),
        model=model,
        status="in_progress",
        output=[],
        instructions=request.instructions,
        tools=request.tools or [],
        tool_choice=request.tool_choice or "auto",
        parallel_tool_calls=request.parallel_tool_calls is not False,
        text=text,
        max_output_tokens=request.max_output_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        previous_response_id=request.previous_response_id,
        metadata=request.metadata or {},
        user=request.user,
        store=request.stored(),
    )


def usage(chat: Usage | None) -> ResponseUsage | None:
    if chat is None:
        return None
    details = chat.prompt_tokens_details
    cached = (details.cached_tokens if isinstance(details, msgspec.Struct) else None) or 0
    total = chat.total_tokens or chat.prompt_tokens + chat.completion_tokens
    tokens = InputTokensDetails(cached_tokens=cached)
    return ResponseUsage(chat.prompt_tokens, chat.completion_tokens, total, tokens)


def finish(response: Response, reason: str | None) -> Response:
    """`response` ended for the chat finish `reason`: completed, or incomplete and why."""
    response.completed_at = int(time.time())
    cut = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(reason or "")
    if cut is None:
        response.status = "completed"
        return response
    response.status = "incomplete"
    response.incomplete_details = IncompleteDetails(cut)  # type: ignore[arg-type]
    for item in response.output:
        if type(item) is OutputMessage:
            item.status = "incomplete"
    return response


def to_response(body: bytes, response: Response) -> Response:
    """A whole chat answer (its first choice) as `response`'s output, usage and status."""
    answer = decode_answer(body)
    choice = answer.choices[0] if answer.choices else _Choice()
    said = choice.message or _Said()
    output: list[OutputItem] = []
    if thought := said.thought():
        output.append(Reasoning(new_id("rs"), [ReasoningText(thought)]))
    if said.content:
        output.append(OutputMessage(new_id("msg"), [OutputText(said.content)]))
    for call in said.tool_calls or []:
        function = call.function or ChatFunction()
        output.append(function_call(call.id, function.name, function.arguments or ""))
    response.output = output
    response.usage = usage(answer.usage)
    return finish(response, choice.finish_reason)


def function_call(call_id: str | None, name: str | None, arguments: str) -> FunctionCall:
    return FunctionCall(new_id("fc"), call_id or new_id("call"), name or "", arguments)
