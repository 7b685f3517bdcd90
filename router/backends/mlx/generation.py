"""Generation threads: one per resident in-process model, fed by a queue (as mlx-lm's server).

A `Worker` owns one model for its whole life: its thread loads the weights, runs every request
for that model on the thread's default stream, and drops the weights when told to stop, so mlx
arrays never cross threads. Concurrent requests decode together in one batch (mlx-lm's
`BatchGenerator`, `router.backends.mlx.batching`): between steps the thread takes the queued
jobs, which join the batch; each leaves when it ends. A job that cannot share steps (`n` > 1, a
seed: `batching.solo_reason`) runs alone once the batch has drained, in queue order. The asyncio
side never blocks: it puts a `Job` on the worker's queue and awaits the job's items on an
`asyncio.Queue` that the thread fills through `loop.call_soon_threadsafe`. Threads are pooled
(`_ThreadPool`) and never end: the next model to load reuses the thread of one unloaded before.
mlx keeps an OS thread for every thread that ever ran it (a thread per load would leak one per
load), and a thread that ran mlx and ends while the interpreter finalizes aborts the process
("terminate called without an active exception").

    event loop (asyncio)                        generation thread "mlx-<model>"
    ────────────────────                        ───────────────────────────────
    Worker.start() ─────── a pooled thread ──▶  mlx_lm.load(path) ─▶ ready  (Future: seconds)
    Worker.submit(job) ─▶ queue.Queue[Job] ──▶  between steps: the queued jobs, in order,
                                                  prompts tokenized, joining while their KV
                                                  fits the allowance (batching.plan)
                                                  batchable → Batch.join: prompt → tokens,
                                                    the prompt cache's longest prefix,
                                                    only the rest inserted (own sampler,
                                                    max_tokens, logits processors)
                                                  alone (n > 1, seed) → once the batch is
                                                    empty: stepping.generate, token by token
                                                Batch.step: one token for every member
                                                  stop flag set?  → leaves, "cancelled"
                                                  EOS, max_tokens, stop string → leaves;
                                                  its KV cache kept in the prompt cache
    job.out: asyncio.Queue ◀─ call_soon_threadsafe ─ Piece(text) ... Done(reason) | Failed(msg)
    Job.cancel() ─▶ job.stop (threading.Event), read by the thread after every step
    Worker.stop() ─▶ queue gets None ─────────▶  the batch drained, then drop model and prompt
                                                  cache, gc.collect(), mx.clear_cache(),
                                                  malloc_trim ─▶ closed (Future); thread idle

A job whose consumer went away (its stop flag set) stops within a token or two, the others in
its batch going on; a queued job that was cancelled before its turn is skipped at once.
`JobStats` keeps what each job did (tokens made, tokens made after the stop flag), for tests
and debugging; `size` hears how many requests generate together (`router_batch_size`).

This module holds the threads, their queue, the order jobs are served in and the model's life
(load, release); the job and its items are in `router.backends.mlx.job`, the running batch in
`router.backends.mlx.batching`, and what the thread does with a job alone (the prompt's
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
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from router.backends.mlx.batching import Batch, Plan, Size, can_batch, plan, solo_reason
from router.backends.mlx.job import Done, Failed, Job, Refusal, Refused
from router.backends.mlx.kv import KVBudget
from router.backends.mlx.prompt_cache import CacheUse, PromptCache
from router.backends.mlx.stepping import generate, prompt_tokens

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
        size: Size | None = None,
        kv: KVBudget | None = None,
    ) -> None:
        """`cache_bytes`: the prompt cache's bound (0: no prompt cache); `report` is called on
        the thread after each job with its use of the prompt cache (`CacheUse`); `size` with
        the number of requests generating together, each time it changes; `kv`: the in-flight
        KV caches' allowance (None: the batch is bounded by its size alone)."""
        self.model_id = model_id
        self._report, self._size, self._kv = report, size, kv
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
            self._serve()
        finally:
            self._release()

    def _serve(self) -> None:
        """Jobs in order until told to stop: batchable ones decode together, the others alone
        (`batching.plan`); new jobs are taken between steps."""
        batching = can_batch(self._model)
        batch = Batch(
            self._model, self._tokenizer, self.model_id, self.prompt_cache, self._end, self._size
        )
        waiting: deque[Job] = deque()
        closing = False
        try:
            while not (closing and not waiting and not len(batch)):
                closing |= self._take(waiting, block=not (waiting or len(batch) or closing))
                next_up, needs = self._plan(waiting, batch, batching)
                for need in needs[: next_up.join]:
                    self._join(batch, waiting.popleft(), need)
                if next_up.alone:
                    self._alone(waiting.popleft())
                elif len(batch):
                    self._step(batch)
        finally:
            batch.close()

    def _take(self, waiting: deque[Job], *, block: bool) -> bool:
        """Move the queued jobs to `waiting` (waiting for one when `block`); the cancelled
        end at once. True when the queue says stop."""
        closing = False
        try:
            item = self._queue.get() if block else self._queue.get_nowait()
            while True:
                if item is None:
                    closing = True
                else:
                    waiting.append(item)
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        for job in [j for j in waiting if j.stop.is_set()]:  # cancelled before their turn
            waiting.remove(job)
            self._end(job, Done("cancelled", 0, 0))
        return closing

    def _plan(self, waiting: deque[Job], batch: Batch, batching: bool) -> tuple[Plan, list[int]]:
        """What to do next (`batching.plan`), and each waiting job's KV need (0: not counted)."""
        self._read_prompts(waiting, batching)
        kinds = [batching and solo_reason(job) is None for job in waiting]
        kv = self._kv
        if kv is None:
            return plan(kinds, len(batch)), [0] * len(waiting)
        needs = [kv.need(len(j.tokens), j.max_tokens) if j.tokens else 0 for j in waiting]
        allowance = kv.allowance
        return plan(kinds, len(batch), needs=needs, held=batch.held(), allowance=allowance), needs

    def _read_prompts(self, waiting: deque[Job], batching: bool) -> None:
        """When the in-flight KV is counted, the waiting batchable jobs' prompts as tokens, read
        once (`Job.tokens`) so `plan` knows their needs; one whose prompt cannot be read ends
        here, as it would on joining."""
        if self._kv is None or not batching:
            return
        for job in [j for j in waiting if j.tokens is None and solo_reason(j) is None]:
            try:
                job.tokens = prompt_tokens(job, self._tokenizer, self.model_id)
            except Refusal as err:
                waiting.remove(job)
                self._end(job, Refused(err.param, str(err)))
            except Exception as err:  # one line for the client; the traceback for the log
                log.warning("generation failed for %s", self.model_id, exc_info=err)
                waiting.remove(job)
                self._end(job, Failed(one_line(err)))

    def _join(self, batch: Batch, job: Job, need: int = 0) -> None:
        try:
            batch.join(job, need)
        except Refusal as err:
            self._end(job, Refused(err.param, str(err)))
        except Exception as err:  # one line for the client; the traceback for the log
            log.warning("generation failed for %s", self.model_id, exc_info=err)
            self._end(job, Failed(one_line(err)))

    def _step(self, batch: Batch) -> None:
        try:
            batch.step()
        except Exception as err:  # the batched step failed: every member fails with it
            log.warning("batched generation failed for %s", self.model_id, exc_info=err)
            batch.fail(one_line(err))

    def _alone(self, job: Job) -> None:
        if self._size is not None:
            self._size(1)
        try:
            self._end(job, self._run(job))
        finally:
            if self._size is not None:
                self._size(0)

    def _end(self, job: Job, item: Done | Failed | Refused) -> None:
        """A job's last item: its stats closed, posted, the prompt cache's use reported."""
        stats = job.stats
        if isinstance(item, Done):
            stats.finish_reason = item.finish_reason
        else:
            stats.finish_reason = "refused" if isinstance(item, Refused) else "error"
        stats.done = True
        if self._report is not None and self.prompt_cache is not None:  # before the client hears
            self._report(self.prompt_cache.use(stats.prompt_tokens, stats.cached_tokens))
        job.post(item)
        with self._lock:
            self._jobs.discard(job)

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

    def _run(self, job: Job) -> Done | Failed | Refused:
        """A job alone: its choices one after another (`stepping.generate`)."""
        try:
            return generate(job, self._model, self._tokenizer, self.model_id, self.prompt_cache)
        except Refusal as err:
            return Refused(err.param, str(err))
        except Exception as err:  # one line for the client; the traceback for the log
            log.warning("generation failed for %s", self.model_id, exc_info=err)
            return Failed(one_line(err))


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
