"""Where a request goes: from the model name a client sent to an ordered list of candidates.

Pure: no I/O, no clock, no logging. A concrete model id (or an alias of one) goes to that model
and nowhere else; `auto` and `router/<task>` are virtual ids that pick among the models.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from router.errors import InvalidRequest, ModelNotFound, NoModelAvailable
from router.tasks import DIRECT, POLICIES, TASKS

AUTO = "auto"
TASK_PREFIX = "router/"


class Hints(msgspec.Struct, frozen=True):
    """What the client asked for beyond the model name (the `x-router-*` request headers)."""

    task: str | None = None
    policy: str | None = None


class Route(msgspec.Struct, frozen=True):
    task: str  # a task name, or `none` for a concrete model id
    candidates: list[str]  # model ids, best first
    reason: str  # short, human-readable: goes out as `x-router-reason`


def check_hints(hints: Hints, tasks: Collection[str] = TASKS) -> None:
    if hints.task is not None and hints.task not in tasks:
        raise InvalidRequest(
            f"x-router-task: unknown task '{hints.task}'; known: {', '.join(tasks)}",
            param="x-router-task",
        )
    if hints.policy is not None and hints.policy not in POLICIES:
        raise InvalidRequest(
            f"x-router-policy: must be one of {', '.join(POLICIES)}", param="x-router-policy"
        )


def virtual_ids(tasks: Collection[str] = TASKS) -> list[str]:
    """The model ids that route rather than name a model, as /v1/models lists them."""
    return [AUTO, *(TASK_PREFIX + t for t in tasks)]


def resolve(
    name: str,
    hints: Hints,
    *,
    known: Collection[str],
    aliases: dict[str, str],
    default_model: str | None,
    tasks: Collection[str] = TASKS,
) -> Route:
    """The route for a request naming `name`; raises ModelNotFound for an unknown name."""
    check_hints(hints, tasks)
    target = aliases.get(name, name)
    if target in known:
        reason = "direct" if target == name else f"alias of {target}"
        return Route(hints.task or DIRECT, [target], reason)
    task = _virtual_task(target, hints, tasks)
    if task is None:
        raise ModelNotFound(
            f"The model '{name}' does not exist here; GET /v1/models lists those that do.",
            param="model",
        )
    if not known:
        raise NoModelAvailable("No model is available: no backend answered with any model.")
    chosen = default_model if default_model in known else next(iter(known))
    return Route(task, [chosen], "default")


def _virtual_task(name: str, hints: Hints, tasks: Collection[str]) -> str | None:
    """The task of a virtual id (`auto` -> the hint or qa), None when `name` is not virtual."""
    if name == AUTO:
        return hints.task or "qa"
    if name.startswith(TASK_PREFIX):
        task = name[len(TASK_PREFIX) :]
        if task not in tasks:
            raise ModelNotFound(
                f"The model '{name}' names no task; known: {', '.join(tasks)}", param="model"
            )
        return hints.task or task
    return None
