"""Residency of in-process models: which are in memory, loading them on demand, evicting them.

Three concerns, one type each (llama-swap's split):
- the machinery: `router.backends.mlx.generation.Worker`, one thread per resident model, which
loads the
  weights, generates, and returns the memory when stopped;
- the scheduling: `Residency`, on the event loop, which owns every `Slot` (no lock needed for
  its bookkeeping: it only changes between awaits) plus one `asyncio.Lock` per model so a model
  is never loaded twice at once;
- the eviction choice: `choose_evictions`, a pure function (no I/O, no clock, no logging).

A request holds a lease on its model from before the load until its answer ends:

    lease(id) ── pending += 1 ── state? ── loaded ───────────────────────────▶ Worker
                                          on disk ─ lock ─ reserve ─ load task ─┘
                                          loading / unloading ─ await that task, look again

Residency does not queue requests: the replica's gate in front of it does
(`router.serving.admission.Gate`, `max_concurrency` at once, decoding in one batch, `max_queue`
waiting), so a lease only waits for memory and the load.

`reserve` asks `choose_evictions` for idle models to unload so the new one fits the budget
(weights' size on disk plus its prompt cache's bound, `Slot.cache_bytes`, plus the allowance
for the KV caches of its generating requests, `Slot.kv_bytes`, which its batch grows within:
`batching.plan`; each a tenth of the budget by default, less for a model that would not fit
with all of it; a single request larger than the allowance still runs, alone); models with a lease
(generating, queued or waiting for their load) are never chosen; among the idle, the cheapest
to lose goes first (its measured load time and its warm prompt cache, weighed by how recently
it was used: `keep_value`). When the busy models hold
too much of the budget, the load waits for one of them to become idle, up to `load_wait`
seconds, then fails with a 503 naming them (retryable: the router falls back to its next
candidate). A model larger than the whole budget fails at
once. The memory of evicted models is back (thread ended, `mx.clear_cache()`) before the new
load starts. A reaper task unloads models idle for longer than `idle_ttl`, by the same choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Literal

import msgspec

from router.backends.mlx.generation import Worker, one_line
from router.backends.mlx.kv import KVBudget
from router.backends.mlx.prompt_cache import CacheUse
from router.errors import ModelLoadFailed, NoModelAvailable
from router.metrics import Metrics
from router.wire import ModelCard
from router.wire.models import GenerationKV, PromptCacheInfo

log = logging.getLogger("router")
MB = 1_000_000
RECENCY_S = 60.0  # idle seconds that halve what keeping a model is worth (see keep_value)
PROMPT_TPS_PER_GB = 600.0  # prompt tokens read a second per GB of weights, as routing.sessions
MAX_PROMPT_TPS = 3000.0

State = Literal["on disk", "loading", "loaded", "unloading"]
WorkerFactory = Callable[[str, Path], Worker]


class ResidentInfo(msgspec.Struct, frozen=True):
    """What the eviction choice knows about one model that holds memory."""

    id: str
    size_bytes: int
    last_used: float  # monotonic time its last request ended (or its load did)
    busy: bool  # generating, queued, loading or unloading: never chosen
    idle_ttl: float = 0.0  # seconds idle before it expires; 0: never
    load_seconds: float = 0.0  # its measured load time: what it costs to bring back
    warm_seconds: float = 0.0  # prompt reading its prompt cache saves a turn that extends it


def keep_value(model: ResidentInfo, now: float) -> float:
    """What keeping an idle model is worth, in seconds a request would wait without it:

        (load_seconds + warm_seconds) / (1 + idle_seconds / RECENCY_S)

    what losing it costs if it is wanted again (its load, and the re-reading its warm prompt
    cache saves), discounted by how long it has been idle (a model idle for a minute is
    half as likely to be wanted soon as one just used; ten minutes, an eleventh). Pure.
    """
    idle = max(0.0, now - model.last_used)
    return (model.load_seconds + model.warm_seconds) / (1 + idle / RECENCY_S)


def choose_evictions(
    models: list[ResidentInfo], need_bytes: int, budget_bytes: int, now: float
) -> list[str]:
    """The models to unload so that `need_bytes` more fit in `budget_bytes`. Pure: must not log.

    Candidates are the idle models (a busy one, generating or waiting, is never chosen). Those
    past their TTL are always chosen (they are due anyway). Then the rest go in order of
    `keep_value` (the cheapest to lose first: quick to load again, a cold prompt cache, long
    idle), until the new one fits. If even every idle model would not make room, no further
    model is chosen: unloading a model that is still useful gains nothing while the busy ones
    hold the budget (the caller waits for them instead). Ties go to the least recently used,
    then by id, so the choice is deterministic.
    """
    idle = sorted(
        (m for m in models if not m.busy), key=lambda m: (keep_value(m, now), m.last_used, m.id)
    )
    expired = [m for m in idle if m.idle_ttl > 0 and now - m.last_used >= m.idle_ttl]
    free = budget_bytes - sum(m.size_bytes for m in models) + sum(m.size_bytes for m in expired)
    chosen = list(expired)
    for model in idle:
        if free >= need_bytes:
            break
        if model in expired:
            continue
        chosen.append(model)
        free += model.size_bytes
    return [m.id for m in chosen] if free >= need_bytes else [m.id for m in expired]


class Slot:
    """One model this backend can run, and where it stands. Changed only on the event loop."""

    __slots__ = (
        "cache_bytes",
        "card",
        "id",
        "kv_bytes",
        "kv_per_token",
        "last_used",
        "lock",
        "path",
        "pending",
        "size_bytes",
        "state",
        "transition",
        "worker",
    )

    def __init__(
        self, model_id: str, path: Path, size_bytes: int, card: ModelCard, cache_bytes: int = 0
    ) -> None:
        self.id = model_id
        self.path = path
        self.size_bytes = size_bytes
        self.cache_bytes = cache_bytes  # its prompt cache's bound, reserved with the weights
        self.kv_bytes = 0  # its generating requests' KV allowance, reserved with them too
        self.kv_per_token: int | None = None  # KV bytes a token (None: unknown, not counted)
        self.card = card  # the catalogue holds this object: its state is live
        self.state: State = "on disk"
        self.worker: Worker | None = None
        self.pending = 0  # leases held: generating, queued, or waiting for the load
        self.last_used = 0.0
        self.lock = asyncio.Lock()  # held while deciding on and starting a load
        self.transition: asyncio.Future[None] | None = None  # the load or unload under way


class Residency:
    """The models of one mlx backend, their memory budget, and their generation threads."""

    def __init__(
        self,
        backend: str,
        *,
        budget_bytes: int,
        idle_ttl: float = 0.0,
        load_wait: float = 120.0,
        metrics: Metrics | None = None,
        factory: WorkerFactory = Worker,
        cache_bytes: int = 0,
        kv_bytes: int = 0,
    ) -> None:
        """`cache_bytes`: each model's prompt cache bound; `kv_bytes`: its generating
        requests' KV allowance (each less for a model that would not fit the budget with all
        of it)."""
        self.backend = backend
        self.budget_bytes = budget_bytes
        self.idle_ttl = idle_ttl
        self.load_wait = load_wait
        self.metrics = metrics
        self.cache_bytes = cache_bytes
        self.kv_bytes = kv_bytes
        self.slots: dict[str, Slot] = {}
        self._factory = factory
        self._changed = asyncio.Event()
        self._reaper: asyncio.Task[None] | None = None

    def add(
        self,
        model_id: str,
        path: Path,
        size_bytes: int,
        card: ModelCard,
        kv_per_token: int | None = None,
    ) -> Slot:
        """Register a model (on disk); a known id keeps its slot and its state.
        `kv_per_token`: its KV bytes per token (`kv.per_token`; None: unknown)."""
        if (slot := self.slots.get(model_id)) is None:
            cache = min(self.cache_bytes, max(0, self.budget_bytes - size_bytes))
            slot = self.slots[model_id] = Slot(model_id, path, size_bytes, card, cache)
            slot.kv_bytes = min(self.kv_bytes, max(0, self.budget_bytes - size_bytes - cache))
            slot.kv_per_token = kv_per_token
            card.state = card.state or "on disk"
            if cache > 0 and card.prompt_cache is None:
                card.prompt_cache = PromptCacheInfo()
            tokens = slot.kv_bytes // kv_per_token if kv_per_token else None
            card.generation_kv = GenerationKV(slot.kv_bytes, kv_per_token, tokens)
        return slot

    def kv_budget(self, model_id: str) -> KVBudget | None:
        """What the model's thread admits into its batch by (None: KV per token unknown)."""
        slot = self.slots[model_id]
        if not slot.kv_per_token:
            return None
        return KVBudget(slot.kv_per_token, slot.kv_bytes, slot.card.context_length)

    def record(self, model_id: str, done: CacheUse) -> None:
        """A job's use of its model's prompt cache, onto the model's card (on the event loop;
        the generation thread posts it after each job)."""
        info = self.slots[model_id].card.prompt_cache
        if info is None:
            return
        info.bytes, info.entries, info.longest = done.bytes, done.entries, done.longest
        info.hit_tokens += done.cached_tokens
        info.prompt_tokens += done.prompt_tokens
        info.hit_rate = round(info.hit_tokens / max(info.prompt_tokens, 1), 4)

    def start(self) -> None:
        """Start the idle-TTL reaper (when a TTL is set). Needs a running loop."""
        if self.idle_ttl > 0 and self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever())

    async def close(self) -> None:
        """Stop the reaper and every thread, cancelling their jobs; wait for the memory."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        closing = []
        for slot in self.slots.values():
            if slot.transition is not None and not slot.transition.done():
                slot.transition.cancel()
            if slot.worker is not None:
                slot.worker.stop(cancel=True)
                closing.append(asyncio.wrap_future(slot.worker.closed))
        if closing:
            await asyncio.wait(closing, timeout=30)
        for slot in self.slots.values():
            if slot.worker is not None:
                self._mark_unloaded(slot)

    @contextlib.asynccontextmanager
    async def lease(self, model_id: str) -> AsyncIterator[Worker]:
        """The model's worker, loaded, for the length of one request.

        Raises `NoModelAvailable` (503) when busy models keep the budget past `load_wait`,
        `ModelLoadFailed` when the folder does not load. While the lease is held the model is
        never evicted.
        """
        slot = self.slots[model_id]
        slot.pending += 1
        try:
            yield await self._ready(slot)
        finally:
            slot.pending -= 1
            slot.last_used = time.monotonic()
            self._wake()

    def warm(self, model_id: str) -> None:
        """Start loading a model that is on disk, without waiting (the router has just chosen
        it); a failure here is only a hint: the request's own lease reports it."""
        slot = self.slots.get(model_id)
        if slot is not None and slot.state == "on disk":
            asyncio.ensure_future(self._ready(slot)).add_done_callback(_retrieve)

    def infos(self, now: float) -> list[ResidentInfo]:
        """What the eviction choice sees: every model that holds (or is taking) memory."""
        return [
            ResidentInfo(
                s.id,
                _memory(s),
                s.last_used,
                busy=s.pending > 0 or s.state != "loaded",
                idle_ttl=self.idle_ttl,
                load_seconds=s.card.load_seconds or 0.0,
                warm_seconds=_warm_seconds(s),
            )
            for s in self.slots.values()
            if s.state != "on disk"
        ]

    async def unload(self, model_id: str) -> None:
        """Unload an idle model now (a no-op when it is not resident or is busy)."""
        slot = self.slots[model_id]
        if slot.state == "loaded" and slot.pending == 0:
            self._begin_unload(slot)
        if slot.state == "unloading" and slot.transition is not None:
            await asyncio.shield(slot.transition)

    async def _ready(self, slot: Slot) -> Worker:
        while True:
            if slot.state == "loaded" and slot.worker is not None:
                return slot.worker
            if slot.state in ("loading", "unloading") and slot.transition is not None:
                await asyncio.shield(slot.transition)  # a failed load raises here
                continue
            async with slot.lock:
                if slot.state != "on disk":
                    continue
                victims = await self._reserve(slot)
                slot.state = "loading"
                slot.transition = asyncio.ensure_future(self._load(slot, victims))
                slot.transition.add_done_callback(_retrieve)

    async def _reserve(self, slot: Slot) -> list[asyncio.Future[None]]:
        """Wait until `slot` fits the budget, starting the unloads that make room; returns
        them. The caller marks the slot as loading before its next await (the reservation)."""
        if slot.size_bytes > self.budget_bytes:
            raise NoModelAvailable(
                f"{slot.id} needs {slot.size_bytes // MB} MB, more than the whole memory budget "
                f"of backend {self.backend} ({self.budget_bytes // MB} MB; memory_budget_bytes)."
            )
        deadline = time.monotonic() + self.load_wait
        while True:
            now = time.monotonic()
            infos = self.infos(now)
            need = _memory(slot)
            victims = [self.slots[v] for v in choose_evictions(infos, need, self.budget_bytes, now)]
            unloads = [self._begin_unload(v) for v in victims]
            used = sum(i.size_bytes for i in infos) - sum(_memory(v) for v in victims)
            if used + need <= self.budget_bytes:
                return unloads
            if now >= deadline:
                raise NoModelAvailable(self._no_room(slot, infos))
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), deadline - now)

    def _no_room(self, slot: Slot, infos: list[ResidentInfo]) -> str:
        busy = ", ".join(f"{i.id} ({i.size_bytes // MB} MB)" for i in infos if i.busy)
        return (
            f"{slot.id} ({_memory(slot) // MB} MB) does not fit the memory budget of backend "
            f"{self.backend} ({self.budget_bytes // MB} MB) while busy models hold it: {busy}; "
            f"waited {self.load_wait:g} s (load_wait)."
        )

    async def _load(self, slot: Slot, unloads: list[asyncio.Future[None]]) -> None:
        if unloads:
            await asyncio.gather(*unloads, return_exceptions=True)
        worker = slot.worker = self._factory(slot.id, slot.path)
        worker.start()
        try:
            seconds = await asyncio.wrap_future(worker.ready)
        except Exception as err:
            await asyncio.wrap_future(worker.closed)
            slot.worker, slot.state = None, "on disk"
            self._wake()
            message = f"{self.backend}: cannot load {slot.id} from {slot.path}: {one_line(err)}"
            raise ModelLoadFailed(message) from None
        slot.state, slot.last_used = "loaded", time.monotonic()
        slot.card.state, slot.card.load_seconds = "loaded", round(seconds, 3)
        log.info(
            "%s: loaded %s in %.2f s (%d MB)", self.backend, slot.id, seconds, slot.size_bytes // MB
        )
        if self.metrics is not None:
            self.metrics.model_loaded.labels(slot.id, self.backend).set(1)
            self.metrics.model_load.labels(slot.id, self.backend).observe(seconds)

    def _begin_unload(self, slot: Slot) -> asyncio.Future[None]:
        """Start unloading an idle, loaded model; its memory counts until the thread ends."""
        assert slot.worker is not None and slot.state == "loaded"
        slot.state = "unloading"
        slot.transition = asyncio.ensure_future(self._unload(slot, slot.worker))
        return slot.transition

    async def _unload(self, slot: Slot, worker: Worker) -> None:
        worker.stop()
        await asyncio.wrap_future(worker.closed)
        self._mark_unloaded(slot)
        log.info("%s: unloaded %s", self.backend, slot.id)

    def _mark_unloaded(self, slot: Slot) -> None:
        slot.worker, slot.state, slot.card.state = None, "on disk", "on disk"
        if (info := slot.card.prompt_cache) is not None:  # the cache went with the weights
            info.bytes = info.entries = info.longest = 0
        if self.metrics is not None:
            self.metrics.model_loaded.labels(slot.id, self.backend).set(0)
            self.metrics.prompt_cache_bytes.labels(slot.id, self.backend).set(0)
        self._wake()

    async def _reap_forever(self) -> None:
        interval = min(max(self.idle_ttl / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for model_id in choose_evictions(self.infos(now), 0, self.budget_bytes, now):
                self._begin_unload(self.slots[model_id])

    def _wake(self) -> None:
        """Tell loads waiting for room that something changed."""
        self._changed.set()
        self._changed = asyncio.Event()


def _memory(slot: Slot) -> int:
    """What a resident model holds of the budget: its weights, its prompt cache's bound and its
    generating requests' KV allowance."""
    return slot.size_bytes + slot.cache_bytes + slot.kv_bytes


def _warm_seconds(slot: Slot) -> float:
    """The prompt reading a model's warm cache saves the next turn extending its longest entry,
    at a prior reading speed from the model's size (mlx models are read at memory speed)."""
    info = slot.card.prompt_cache
    if info is None or not info.longest:
        return 0.0
    speed = min(MAX_PROMPT_TPS, PROMPT_TPS_PER_GB / max(slot.size_bytes / 1e9, 0.05))
    return info.longest / speed


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark a load's failure as seen: the requests that awaited it have reported it."""
    if not task.cancelled():
        task.exception()
