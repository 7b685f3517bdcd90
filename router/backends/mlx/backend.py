"""The `mlx` backend: models run in this process with mlx-lm, one generation thread each.

A request becomes a `job.Job` (chat messages or a text prompt, sampling settings, stop
strings; what it may ask is in `fields`); `residency.Residency` gives it a loaded model (loading
it, or evicting idle ones, first); the model's thread generates and hands text back to the event
loop; `answer.Answer` shapes the result as OpenAI does: a `chat.completion` / `text_completion`
body, or one server-sent event per token, then a chunk with the finish reason, a usage chunk
(always: the HTTP layer drops it when the client did not ask) and `[DONE]`.

Models are the configured entries (`models = [{id, path}]`) plus every model folder (one with
`config.json` and `*.safetensors`) directly inside `model_dirs`, named after the folder. With
neither configured, the router's cache of models (where the embedded model lives) is scanned.
Each model's `ModelCard` is one object kept up to date (state, load time), so the catalogue
shows the live state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from router.backends.mlx import kv
from router.backends.mlx.answer import Answer, Choice
from router.backends.mlx.fields import Fields, Format, read_fields
from router.backends.mlx.fields import refusal as refused_field
from router.backends.mlx.generation import Loader, Report, Worker, load_mlx
from router.backends.mlx.job import Done, Ended, Failed, Job, JobStats, Prompt, Refused
from router.backends.mlx.json_mode import check_choices, instruction
from router.backends.mlx.output import Piece
from router.backends.mlx.prompt import chat_messages, corrected, with_instruction
from router.backends.mlx.prompt_cache import CacheUse
from router.backends.mlx.residency import Residency
from router.backends.mlx.sampling import Asked, Sampling, model_defaults, resolve
from router.backends.protocol import DONE, BackendRequest, Reply, StreamEvent
from router.config import MLXBackendConfig, ModelEntry, SamplingDefaults
from router.errors import (
    BackendStatusError,
    BackendUnavailable,
    BadOutput,
    GenerationFailed,
    Unsupported,
)
from router.metrics import Metrics
from router.wire import ChatRequest, CompletionRequest, ModelCard, PromptTokensDetails, Usage

log = logging.getLogger("router")
RECENT_JOBS = 256  # JobStats kept for tests and debugging


class _ModelConfig(msgspec.Struct):
    max_position_embeddings: int | None = None


_decode_model_config = msgspec.json.Decoder(_ModelConfig).decode


def usage(done: Done) -> Usage:
    return Usage(
        done.prompt_tokens,
        done.completion_tokens,
        done.prompt_tokens + done.completion_tokens,
        PromptTokensDetails(done.cached_tokens),
    )


class MLXBackend:
    """In-process models. See `router.backends.Backend` for the contract."""

    kind = "mlx"

    def __init__(
        self, config: MLXBackendConfig, metrics: Metrics | None = None, *, loader: Loader = load_mlx
    ) -> None:
        """`loader` reads a model folder into (model, tokenizer); tests pass their own."""
        self.name = config.name
        self._default_max_tokens = config.default_max_tokens
        self._defaults = config.defaults
        self._layers: dict[str, list[SamplingDefaults | None]] = {}  # model -> sampling defaults
        self._configured = config.model_entries() or []
        dirs = config.model_dirs or ([] if config.models is not None else [_default_models()])
        self._dirs = [Path(d).expanduser() for d in dirs]
        budget = config.budget_bytes()
        self.residency = Residency(
            self.name,
            budget_bytes=budget,
            idle_ttl=config.idle_ttl,
            load_wait=config.load_wait,
            metrics=metrics,
            factory=lambda model_id, path: Worker(
                model_id,
                path,
                loader,
                cache_bytes=self.residency.slots[model_id].cache_bytes,
                report=self._reporter(model_id, metrics),
                size=metrics.batch_size.labels(model_id, self.name).set if metrics else None,
                kv=self.residency.kv_budget(model_id),
            ),
            cache_bytes=config.prompt_cache_limit(budget),
            kv_bytes=config.generation_kv_limit(budget),
        )
        self.recent: dict[str, JobStats] = {}  # request id -> what its job did
        for entry in self._configured:
            if entry.path:
                self._register(entry.id, Path(entry.path).expanduser(), entry)

    def _reporter(self, model_id: str, metrics: Metrics | None) -> Report:
        """What a model's generation thread reports after each job: into the metrics, and
        onto the model's card on the event loop (called while loading: the loop runs)."""
        loop = asyncio.get_running_loop()
        record = self.residency.record

        def report(use: CacheUse) -> None:
            if metrics is not None:
                metrics.prompt_cache_hits.labels(model_id, self.name).inc(use.cached_tokens)
                metrics.prompt_cache_bytes.labels(model_id, self.name).set(use.bytes)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody reads the card
                loop.call_soon_threadsafe(record, model_id, use)

        return report

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
        self.residency.add(model_id, path, size, card, kv.read_per_token(path))
        own = entry.defaults if entry else None
        self._layers[model_id] = [own, self._defaults, model_defaults(path)]

    def warm(self, model: str) -> None:
        self.residency.warm(model)

    async def complete(self, request: BackendRequest) -> Reply:
        job, answer, fmt = self._job(request)
        if fmt is not None:
            choices, done, first = await self._checked(request.model, job, fmt)
        else:
            choices, done, first = await self._collect(request.model, job)
        return Reply(answer.body(choices, usage(done)), usage(done), first)

    async def stream(self, request: BackendRequest) -> AsyncIterator[StreamEvent]:
        job, answer, fmt = self._job(request)
        if fmt is not None:  # checked first, then sent
            choices, done, _ = await self._checked(request.model, job, fmt)
            for index, choice in enumerate(choices):
                yield answer.event(
                    index,
                    choice.text(),
                    first=True,
                    logprobs=choice.logprobs,
                    tool_calls=choice.tool_calls,
                )
                yield answer.event(index, None, choice.finish_reason)
            yield answer.usage_event(usage(done))
            yield DONE
            return
        async with self.residency.lease(request.model) as worker:
            worker.submit(job)
            try:
                started: set[int] = set()
                while not isinstance(item := await self._next(job), Done):
                    first = item.index not in started
                    started.add(item.index)
                    if isinstance(item, Ended):
                        text = "" if first else None
                        yield answer.event(item.index, text, item.finish_reason, first=first)
                        continue
                    text = item.text if item.text or not item.tool_calls else None
                    yield answer.event(
                        item.index,
                        text,
                        first=first,
                        logprobs=item.logprobs,
                        tool_calls=item.tool_calls,
                    )
                yield answer.usage_event(usage(item))
                yield DONE
            finally:
                job.cancel()  # the consumer closed the stream or was cancelled: stop the thread

    async def _collect(self, model: str, job: Job) -> tuple[list[Choice], Done, float | None]:
        """A job's whole output: its choices, its end, and when its first token came."""
        choices = [Choice() for _ in range(job.n)]
        first: float | None = None
        async with self.residency.lease(model) as worker:
            worker.submit(job)
            try:
                while not isinstance(item := await self._next(job), Done):
                    choice = choices[item.index]
                    if isinstance(item, Ended):
                        choice.finish_reason = item.finish_reason
                        continue
                    first = first or time.perf_counter()
                    choice.parts.append(item.text)
                    choice.logprobs += item.logprobs or ()
                    choice.tool_calls += item.tool_calls or ()
            finally:
                job.cancel()  # a no-op when it ended; stops it when this task was cancelled
        return choices, item, first

    async def _checked(
        self, model: str, job: Job, fmt: Format
    ) -> tuple[list[Choice], Done, float | None]:
        """A JSON answer that passed its check, asked twice at most (`mlx_json`)."""
        choices, done, first = await self._collect(model, job)
        problem = check_choices(choices, fmt)
        if problem is None:
            return choices, done, first
        retry = job.again(corrected(job.prompt, choices[0].text(), problem, fmt))
        choices, again, _ = await self._collect(model, retry)
        problem = check_choices(choices, fmt)
        if problem is not None:
            raise BadOutput(
                f"{self.name}/{model}: the answer is not the JSON response_format "
                f"asks for, twice: {problem}",
                param="response_format",
            )
        both = Done(
            again.finish_reason,
            done.prompt_tokens + again.prompt_tokens,
            done.completion_tokens + again.completion_tokens,
            done.cached_tokens + again.cached_tokens,
        )
        return choices, both, first

    async def _next(self, job: Job) -> Piece | Ended | Done:
        """The job's next item; a failure, a refusal or a cancellation by `close` raises."""
        item = await job.out.get()
        if isinstance(item, Failed):
            raise GenerationFailed(f"{self.name}/{job.stats.model}: {item.message}")
        if isinstance(item, Refused):
            raise Unsupported(item.param, f"{self.name}/{job.stats.model}: {item.message}")
        if isinstance(item, Done) and item.finish_reason == "cancelled":
            raise BackendUnavailable(f"{self.name}/{job.stats.model}: the backend is closing")
        return item

    def _job(self, request: BackendRequest) -> tuple[Job, Answer, Format | None]:
        """The job for a request, or the client's mistake as a 4xx `BackendStatusError`."""
        parsed = request.parsed
        if request.endpoint == "responses":  # a passed-through request: chat cannot say it
            raise BackendStatusError(
                400, f"{self.name}: in-process models answer the Responses API through chat only"
            )
        if request.endpoint == "embeddings" or not isinstance(
            parsed, ChatRequest | CompletionRequest
        ):
            raise BackendStatusError(
                400, f"{self.name}: embeddings are not supported by in-process models"
            )
        if request.model not in self.residency.slots:
            raise BackendStatusError(404, f"{self.name}: no model {request.model!r}")
        chat = isinstance(parsed, ChatRequest)
        fields = read_fields(request.body, self.name)
        if refused := refused_field(fields, chat):
            raise Unsupported(refused[0], f"{self.name}: {refused[0]}: {refused[1]}")
        answer = Answer(chat, request.model, fields.top() is not None)
        fmt = fields.json_format() if chat else None
        stats = JobStats(answer.id, request.model)
        self.recent[answer.id] = stats
        if len(self.recent) > RECENT_JOBS:
            del self.recent[next(iter(self.recent))]
        tools = fields.tools if fields.tool_choice != "none" else None
        limit = parsed.token_limit() or request.max_tokens or self._default_max_tokens
        job = Job(
            stats,
            self._prompt(parsed, fields, fmt),
            max_tokens=limit,
            sampling=self.sampling(request.model, fields),
            stops=parsed.stop_list(),
            n=fields.n or 1,
            top_logprobs=fields.top(),
            tools=tools or None,
            one_tool_call=fields.parallel_tool_calls is False,
            template=fields.chat_template_kwargs if chat else None,
        )
        return job, answer, fmt

    def sampling(self, model: str, fields: Fields) -> Sampling:
        """The request's sampling settings, the model's defaults filling what it leaves unset."""
        asked = Asked(**{name: getattr(fields, name) for name in Asked.__struct_fields__})
        return resolve(asked, self._layers.get(model, []))

    def _prompt(
        self, parsed: ChatRequest | CompletionRequest, fields: Fields, fmt: Format | None
    ) -> Prompt:
        if isinstance(parsed, CompletionRequest):
            prompts = parsed.prompts()
            if len(prompts) != 1:
                raise BackendStatusError(
                    400, f"{self.name}: in-process models take one prompt per request"
                )
            return prompts[0]
        if any(m.has_image() for m in parsed.messages):
            raise BackendStatusError(400, f"{self.name}: in-process models read text only")
        messages = chat_messages(parsed.messages, fields.messages or [])
        if fmt is None:
            return messages
        schema = fmt.json_schema.schema if fmt.json_schema is not None else None
        return with_instruction(messages, instruction(schema))


def _default_models() -> str:
    """The router's model cache, where the embedded default model is imported."""
    from router.paths import default_cache_dir

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
            return [(child.name[len("models--") :].replace("--", "/"), newest)]
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
