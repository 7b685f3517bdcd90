"""`response_format` for in-process models: a checked generation.

mlx-lm has no constrained decoding, so a JSON answer is asked for in words (`instruction`),
then checked (`check`): it must parse, and for `json_schema` match the schema's `type`,
`properties`, `required`, `items`, `enum` and `additionalProperties: false` (the keywords small
schemas use; others are not checked). An answer wrapped in a Markdown fence is unwrapped.
The backend asks once more, telling the model what was wrong, and fails the request when the
second answer is no better.
"""

from __future__ import annotations

import json
from typing import Any

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "number": (int, float),
    "integer": int,
    "boolean": bool,
    "null": type(None),
}


def instruction(schema: dict[str, Any] | None) -> str:
    """What the model is told: JSON only, and the schema when there is one."""
    text = "Answer with one JSON value only, no prose and no Markdown fence."
    if schema is not None:
        text += f" It must match this JSON Schema: {json.dumps(schema, ensure_ascii=False)}"
    return text


def unfenced(text: str) -> str:
    """The answer without surrounding whitespace and one surrounding ``` fence."""
    text = text.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        text = text[3:-3]
        first, _, rest = text.partition("\n")
        text = rest if first.strip().isalpha() or not first.strip() else text
    return text.strip()


def check(text: str, schema: dict[str, Any] | None, *, object_only: bool) -> str | None:
    """What is wrong with a JSON answer, or None when it is good."""
    try:
        value = json.loads(text)
    except ValueError as err:
        return f"not valid JSON ({err})"
    if object_only and not isinstance(value, dict):
        return "not a JSON object"
    return _mismatch(value, schema, "$") if schema is not None else None


def _mismatch(value: Any, schema: Any, at: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    kinds = schema.get("type")
    names = [kinds] if isinstance(kinds, str) else kinds or []
    if names and not any(_is(value, n) for n in names):
        return f"{at}: expected {' or '.join(names)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{at}: not one of {schema['enum']}"
    if isinstance(value, dict):
        return _object_mismatch(value, schema, at)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            if problem := _mismatch(item, schema["items"], f"{at}[{i}]"):
                return problem
    return None


def _object_mismatch(value: dict[str, Any], schema: dict[str, Any], at: str) -> str | None:
    properties = schema.get("properties") or {}
    for key in schema.get("required") or []:
        if key not in value:
            return f"{at}: missing {key!r}"
    if schema.get("additionalProperties") is False:
        extra = sorted(set(value) - set(properties))
        if extra:
            return f"{at}: unexpected {', '.join(map(repr, extra))}"
    for key, sub in properties.items():
        if key in value and (problem := _mismatch(value[key], sub, f"{at}.{key}")):
            return problem
    return None


def _is(value: Any, name: str) -> bool:
    kind = _TYPES.get(name)
    if kind is None:
        return True
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    return isinstance(value, kind)


def check_choices(choices: list[Any], fmt: Any) -> str | None:
    """Check every choice's text against `response_format` (unfencing it in place); the first
    problem found, or None."""
    schema = fmt.json_schema.schema if fmt.json_schema is not None else None
    for choice in choices:
        text = unfenced(choice.text())
        choice.parts = [text]
        problem = check(text, schema, object_only=fmt.type == "json_object")
        if problem is not None:
            return problem
    return None
