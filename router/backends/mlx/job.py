"""A job: one request for one in-process model, and the items its generation thread sends back.

Apart from `router.backends.mlx.generation` (the threads and their queue) and
`router.backends.mlx.stepping` (what the thread does with a job) because both sides share these
types: the backend builds a `Job` on the event loop and reads its items (`Piece`, `Ended`, then
`Done`, `Failed` or `Refused`) from `Job.out`; the thread reads the job's settings and stop flag,
posts the items through the loop, and keeps `JobStats` up to date.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import msgspec

from router.backends.mlx.output import ChoiceOutput, Piece
from router.backends.mlx.sampling import Sampling

Prompt = list[dict[str, Any]] | str  # chat messages, or a text completion's prompt


class Ended(msgspec.Struct, frozen=True):
    """Choice `index` ended: "stop", "length" or "tool_calls"."""

    index: int
    finish_reason: str


class Done(msgspec.Struct, frozen=True):
    """The job ended: "stop" (EOS or a stop string), "length", "tool_calls" (for the last
    choice), or "cancelled"; tokens over all its choices; `cached_tokens`: the prompt's tokens
    the prompt cache held (not read again)."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


class Failed(msgspec.Struct, frozen=True):
    """The job failed in the thread; `message` is one line."""

    message: str


class Refused(msgspec.Struct, frozen=True):
    """The model cannot do what the request asks (found once it is loaded), e.g. tools."""

    param: str
    message: str


class Refusal(Exception):
    """Raised on the thread when the loaded model cannot do what the job asks; posted as
    `Refused`."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


Item = Piece | Ended | Done | Failed | Refused


class JobStats(msgspec.Struct):
    """What one job did, updated by its thread as it goes."""

    id: str
    model: str
    prompt_tokens: int = 0
    cached_tokens: int = 0  # of the prompt's, held by the prompt cache
    generated: int = 0  # tokens the model produced, EOS excluded, those after the stop included
    after_stop: int = 0  # tokens produced after the stop flag was set
    finish_reason: str | None = None
    done: bool = False
    max_tokens: int = 0  # the cap each choice ran under


class Job:
    """One request for one model: its prompt and settings, its stop flag and its output queue.

    Created on the event loop; read by the generation thread, which only ever writes to
    `out` through the loop (`post`) and to `stats`.
    """

    __slots__ = (
        "loop",
        "max_tokens",
        "n",
        "one_tool_call",
        "out",
        "prompt",
        "sampling",
        "stats",
        "stop",
        "stops",
        "template",
        "tokens",
        "tools",
        "top_logprobs",
    )

    def __init__(
        self,
        stats: JobStats,
        prompt: Prompt,
        *,
        max_tokens: int,
        sampling: Sampling | None = None,
        stops: list[str] | None = None,
        n: int = 1,
        top_logprobs: int | None = None,
        tools: list[dict[str, Any]] | None = None,
        one_tool_call: bool = False,
        template: dict[str, Any] | None = None,
    ) -> None:
        """`top_logprobs`: None for no log-probabilities, else the alternatives per token;
        `tools`: given to the chat template, the answer's tool calls parsed by mlx-lm;
        `template`: the chat template's variables (`enable_thinking`)."""
        self.stats = stats
        self.prompt = prompt
        self.max_tokens = stats.max_tokens = max_tokens
        self.sampling = sampling or Sampling()
        self.n = n
        self.top_logprobs = top_logprobs
        self.tools = tools
        self.one_tool_call = one_tool_call
        self.template = template or {}
        self.stops = [s for s in stops or () if s]
        self.stop = threading.Event()
        self.tokens: list[int] | None = None  # the prompt's, once the thread has read them
        self.loop = asyncio.get_running_loop()
        self.out: asyncio.Queue[Item] = asyncio.Queue()

    def again(self, prompt: Prompt) -> Job:
        """A new job like this one, for another prompt (a second try)."""
        return Job(
            self.stats,
            prompt,
            max_tokens=self.max_tokens,
            sampling=self.sampling,
            stops=self.stops,
            n=self.n,
            top_logprobs=self.top_logprobs,
            tools=self.tools,
            one_tool_call=self.one_tool_call,
            template=self.template,
        )

    def output(self, index: int, tokenizer: Any) -> ChoiceOutput:
        """The output of choice `index`: the job's stops, tools and log-probabilities, posted
        to its consumer."""
        return ChoiceOutput(
            index,
            tokenizer,
            self.post,
            stops=self.stops,
            tools=self.tools,
            top_logprobs=self.top_logprobs,
            one_tool_call=self.one_tool_call,
        )

    def cancel(self) -> None:
        """Ask the thread to stop this job (no-op once it has ended). Thread-safe."""
        self.stop.set()

    def post(self, item: Item) -> None:
        """From the thread: hand an item to the event loop; a closed loop cancels the job."""
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.stop.set()
