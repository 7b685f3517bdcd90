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
                                                  the prompt cache's longest prefix,
                                                  only the rest read
                                                  for each token:  job.stop set? → stop
                                                                   stop string?  → cut, "stop"
                                                  the KV cache kept in the prompt cache
    job.out: asyncio.Queue ◀─ call_soon_threadsafe ─ Piece(text) ... Done(reason) | Failed(msg)
    Job.cancel() ─▶ job.stop (threading.Event), read by the thread after every token
    Worker.stop() ─▶ queue gets None ─────────▶  drop model and prompt cache, gc.collect(),
                                                  mx.clear_cache(), malloc_trim
                                                  ─▶ closed (Future); thread idle

A job whose consumer went away (its stop flag set) stops within a token; a queued job that was
cancelled before its turn is skipped at once. `JobStats` keeps what each job did (tokens made,
tokens made after the stop flag), for tests and debugging.

This module holds the threads, their queue and the model's life (load, release); the job and
its items are in `router.backends.mlx.job`, and what the thread does with one job (the prompt's
tokens, each choice stepped token by token) in `router.backends.mlx.stepping`.
"""

from __future__ import annotations

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

from router.backends.mlx.job import Done, Failed, Job, Refusal, Refused
from router.backends.mlx.prompt_cache import CacheUse, PromptCache
from router.backends.mlx.stepping import generate

log = logging.getLogger("router")

Loader = Callable[[Path], tuple[Any, Any]]  # path -> (model, tokenizer)
Report = Callable[[CacheUse], None]  # the prompt cache's use by a job, after it
EXIT_WAIT_S = 10.0  # at interpreter exit, how long to wait for generation threads to stop


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

    def __init__(
        self,
        model_id: str,
        path: Path,
        loader: Loader = load_mlx,
        *,
        cache_bytes: int = 0,
        report: Report | None = None,
    ) -> None:
        """`cache_bytes`: the prompt cache's bound (0: no prompt cache); `report` is called on
        the thread after each job with its use of the prompt cache (`CacheUse`)."""
        self.model_id = model_id
        self._report = report
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
        # the thread's alone; `nbytes` is read from the event loop
        self.prompt_cache = PromptCache(cache_bytes) if cache_bytes > 0 else None

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
                if self._report is not None and self.prompt_cache is not None:
                    stats = job.stats
                    self._report(self.prompt_cache.use(stats.prompt_tokens, stats.cached_tokens))
        finally:
            self._release()

    def _release(self) -> None:
        """Drop every reference to the weights and the prompt cache; give their memory back."""
        self._model = self._tokenizer = None
        if self.prompt_cache is not None:
            self.prompt_cache.clear()
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
            if job.stop.is_set():  # cancelled before its turn
                done = Done("cancelled", 0, 0)
            else:
                done = generate(job, self._model, self._tokenizer, self.model_id, self.prompt_cache)
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
