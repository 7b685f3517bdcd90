"""The `mlx` backend: models run in this process with mlx-lm, one generation thread each.

A request becomes a `router.generation.Job` (chat messages or a text prompt, sampling settings,
stop strings); `router.residency.Residency` gives it a loaded model (loading it, or evicting
idle ones, first); the model's thread generates and hands text back to the event loop; this
module shapes the result as OpenAI does: a `chat.completion` / `text_completion` body, or one
server-sent event per token, then a chunk with the finish reason, a usage chunk (always: the
HTTP layer drops it when the client did not ask) and `[DONE]`.

Models are the configured entries (`models = [{id, path}]`) plus every model folder (one with
`config.json` and `*.safetensors`) directly inside `model_dirs`, named after the folder. With
neither configured, the router's cache of models (where the embedded model lives) is scanned.
Each model's `ModelCard` is one object kept up to date (state, load time), so the catalogue
shows the live state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from router.backends import DONE, BackendRequest, Reply, StreamEvent
from router.config import BackendConfig, ModelEntry
from router.errors import BackendError, BackendStatusError, BackendUnavailable
from router.generation import (
    Done,
    Failed,
    Job,
    JobStats,
    Loader,
    Piece,
    Prompt,
    Worker,
    load_mlx,
)
from router.metrics import Metrics
from router.residency import Residency
from router.wire import (
    ChatRequest,
    Chunk,
    ChunkChoice,
    CompletionRequest,
    Delta,
    ModelCard,
    Usage,
)

log = logging.getLogger("router")
DEFAULT_TEMPERATURE = 1.0  # OpenAI's default when a request sets none
RECENT_JOBS = 256  # JobStats kept for tests and debugging


class GenerationFailed(BackendError):
    """The model failed while generating (before the first token the router falls back)."""

    code = "generation_failed"


# --- response shapes (what this backend writes; OpenAI's field names) ----------------------


class _Message(msgspec.Struct):
    content: str
    role: str = "assistant"


class _ChatChoice(msgspec.Struct):
    message: _Message
    finish_reason: str
    index: int = 0
    logprobs: None = None


class _TextChoice(msgspec.Struct):
    text: str
    finish_reason: str
    index: int = 0
    logprobs: None = None


class _Completion(msgspec.Struct):
    id: str
    object: str  # "chat.completion" or "text_completion"
    created: int
    model: str
    choices: list[_ChatChoice] | list[_TextChoice]  # encoded only, never decoded
    usage: Usage


class _DeltaOut(msgspec.Struct, omit_defaults=True):
    role: str | None = None
    content: str | None = None


class _ChatChunkChoice(msgspec.Struct):
    delta: _DeltaOut
    finish_reason: str | None = None
    index: int = 0
    logprobs: None = None


class _TextChunkChoice(msgspec.Struct):
    text: str
    finish_reason: str | None = None
    index: int = 0
    logprobs: None = None


class _ChunkOut(msgspec.Struct):
    id: str
    object: str  # "chat.completion.chunk" or "text_completion"
    created: int
    model: str
    choices: list[_ChatChunkChoice] | list[_TextChunkChoice]  # encoded only
    usage: Usage | None = None


class _ModelConfig(msgspec.Struct):
    max_position_embeddings: int | None = None


_encode = msgspec.json.Encoder().encode
_decode_model_config = msgspec.json.Decoder(_ModelConfig).decode


class _Answer:
    """One request's fixed parts: its id, kind, model and creation time."""

    __slots__ = ("chat", "created", "id", "model")

    def __init__(self, chat: bool, model: str) -> None:
        self.chat = chat
        self.model = model
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())

    def body(self, text: str, done: Done) -> bytes:
        choice: Any = (_ChatChoice(_Message(text), done.finish_reason) if self.chat
                       else _TextChoice(text, done.finish_reason))  # fmt: skip
        kind = "chat.completion" if self.chat else "text_completion"
        return _encode(_Completion(self.id, kind, self.created, self.model, [choice], usage(done)))

    def event(self, text: str | None, finish: str | None = None, *, first: bool = False,
              usage: Usage | None = None) -> StreamEvent:  # fmt: skip
        """One SSE event; no text and no finish reason makes the usage-only chunk."""
        choices: list[Any] = []
        seen: list[ChunkChoice] = []
        if text is not None or finish is not None:
            if self.chat:
                delta = _DeltaOut("assistant" if first else None, text)
                choices.append(_ChatChunkChoice(delta, finish))
                seen.append(ChunkChoice(0, Delta(content=text), None, finish))
            else:
                choices.append(_TextChunkChoice(text or "", finish))
                seen.append(ChunkChoice(0, None, text or "", finish))
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        out = _ChunkOut(self.id, kind, self.created, self.model, choices, usage)
        return StreamEvent(b"data: " + _encode(out) + b"\n\n", Chunk(seen, usage))


def usage(done: Done) -> Usage:
    return Usage(done.prompt_tokens, done.completion_tokens,
                 done.prompt_tokens + done.completion_tokens)  # fmt: skip


class MLXBackend:
    """In-process models. See `router.backends.Backend` for the contract."""

    kind = "mlx"

    def __init__(
        self, config: BackendConfig, metrics: Metrics | None = None, *, loader: Loader = load_mlx
    ) -> None:
        """`loader` reads a model folder into (model, tokenizer); tests pass their own."""
        self.name = config.name
        self._default_max_tokens = config.default_max_tokens
        self._configured = config.model_entries() or []
        dirs = config.model_dirs or ([] if config.models is not None else [_default_models()])
        self._dirs = [Path(d).expanduser() for d in dirs]
        self.residency = Residency(
            self.name, budget_bytes=config.budget_bytes(), idle_ttl=config.idle_ttl,
            load_wait=config.load_wait, max_queue=config.max_queue, metrics=metrics,
            factory=lambda model_id, path: Worker(model_id, path, loader),
        )  # fmt: skip
        self.recent: dict[str, JobStats] = {}  # request id -> what its job did
        for entry in self._configured:
            if entry.path:
                self._register(entry.id, Path(entry.path).expanduser(), entry)

    async def start(self) -> None:
        self.residency.start()

    async def close(self) -> None:
        await self.residency.close()

    def listed(self) -> list[ModelCard]:
        slots = self.residency.slots
        return [slots[e.id].card for e in self._configured if e.id in slots]

    async def models(self) -> list[ModelCard]:
        """Configured models and model folders found in `model_dirs` (re-scanned each call).
        Never raises: in-process models have no connection to lose."""
        found = await asyncio.to_thread(_scan, self._dirs)
        entries = {e.id: e for e in self._configured}
        for model_id, path in found.items():
            entry = entries.get(model_id)
            if model_id not in self.residency.slots and (entry is None or not entry.path):
                self._register(model_id, path, entry)
        return [slot.card for slot in self.residency.slots.values()]

    def _register(self, model_id: str, path: Path, entry: ModelEntry | None) -> None:
        context = (entry.context_length if entry else None) or _context_length(path)
        capabilities = list(entry.capabilities) if entry else []
        size = _weights_bytes(path)
        state = "on disk" if (path / "config.json").is_file() else "missing"
        card = ModelCard(
            model_id,
            created=_modified(path),
            owned_by=self.name,
            context_length=context,
            capabilities=capabilities,
            state=state,
            size_bytes=size,
        )
        self.residency.add(model_id, path, size, card)

    def warm(self, model: str) -> None:
        self.residency.warm(model)

    async def complete(self, request: BackendRequest) -> Reply:
        job, answer = self._job(request)
        async with self.residency.lease(request.model) as worker:
            worker.submit(job)
            try:
                parts: list[str] = []
                first: float | None = None
                while isinstance(item := await self._next(job), Piece):
                    first = first or time.perf_counter()
                    parts.append(item.text)
            finally:
                job.cancel()  # a no-op when it ended; stops it when this task was cancelled
        return Reply(answer.body("".join(parts), item), usage(item), first)

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        job, answer = self._job(request)
        async with self.residency.lease(request.model) as worker:
            worker.submit(job)
            try:
                first = True
                while isinstance(item := await self._next(job), Piece):
                    if item.text:
                        yield answer.event(item.text, first=first)
                        first = False
                yield answer.event(None if not first else "", item.finish_reason, first=first)
                yield answer.event(None, usage=usage(item))
                yield DONE
            finally:
                job.cancel()  # the consumer closed the stream or was cancelled: stop the thread

    async def _next(self, job: Job) -> Piece | Done:
        """The job's next item; a failure or a cancellation by `close` raises."""
        item = await job.out.get()
        if isinstance(item, Failed):
            raise GenerationFailed(f"{self.name}/{job.stats.model}: {item.message}")
        if isinstance(item, Done) and item.finish_reason == "cancelled":
            raise BackendUnavailable(f"{self.name}/{job.stats.model}: the backend is closing")
        return item

    def _job(self, request: BackendRequest) -> tuple[Job, _Answer]:
        """The job for a request, or the client's mistake as a 4xx `BackendStatusError`."""
        parsed = request.parsed
        if request.endpoint == "embeddings" or not isinstance(
            parsed, ChatRequest | CompletionRequest
        ):
            raise BackendStatusError(400, f"{self.name}: embeddings are not supported by "
                                          "in-process models")  # fmt: skip
        if request.model not in self.residency.slots:
            raise BackendStatusError(404, f"{self.name}: no model {request.model!r}")
        answer = _Answer(isinstance(parsed, ChatRequest), request.model)
        prompt = self._prompt(parsed)
        stats = JobStats(answer.id, request.model)
        self.recent[answer.id] = stats
        if len(self.recent) > RECENT_JOBS:
            del self.recent[next(iter(self.recent))]
        temperature = DEFAULT_TEMPERATURE if parsed.temperature is None else parsed.temperature
        job = Job(stats, prompt, max_tokens=parsed.token_limit() or self._default_max_tokens,
                  temperature=temperature, top_p=parsed.top_p, seed=parsed.seed,
                  stops=parsed.stop_list())  # fmt: skip
        return job, answer

    def _prompt(self, parsed: ChatRequest | CompletionRequest) -> Prompt:
        if isinstance(parsed, CompletionRequest):
            prompts = [parsed.prompt] if isinstance(parsed.prompt, str) else parsed.prompt
            if len(prompts) != 1:
                raise BackendStatusError(400, f"{self.name}: in-process models take one "
                                              "prompt per request")  # fmt: skip
            return prompts[0]
        if any(m.has_image() for m in parsed.messages):
            raise BackendStatusError(400, f"{self.name}: in-process models read text only")
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in parsed.messages]  # fmt: skip


def _default_models() -> str:
    """The router's model cache, where the embedded default model is imported."""
    from router.embedded import default_cache_dir

    return str(default_cache_dir() / "models")


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _scan(dirs: list[Path]) -> dict[str, Path]:
    """Model folders in `dirs`, by id: a dir that is itself one (its name), its children that
    are (their names), Hugging Face cache entries (`models--org--name/snapshots/<rev>`:
    `org/name`) and LM Studio's publisher folders (`publisher/model`: `publisher/model`)."""
    found: dict[str, Path] = {}
    for folder in dirs:
        if _is_model_folder(folder):
            found.setdefault(folder.name, folder)
            continue
        for child in _children(folder):
            for model_id, path in _models_in(child):
                found.setdefault(model_id, path)
    return found


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []  # a missing folder is not an error: it may appear later


def _models_in(child: Path) -> list[tuple[str, Path]]:
    if _is_model_folder(child):
        return [(child.name, child)]
    if child.name.startswith("models--"):  # the Hugging Face hub cache
        snapshots = _children(child / "snapshots")
        newest = max(snapshots, key=lambda p: p.stat().st_mtime, default=None)
        if newest is not None and _is_model_folder(newest):
            return [(child.name[len("models--"):].replace("--", "/"), newest)]
        return []
    return [(f"{child.name}/{m.name}", m) for m in _children(child) if _is_model_folder(m)]


def _weights_bytes(path: Path) -> int:
    """The size of a model's weights on disk, the estimate of its memory."""
    try:
        return sum(f.stat().st_size for f in path.glob("*.safetensors"))
    except OSError:
        return 0


def _modified(path: Path) -> int:
    """When the model folder last changed (a model's `created` in /v1/models); 0: unknown."""
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


def _context_length(path: Path) -> int | None:
    try:
        return _decode_model_config((path / "config.json").read_bytes()).max_position_embeddings
    except (OSError, msgspec.DecodeError):
        return None
