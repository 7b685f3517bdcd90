"""Measuring a model: one timed, streamed request at a time, percentiles, capability probes.

`timed_stream` sends a chat request straight to one replica's backend (no routing, no
fallback), streams it and times it: time to first token (the first content chunk), end to
end, decode speed from the chunks after the first, prompt speed from `usage.prompt_tokens`
over the time to first token. It never raises for a model's failure: the `Run` names it
(`error` before the stream started, `timeout` past the deadline, `crash` when the stream broke
or the model failed mid-answer, `loop` when `textscan.loop_detected` fired and reading
stopped). `probe` asks the four capability questions a profile records.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from router.backends.protocol import BackendRequest, StreamEvent
from router.errors import BackendError, BackendStatusError, BackendTimeout
from router.grading.checks import check_json
from router.grading.textscan import loop_detected
from router.profiles import Capabilities
from router.serving.catalog import Replica
from router.wire import decode_chat, decode_chunk

LOOP_CHECK_EVERY = 8  # content chunks between two loop checks


class Run(msgspec.Struct, kw_only=True):
    """What one streamed request did, timed."""

    text: str = ""
    ttft: float | None = None  # seconds to the first content chunk
    e2e: float | None = None  # seconds to the end of the stream (or to where it was cut)
    decode_tokens_per_s: float | None = None
    prompt_tokens_per_s: float | None = None
    completion_tokens: int = 0
    usage_seen: bool = False
    tool_calls: bool = False
    finish_reason: str | None = None
    failure: str | None = None  # error, timeout, crash, loop
    status: int | None = None  # the upstream's HTTP status when it refused the request
    detail: str = ""


def _has_tool_calls(data: bytes) -> bool:
    payload = b"".join(line[5:] for line in data.split(b"\n") if line.startswith(b"data:"))
    try:
        return decode_chunk(payload).has_tool_calls()
    except msgspec.DecodeError:
        return False


class _Tally:
    """The running account of one stream: times, text, usage."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last = self.start
        self.pieces: list[str] = []
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.finish: str | None = None
        self.tool_calls = False

    def take(self, event: StreamEvent) -> bool:
        """Count one event; True when the text has fallen into a loop (stop reading)."""
        chunk, now = event.chunk, time.perf_counter()
        if chunk is None:
            return False
        if chunk.usage is not None:
            self.prompt_tokens = chunk.usage.prompt_tokens
            self.completion_tokens = chunk.usage.completion_tokens
        self.finish = next((c.finish_reason for c in chunk.choices if c.finish_reason), self.finish)
        if not self.tool_calls and b'"tool_calls"' in event.data:
            self.tool_calls = _has_tool_calls(event.data)
            self.first = self.first or (now if self.tool_calls else None)
        piece = chunk.text()
        if not piece:
            return False
        self.first = self.first or now
        self.last = now
        self.pieces.append(piece)
        return len(self.pieces) % LOOP_CHECK_EVERY == 0 and loop_detected("".join(self.pieces))

    def run(self, failure: str | None = None, detail: str = "", status: int | None = None) -> Run:
        end = time.perf_counter()
        ttft = None if self.first is None else self.first - self.start
        tokens = self.completion_tokens or len(self.pieces)
        decode = None
        if self.first is not None and tokens > 1 and self.last > self.first:
            decode = (tokens - 1) / (self.last - self.first)
        prompt_speed = None
        if self.prompt_tokens and ttft:
            prompt_speed = self.prompt_tokens / ttft
        return Run(
            text="".join(self.pieces),
            ttft=ttft,
            e2e=end - self.start,
            decode_tokens_per_s=decode,
            prompt_tokens_per_s=prompt_speed,
            completion_tokens=tokens,
            usage_seen=self.completion_tokens is not None,
            tool_calls=self.tool_calls,
            finish_reason=self.finish,
            failure=failure,
            detail=detail,
            status=status,
        )


def _failure(err: BackendError, started: bool) -> str:
    if isinstance(err, BackendTimeout):
        return "timeout"
    if started or err.code == "generation_failed":
        return "crash"
    return "error"


async def timed_stream(replica: Replica, body: dict[str, Any], timeout: float) -> Run:
    """Stream one chat request to `replica` and time it; failures come back in the Run."""
    raw = msgspec.json.encode({**body, "model": replica.card.id, "stream": True})
    request = BackendRequest("chat/completions", replica.name, raw, decode_chat(raw))
    tally = _Tally()
    replica.outstanding += 1
    events = replica.backend.stream(request)
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                if tally.take(event):
                    return tally.run("loop", "the answer fell into a loop")
    except TimeoutError:
        return tally.run("timeout", f"no full answer in {timeout:g} s")
    except BackendError as err:
        status = err.upstream_status if isinstance(err, BackendStatusError) else None
        return tally.run(_failure(err, bool(tally.pieces)), err.message, status)
    except Exception as err:  # a bug below the seam must not end a calibration
        return tally.run("crash", f"{type(err).__name__}: {err}")
    finally:
        replica.outstanding -= 1
        await events.aclose()  # type: ignore[attr-defined]
    return tally.run()


# ---------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between ranks; None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------- capability probes

_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


PROBES: dict[str, dict[str, Any]] = {
    "include_usage": {
        "messages": _user("Say hello in one word."),
        "max_tokens": 8,
        "stream_options": {"include_usage": True},
    },
    "stop": {
        "messages": _user(
            "Count from 1 to 10 in digits, separated by commas and spaces. Write nothing else."
        ),
        "max_tokens": 24,
        "stop": ["6"],
        "temperature": 0,
    },
    "json_schema": {
        "messages": _user(
            "Give the city Tokyo and its population (an integer) as "
            'a JSON object with the keys "city" and "population".'
        ),
        "max_tokens": 40,
        "temperature": 0,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "city", "strict": True, "schema": _SCHEMA},
        },
    },
    "tools": {
        "messages": _user("What is the weather in Paris right now? Use the tool."),
        "max_tokens": 40,
        "temperature": 0,
        "tools": [_WEATHER_TOOL],
        "tool_choice": "auto",
    },
}


def verdict(name: str, run: Run) -> bool | None:
    """Whether a probe's run shows the capability: None when the run cannot tell."""
    if run.failure is not None and run.failure != "loop":
        refused = run.failure == "error" and run.status is not None and 400 <= run.status < 500
        return False if refused and name in ("json_schema", "tools") else None
    if name == "include_usage":
        return run.usage_seen
    if name == "stop":
        if "6" in run.text:
            return False
        return True if "5" in run.text else None
    if name == "json_schema":
        return check_json(run.text, {"city": "str", "population": "int"}, allow_fence=False).passed
    return run.tool_calls


async def probe(
    replica: Replica,
    timeout: float,
    first_timeout: float,
    done: Callable[[int], None] | None = None,
) -> tuple[Capabilities, list[Run]]:
    """Ask the four capability questions; the first request may also load the model.
    `done(n)` is called after the n-th."""
    found: dict[str, bool | None] = {}
    runs: list[Run] = []
    for i, (name, body) in enumerate(PROBES.items()):
        run = await timed_stream(replica, body, first_timeout if i == 0 else timeout)
        runs.append(run)
        found[name] = verdict(name, run)
        if done is not None:
            done(i + 1)
    return Capabilities(**found), runs
