"""What an in-process model reads from a request: every answer-changing field honoured or refused.

`Fields` decodes (from the client's body) every field of OpenAI's chat and text completion
requests that changes an answer, beyond those `router.wire` reads for routing. Each is either
honoured or refused: `refusal` names the first field the backend cannot honour, and the backend
answers 400 with it as `param`; no field is dropped silently.

- `n`: several generations, one after another (at most `MAX_N`).
- `logprobs`, `top_logprobs`: mlx-lm's per-token log-probabilities (chat: top_logprobs <= 20;
  text completions: logprobs <= 5).
- `tools`, `tool_choice`: the chat template and mlx-lm's tool parser; tool_choice `auto` or
  `none`. 400 when mlx-lm knows no tool-call format for the model, and for `required` or a named
  function (nothing can force a call). `parallel_tool_calls: false`: the first call only.
- `response_format`: `text`; `json_object` and `json_schema` by a checked generation (`json_mode`).
- `chat_template_kwargs`: the chat template's variables (`enable_thinking`: Anthropic's
  `thinking` arrives so), scalars only; apply_chat_template's own parameters refused.
- `temperature`, `top_p`, `seed`, `stop`, `presence_penalty`, `frequency_penalty`, `logit_bias`,
  and mlx_lm.server's `top_k`, `min_p`, `repetition_penalty`: mlx-lm's sampler and logits
  processors (`sampling`).
- `NO_EFFECT` (`user`, `metadata`, `store`, `prediction`, the prompt cache's and the service
  tier's settings): no effect on an answer; accepted.
- 400: `audio`, `modalities` other than text, `functions`, `function_call`, `reasoning_effort`,
  `verbosity`, `moderation`, `web_search_options`, `echo`, `suffix`, `best_of` > 1.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from router.errors import Unsupported, split_validation

MAX_N = 8  # choices per request: each is a whole generation on a shared thread
# Request fields that change nothing in an in-process answer (the rest are read or refused).
NO_EFFECT = frozenset(
    {"user", "metadata", "store", "service_tier", "prediction", "safety_identifier"}
    | {"prompt_cache_key", "prompt_cache_options", "prompt_cache_retention"}
)
Bias = Annotated[float, msgspec.Meta(ge=-100, le=100)]
TemplateValue = bool | int | float | Annotated[str, msgspec.Meta(max_length=256)] | None
# apply_chat_template's own parameters: a client sets the template's variables, never these
# (a template of its own, the tokenizing, the tools: the router's)
TEMPLATE_RESERVED = frozenset(
    {"chat_template", "tokenize", "add_generation_prompt", "tools", "documents", "return_dict"}
    | {"return_tensors", "padding", "truncation", "max_length", "continue_final_message"}
    | {"return_assistant_tokens_mask", "tokenizer_kwargs", "conversation", "messages"}
)
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]


class _Function(msgspec.Struct):
    name: str = ""


class _NamedChoice(msgspec.Struct):
    type: str = "function"
    function: _Function | None = None


class JsonSchema(msgspec.Struct):
    name: str = ""
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class Format(msgspec.Struct):
    type: str
    json_schema: JsonSchema | None = None


class Fields(msgspec.Struct, kw_only=True):
    """The answer-changing fields of a chat or text completion request (None: unset)."""

    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    logprobs: bool | Annotated[int, msgspec.Meta(ge=0, le=5)] | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | _NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: Format | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: Annotated[int, msgspec.Meta(ge=0)] | None = None
    min_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    repetition_penalty: Annotated[float, msgspec.Meta(gt=0)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[int, Bias] | None = None
    seed: int | None = None
    messages: list[dict[str, Any]] | None = None  # chat: as sent (tool calls and results)
    # the chat template's own variables (`enable_thinking`), as llama.cpp, vLLM and mlx-lm read
    chat_template_kwargs: dict[str, TemplateValue] | None = None
    audio: Any = None
    modalities: list[str] | None = None
    functions: Any = None
    function_call: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    moderation: Any = None
    web_search_options: Any = None
    echo: bool | None = None
    suffix: str | None = None
    best_of: int | None = None

    def top(self) -> int | None:
        """How many alternatives each token's log-probability comes with; None: no logprobs."""
        if self.logprobs is None or self.logprobs is False:
            return None
        if self.logprobs is True:
            return self.top_logprobs or 0
        return int(self.logprobs)

    def json_format(self) -> Format | None:
        fmt = self.response_format
        return fmt if fmt is not None and fmt.type in ("json_object", "json_schema") else None


_decode_fields = msgspec.json.Decoder(Fields).decode


def read_fields(body: bytes, name: str) -> Fields:
    """The request's fields; a bad value is a 400 naming it."""
    try:
        return _decode_fields(body)
    except msgspec.ValidationError as err:
        problem, key = split_validation(err)
        raise Unsupported(key, f"{name}: {key or 'request'}: {problem}") from None


_REFUSED = {
    "audio": "in-process models answer in text only",
    "functions": "use tools (functions is deprecated)",
    "function_call": "use tool_choice (function_call is deprecated)",
    "reasoning_effort": "in-process models have no reasoning effort setting",
    "verbosity": "in-process models have no verbosity setting; use max_tokens or the prompt",
    "moderation": "in-process models run no moderation",
    "web_search_options": "in-process models cannot search the web",
    "suffix": "in-process models do not insert text",
}


def refusal(fields: Fields, chat: bool) -> tuple[str, str] | None:
    """The first field these models cannot honour, and why; None when all can be."""
    for name, why in _REFUSED.items():
        if getattr(fields, name) is not None:
            return name, why
    if reserved := TEMPLATE_RESERVED.intersection(fields.chat_template_kwargs or ()):
        return "chat_template_kwargs", f"{min(reserved)!r} is not a chat template variable"
    if len(fields.chat_template_kwargs or ()) > 16:
        return "chat_template_kwargs", "at most 16 chat template variables"
    if fields.modalities and set(fields.modalities) - {"text"}:
        return "modalities", "in-process models answer in text only"
    if fields.echo:
        return "echo", "in-process models do not echo the prompt"
    if fields.best_of is not None and fields.best_of > 1:
        return "best_of", "use n: in-process models do not rank candidates"
    if (fields.n or 1) > MAX_N:
        return "n", f"in-process models make at most {MAX_N} choices per request"
    if fields.response_format and fields.response_format.type not in (
        "text",
        "json_object",
        "json_schema",
    ):
        return "response_format", f"unknown type {fields.response_format.type!r}"
    if chat and isinstance(fields.logprobs, int) and not isinstance(fields.logprobs, bool):
        return "logprobs", "a chat request's logprobs is true or false (see top_logprobs)"
    return _tool_refusal(fields)


def _tool_refusal(fields: Fields) -> tuple[str, str] | None:
    choice = fields.tool_choice
    if choice is None or choice in ("auto", "none"):
        return None
    if choice == "required" or isinstance(choice, _NamedChoice):
        return "tool_choice", "in-process models cannot be made to call a tool; use auto"
    return "tool_choice", f"unknown tool_choice {choice!r}"
