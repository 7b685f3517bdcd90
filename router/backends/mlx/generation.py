"""Generation threads: one per resident in-process model, fed by a queue (as mlx-lm's server).

A `Worker` owns one model for its whole life: its thread loads the weights, runs every request
for that model one after another on the thread's default stream, and drops the weights when
told to stop, so mlx arrays never cross threads. The asyncio side never blocks: it puts a `Job`
on the worker's queue and awaits the job's items on an `asyncio.Queue` that the thread fills
through `loop.call_soon_threadsafe`. Threads are pooled (`_ThreadPool`) and never end: the
next model to load reuses the thread of one unloaded before. mlx keeps an OS thread for every
thread that ever ran it (a thread per load would leak one per load), and a thread that ran mlx
and ends while the interpreter finalizes aborts the process ("terminate called without an
active exception").

    event loop (asyncio)                        generation thread "mlx-<model>"
    ────────────────────                        ───────────────────────────────
    Worker.start() ─────── a pooled thread ──▶  mlx_lm.load(path) ─▶ ready  (Future: seconds)
    Worker.submit(job) ─▶ queue.Queue[Job] ──▶  job = get()        (one job at a time)
                                                  prompt → tokens (chat template)
                                                  for each token:  job.stop set? → stop
                                                                   stop string?  → cut, "stop"
    job.out: asyncio.Queue ◀─ call_soon_threadsafe ─ Piece(text) ... Done(reason) | Failed(msg)
    Job.cancel() ─▶ job.stop (threading.Event), read by the thread after every token
    Worker.stop() ─▶ queue gets None ─────────▶  drop model, gc.collect(), mx.clear_cache(),
                                                  malloc_trim ─▶ closed (Future); thread idle

A job whose consumer went away (its stop flag set) stops within a token; a queued job that was
cancelled before its turn is skipped at once. `JobStats` keeps what each job did (tokens made,
tokens made after the stop flag), for tests and debugging.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec

from router.backends.mlx.output import ChoiceOutput, Piece
from router.backends.mlx.output import StopScanner as StopScanner  # its tests import it here
from router.backends.mlx.sampling import Sampling, build
from router.backends.mlx.tools import scanner_for

log = logging.getLogger("router")

Prompt = list[dict[str, Any]] | str  # chat messages, or a text completion's prompt
Loader = Callable[[Path], tuple[Any, Any]]  # path -> (model, tokenizer)
EXIT_WAIT_S = 10.0  # at interpreter exit, how long to wait for generation threads to stop


class Ended(msgspec.Struct, frozen=True):
    """Choice `index` ended: "stop", "length" or "tool_calls"."""

    index: int
    finish_reason: str


class Done(msgspec.Struct, frozen=True):
    """The job ended: "stop" (EOS or a stop string), "length", "tool_calls" (for the last
    choice), or "cancelled"; tokens over all its choices."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


class Failed(msgspec.Struct, frozen=True):
    """The job failed in the thread; `message` is one line."""

    message: str


class Refused(msgspec.Struct, frozen=True):
    """The model cannot do what the request asks (found once it is loaded), e.g. tools."""

    param: str
    message: str


class Refusal(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


Item = Piece | Ended | Done | Failed | Refused


class JobStats(msgspec.Struct):
    """What one job did, updated by its thread as it goes."""

    id: str
    model: str
    prompt_tokens: int = 0
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
    ) -> None:
        """`top_logprobs`: None for no log-probabilities, else the alternatives per token;
        `tools`: given to the chat template, the answer's tool calls parsed by mlx-lm."""
        self.stats = stats
        self.prompt = prompt
        self.max_tokens = stats.max_tokens = max_tokens
        self.sampling = sampling or Sampling()
        self.n = n
        self.top_logprobs = top_logprobs
        self.tools = tools
        self.one_tool_call = one_tool_call
        self.stops = [s for s in stops or () if s]
        self.stop = threading.Event()
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


def load_mlx(path: Path) -> tuple[Any, Any]:
    """mlx-lm's loader, for a local folder only (a missing folder must not reach the Hub)."""
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a model folder (no config.json)")
    from mlx_lm import load

    model, tokenizer = load(str(path))[:2]
    return model, tokenizer


class Worker:
    """The generation thread of one model. See the module docstring for the picture.

    `ready` resolves to the load time in seconds (or the load's exception); `closed` resolves
    once the thread has dropped the model and returned its memory.
    """

    def __init__(self, model_id: str, path: Path, loader: Loader = load_mlx) -> None:
        self.model_id = model_id
        self.path = path
        self.ready: Future[float] = Future()
        self.closed: Future[None] = Future()
        for future in (self.ready, self.closed):  # running: an awaiter's cancel leaves it be
            future.set_running_or_notify_cancel()
        self._loader = loader
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: set[Job] = set()  # submitted and not yet ended
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def start(self) -> None:
        """Start the thread, which loads the model first. Call once."""
        _THREADS.run(self)

    def submit(self, job: Job) -> None:
        """Queue a job behind the others. Never blocks (the caller bounds the queue)."""
        with self._lock:
            self._jobs.add(job)
        self._queue.put_nowait(job)

    def stop(self, *, cancel: bool = False) -> None:
        """End the thread after the queued jobs (or cancelling them all, with `cancel`)."""
        if cancel:
            with self._lock:
                for job in self._jobs:
                    job.cancel()
        self._queue.put_nowait(None)

    def main(self) -> None:
        """The thread's life: load, serve jobs until told to stop, release. Pool thread only."""
        threading.current_thread().name = f"mlx-{self.model_id}"
        try:
            started = time.perf_counter()
            self._model, self._tokenizer = self._loader(self.path)
            self.ready.set_result(time.perf_counter() - started)
        except BaseException as err:
            self.ready.set_exception(err)
            self._release()
            return
        try:
            while (job := self._queue.get()) is not None:
                self._run(job)
                with self._lock:
                    self._jobs.discard(job)
        finally:
            self._release()

    def _release(self) -> None:
        """Drop every reference to the weights and give their memory back."""
        self._model = self._tokenizer = None
        gc.collect()
        try:
            import mlx.core as mx

            mx.clear_cache()
            _trim_heap()
        finally:
            self.closed.set_result(None)

    def _run(self, job: Job) -> None:
        stats = job.stats
        try:
            done = Done("cancelled", 0, 0) if job.stop.is_set() else self._generate(job)
        except Refusal as err:
            stats.finish_reason, stats.done = "refused", True
            job.post(Refused(err.param, str(err)))
            return
        except Exception as err:  # one line for the client; the traceback for the log
            log.warning("generation failed for %s", self.model_id, exc_info=err)
            stats.finish_reason, stats.done = "error", True
            job.post(Failed(one_line(err)))
            return
        stats.finish_reason, stats.done = done.finish_reason, True
        job.post(done)

    def _generate(self, job: Job) -> Done:
        """The job's choices, one after another, from one prompt."""
        import mlx.core as mx

        prompt = self._tokens(job)
        job.stats.prompt_tokens = len(prompt)
        if job.sampling.seed is not None:
            mx.random.seed(job.sampling.seed)
        made, finish = 0, "stop"
        for index in range(job.n):
            finish, count = self._choice(job, prompt, index)
            made += count
            if finish == "cancelled":
                return Done("cancelled", len(prompt), made)
            job.post(Ended(index, finish))
        return Done(finish, len(prompt), made)

    def _choice(self, job: Job, prompt: list[int], index: int) -> tuple[str, int]:
        """One generation: its finish reason and how many tokens it made."""
        import mlx.core as mx
        from mlx_lm import stream_generate

        stats, tokenizer = job.stats, self._tokenizer
        out = ChoiceOutput(
            index,
            tokenizer,
            job.post,
            stops=job.stops,
            tools=job.tools,
            top_logprobs=job.top_logprobs,
            one_tool_call=job.one_tool_call,
        )
        sampler, processors = build(job.sampling, tokenizer)
        finish, made = "length", 0
        stream = mx.default_stream(mx.default_device())  # this thread's own (as mlx_lm.server)
        for response in stream_generate(
            self._model,
            tokenizer,
            prompt,
            stream=stream,
            max_tokens=job.max_tokens,
            sampler=sampler,
            logits_processors=processors,
        ):
            eos = response.finish_reason == "stop"
            stats.generated += 0 if eos else 1
            if job.stop.is_set():
                stats.after_stop += 0 if eos else 1
                return "cancelled", made
            made += 0 if eos else 1
            if out.take(response, eos):
                return "stop", made
            if response.finish_reason:
                finish = response.finish_reason
        return out.finish(finish), made

    def _tokens(self, job: Job) -> list[int]:
        tokenizer, prompt = self._tokenizer, job.prompt
        if isinstance(prompt, str):
            bos = tokenizer.bos_token
            return list(
                tokenizer.encode(
                    prompt, add_special_tokens=bos is None or not prompt.startswith(bos)
                )
            )
        if not job.tools:
            return list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True))
        try:
            scanner_for(tokenizer, job.tools)
        except LookupError as err:
            raise Refusal("tools", f"{self.model_id}: {err}; send it no tools") from None
        return list(
            tokenizer.apply_chat_template(prompt, tools=job.tools, add_generation_prompt=True)
        )


class _ThreadPool:
    """Generation threads, kept for reuse: `run` hands a worker to an idle thread or a new one.

    mlx keeps per-thread state (streams, compiled functions holding Python objects) whose
    destructors run when a thread ends and need the interpreter; a thread that ends while the
    interpreter is finalizing aborts the process. So these daemon threads never end: idle, they
    wait on the queue. At exit, `shutdown` (run by `threading` before finalization) stops every
    worker, cancelling its jobs, and waits (up to `EXIT_WAIT_S`) until every thread is idle.
    """

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._all_idle = threading.Condition(self._lock)
        self._idle = 0
        self._threads = 0
        self._closing = False
        self._live: weakref.WeakSet[Worker] = weakref.WeakSet()

    def run(self, worker: Worker) -> None:
        with self._lock:
            if self._closing:
                raise RuntimeError("the interpreter is shutting down")
            spawn = self._idle == 0
            self._idle -= 0 if spawn else 1
            self._threads += spawn
            self._live.add(worker)
        self._work.put(worker)
        if spawn:
            threading.Thread(target=self._serve, name="mlx-idle", daemon=True).start()

    def shutdown(self) -> None:
        with self._lock:
            self._closing = True
            live = list(self._live)
        for worker in live:
            worker.stop(cancel=True)
        with self._all_idle:
            self._all_idle.wait_for(lambda: self._idle == self._threads, EXIT_WAIT_S)

    def _serve(self) -> None:
        while True:
            worker = self._work.get()
            try:
                worker.main()
            except BaseException:  # a worker reports its own failures; keep the thread
                log.exception("a generation thread failed")
            threading.current_thread().name = "mlx-idle"
            with self._all_idle:
                self._idle += 1
                self._all_idle.notify_all()


_THREADS = _ThreadPool()
threading._register_atexit(_THREADS.shutdown)  # type: ignore[attr-defined]  # as concurrent.futures


def _trim_heap() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise; ~130 MB for a
    135M model). A no-op where there is no `malloc_trim`."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def one_line(err: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300]}" if text else type(err).__name__
