"""Calibration task suites: their schema, the loader and the content hash.

A suite is one TOML file per task, `router/data/suites/<task>.toml`, data only:

    task = "summarize"
    graders = [{ name = "language" }]          # defaults for every prompt of the suite

    [[prompts]]
    id = "ja-relocation"
    lang = "ja"                                 # the language the prompt is asked in
    quick = true                                # one per language: `router calibrate --quick`
    max_tokens = 300
    prompt = "次のお知らせを3文以内で要約してください。"
    source = "..."                              # appended to the prompt; length ratios use it
    reference = "..."                           # a good answer: scores >= 0.8 (tests), chrf uses it
    rubric = "..."                              # for the optional LLM judge (grading.judge)
    graders = [{ name = "facts", required = [["移転", "引っ越"]] }]

A prompt gives either `prompt` (one user message) or `messages` (a chat). A prompt's grader
replaces the suite's default grader of the same name. Grader names and fields are those of
`router.grading.graders`. `load_suites` validates everything and raises `ConfigError` with one line
naming the file, the key and the problem; `suite_hash` identifies the content a profile was
measured with.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from router.errors import ConfigError
from router.grading.graders import GRADER_NAMES, Chrf, Code, Facts, Grade, GraderSpec, Json, grade
from router.paths import SUITES

SUITES_DIR = SUITES

PromptId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
MaxTokens = Annotated[int, msgspec.Meta(gt=0, le=32768)]


class Message(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    role: Literal["system", "user", "assistant"]
    content: str


class Prompt(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """One benchmark prompt with the graders that judge its answer."""

    id: PromptId
    lang: Literal["ja", "en"]
    max_tokens: MaxTokens
    prompt: str = ""
    messages: list[Message] = []
    source: str = ""
    graders: list[GraderSpec] = []
    quick: bool = False
    reference: str = ""
    rubric: str = ""

    def to_messages(self) -> list[dict[str, str]]:
        """The chat messages to send; `source` is appended to the last user message."""
        msgs = [{"role": m.role, "content": m.content} for m in self.messages] or [
            {"role": "user", "content": self.prompt}
        ]
        if self.source:
            last = max(i for i, m in enumerate(msgs) if m["role"] == "user")
            msgs[last]["content"] = f"{msgs[last]['content']}\n\n{self.source}"
        return msgs

    def text(self) -> str:
        """All the prompt's message text, joined (for language detection and display)."""
        return "\n\n".join(m["content"] for m in self.to_messages())


class Suite(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, frozen=True):
    """A task's prompts plus the default graders every prompt gets."""

    task: str
    prompts: list[Prompt]
    description: str = ""
    graders: list[GraderSpec] = []

    def graders_for(self, prompt: Prompt) -> list[GraderSpec]:
        """The suite's defaults, each replaced by the prompt's grader of the same name."""
        own = {type(g) for g in prompt.graders}
        return [g for g in self.graders if type(g) not in own] + list(prompt.graders)

    def quick(self) -> list[Prompt]:
        """The quick prompt of each language (the first prompt if none is marked)."""
        out: list[Prompt] = []
        for lang in dict.fromkeys(p.lang for p in self.prompts):
            mine = [p for p in self.prompts if p.lang == lang]
            out.append(next((p for p in mine if p.quick), mine[0]))
        return out


def grade_prompt(
    suite: Suite, prompt: Prompt, answer: str, run_code: bool | None = None, prefix: bool = False
) -> Grade:
    """Grade a model's answer to one of the suite's prompts with its effective graders
    (`run_code`, `prefix`: see `graders.grade`)."""
    return grade(
        answer,
        suite.graders_for(prompt),
        prompt.text(),
        lang=prompt.lang,
        source=prompt.source or None,
        reference=prompt.reference,
        run_code=run_code,
        prefix=prefix,
    )


# ---------------------------------------------------------------- loading

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$\.?(?P<key>[^`]*)`)?$", re.DOTALL)
_PROMPT_INDEX = re.compile(r"^prompts\[(\d+)\]")


def _prompt_label(data: Any, key: str) -> str:
    m = _PROMPT_INDEX.match(key)
    try:
        pid = data["prompts"][int(m.group(1))]["id"] if m else None
    except (KeyError, IndexError, TypeError):
        pid = None
    return f" (prompt {pid!r})" if isinstance(pid, str) else ""


def _validation_error(path: Path, data: Any, exc: msgspec.ValidationError) -> ConfigError:
    m = _AT.match(str(exc))
    msg, key = (m.group("msg"), m.group("key") or "") if m else (str(exc), "")
    if key.endswith(".name") and ".graders[" in key and msg.startswith("Invalid value"):
        msg = (
            f"unknown grader {msg.removeprefix('Invalid value ')} (known: "
            f"{', '.join(GRADER_NAMES)})"
        )
    msg = msg[:1].lower() + msg[1:]
    where = f"{key}{_prompt_label(data, key)}" if key else "(top level)"
    return ConfigError(f"{path}: {where}: {msg}".replace("\n", " "), param=key or None)


def _check_prompt(path: Path, i: int, p: Prompt) -> None:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: prompts[{i}]{key} (prompt {p.id!r}): {problem}")

    if bool(p.prompt) == bool(p.messages):
        raise fail("", "give exactly one of `prompt` and `messages`")
    if p.messages and not any(m.role == "user" for m in p.messages):
        raise fail(".messages", "no user message")
    for j, g in enumerate(p.graders):
        if isinstance(g, Facts) and (not g.required or not all(g.required)):
            raise fail(f".graders[{j}].required", "every synonym group needs a phrase")
        if isinstance(g, Json) and not g.keys:
            raise fail(f".graders[{j}].keys", "name at least one key")
        if isinstance(g, Code):
            try:
                compile(g.checks, f"{p.id}.checks", "exec")
            except SyntaxError as exc:
                raise fail(
                    f".graders[{j}].checks", f"not valid Python: {exc.msg} (line {exc.lineno})"
                ) from None


def _check_suite(path: Path, suite: Suite) -> None:
    if suite.task != path.stem:
        raise ConfigError(f"{path}: task: {suite.task!r} does not match the file name")
    if not suite.prompts:
        raise ConfigError(f"{path}: prompts: the suite has no prompts")
    seen: set[str] = set()
    quick: set[str] = set()
    for i, p in enumerate(suite.prompts):
        if p.id in seen:
            raise ConfigError(f"{path}: prompts[{i}].id: duplicate id {p.id!r}")
        if p.quick and p.lang in quick:
            raise ConfigError(f"{path}: prompts[{i}].quick: a second quick prompt in {p.lang!r}")
        seen.add(p.id)
        quick.update([p.lang] if p.quick else [])
        _check_prompt(path, i, p)
        if not p.reference.strip() and any(isinstance(g, Chrf) for g in suite.graders_for(p)):
            raise ConfigError(
                f"{path}: prompts[{i}].reference (prompt {p.id!r}): the chrf "
                "grader compares answers with the reference: give one"
            )


def load_suite(path: Path) -> Suite:
    """Load and validate one suite file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}".replace("\n", " ")) from None
    try:
        suite = msgspec.convert(data, Suite)
    except msgspec.ValidationError as exc:
        raise _validation_error(path, data, exc) from None
    _check_suite(path, suite)
    return suite


def load_suites(dir: Path = SUITES_DIR, tasks: Sequence[str] | None = None) -> list[Suite]:
    """The suites in `dir` (`<task>.toml`), all of them or those of `tasks`, in that order."""
    dir = Path(dir)
    if not dir.is_dir():
        raise ConfigError(f"{dir}: no such suites directory")
    if tasks is None:
        return [load_suite(p) for p in sorted(dir.glob("*.toml"))]
    missing = [t for t in tasks if not (dir / f"{t}.toml").is_file()]
    if missing:
        raise ConfigError(f"{dir}: tasks: no suite for {', '.join(map(repr, missing))}")
    return [load_suite(dir / f"{t}.toml") for t in dict.fromkeys(tasks)]


# ---------------------------------------------------------------- hashing

_UNHASHED = frozenset({"description"})
_CANONICAL = msgspec.json.Encoder(order="sorted")


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _UNHASHED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def suite_hash(suites: Sequence[Suite]) -> str:
    """sha256 (hex) of the suites' canonical content, in task order, without the
    descriptions (editing those does not invalidate a profile). Reference answers count:
    the `chrf` grader measures answers against them."""
    content = sorted((_strip(msgspec.to_builtins(s)) for s in suites), key=lambda s: s["task"])
    return hashlib.sha256(_CANONICAL.encode(content)).hexdigest()
