"""Continuous batching on a model's generation thread: concurrent jobs decode together through
mlx-lm's `BatchGenerator`, as `mlx_lm.server` drives it.

Between decode steps the thread lets queued jobs join (`Batch.join`: the prompt's tokens, the
prompt cache's longest prefix fetched, only the rest inserted with the job's own sampler, logits
processors and max_tokens; the model's EOS ids are the stop tokens); each step (`Batch.step`)
hands every member its token, detokenized and passed through its own `ChoiceOutput` (tool
calls, stop strings, log-probabilities), exactly as `stepping` does for a job alone. A member
leaves when it finishes (EOS, its max_tokens, a stop string) or is cancelled (its stop flag is
read after every step: it leaves within a token or two, the others go on); its KV cache goes to
the prompt cache under the prompt and the answer.

Jobs that run alone (`stepping.generate`, one at a time, as before), and why (`solo_reason`):
- `n` > 1: the choices share one prompt and are stepped one after another;
- a `seed`: mlx's random state is global to the thread, so a seeded job must not share steps
  (as `mlx_lm.server` does);
- a model whose KV caches cannot merge into a batch (no `merge`, `mlx_lm.server`'s test), or
  whose caches cannot be made (`can_batch`).
Everything else is batched: temperature/top_p/top_k/min_p, penalties and logit_bias (per-member
logits processors, which see the prompt's tokens too), stop strings, tools, logprobs (each step
gives every member's log-probabilities), and `response_format` (a checked generation: asked in
words, checked after the answer by the backend; no per-step state, see `json_mode`).

Who runs when is `plan` (pure): the queue is served in order; batchable jobs at its head join
the batch up to `MAX_BATCH`, and only while the batch's KV caches fit the model's allowance
(`generation_kv_bytes`, reserved in the memory budget: members x the longest member's prompt +
max_tokens, as `BatchKVCache` pads rows; the prompts are tokenized before planning, `Job.tokens`);
one job always runs, however large; a job that must run alone waits until the batch has
drained, and the jobs behind it wait behind it (no starvation either way).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from router.backends.mlx.job import Done, Ended, Failed, Item, Job
from router.backends.mlx.output import ChoiceOutput
from router.backends.mlx.prompt_cache import PromptCache, cached_tokens
from router.backends.mlx.sampling import build
from router.backends.mlx.stepping import prompt_tokens

MAX_BATCH = 32  # members decoding together (mlx_lm.server's default decode concurrency)
PREFILL_BATCH = 8  # prompts read together (its default prompt concurrency)

End = Callable[[Job, Item], None]  # a job's last item, posted by the worker
Size = Callable[[int], None]  # the batch's size, each time it changes


def solo_reason(job: Job) -> str | None:
    """Why the job must run alone, or None when it can join a batch. Pure."""
    if job.n > 1:
        return "n > 1"
    if job.sampling.seed is not None:
        return "seed"
    return None


class Plan(msgspec.Struct, frozen=True):
    """What the thread does next: how many jobs at the queue's head join the batch, and
    whether the next one after them runs alone now."""

    join: int
    alone: bool


def plan(
    batchable: Sequence[bool],
    running: int,
    limit: int = MAX_BATCH,
    *,
    needs: Sequence[int] = (),
    held: Sequence[int] = (),
    allowance: int | None = None,
) -> Plan:
    """`batchable`: the waiting jobs in order, whether each may join a batch; `running`: the
    batch's members now. In order: batchable jobs join while there is room; a job that must run
    alone runs once nothing is running, and holds back the jobs behind it. Pure.

    With an `allowance` (bytes of in-flight KV cache), `needs` (each waiting job's KV bytes at
    its end, `kv.need`) and `held` (the members'): a job joins only while the batch's KV stays
    within it, counted as the batch holds it: every member's row as long as the longest (mlx-lm's
    `BatchKVCache` pads the shorter ones), members x the largest need. The first job into an
    empty batch always joins, however large: a request larger than the allowance runs alone."""
    join, largest = 0, max(held, default=0)
    for index, ok in enumerate(batchable):
        if not ok or running + join >= limit:
            break
        need = max(largest, needs[index] if index < len(needs) else 0)
        if allowance is not None and running + join > 0 and (running + join + 1) * need > allowance:
            break
        largest = need
        join += 1
    alone = join == 0 and running == 0 and bool(batchable) and not batchable[0]
    return Plan(join, alone)


def can_batch(model: Any) -> bool:
    """Whether the model's KV caches merge into a batch (mlx_lm.server's test)."""
    from mlx_lm.models.cache import make_prompt_cache

    try:
        return all(hasattr(c, "merge") for c in make_prompt_cache(model))
    except Exception:  # not an mlx-lm model (e.g. a test's stand-in): it runs alone
        return False


class _Token(msgspec.Struct):
    """One member's step, shaped as `stream_generate`'s response for `ChoiceOutput`."""

    text: str
    token: int
    logprobs: Any
    finish_reason: str | None


class _Member:
    __slots__ = ("detokenizer", "job", "kv", "made", "out", "reused")

    def __init__(self, job: Job, out: ChoiceOutput, detokenizer: Any, reused: int, kv: int) -> None:
        self.job, self.out, self.detokenizer, self.reused = job, out, detokenizer, reused
        self.kv = kv  # the KV bytes it holds at its end (`kv.need`), counted by `plan`
        self.made = 0  # tokens made, EOS excluded


class Batch:
    """The running batch of one model, on its thread (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        model_id: str,
        cache: PromptCache | None,
        end: End,
        size: Size | None = None,
    ) -> None:
        """`end` posts a leaving job's last item; `size` hears the batch's size as it changes."""
        self._model, self._tokenizer, self._model_id = model, tokenizer, model_id
        self._cache, self._end, self._size = cache, end, size
        self._members: dict[int, _Member] = {}  # BatchGenerator uid -> member
        self._generator: Any = None
        self._stop_tokens: Any = None

    def __len__(self) -> int:
        return len(self._members)

    def held(self) -> list[int]:
        """Each member's KV need, as it joined (`plan`'s `held`)."""
        return [m.kv for m in self._members.values()]

    def join(self, job: Job, need: int = 0) -> None:
        """Insert the job into the batch (raises `Refusal` or the template's error); `need`: the
        KV bytes it will hold at its end (`kv.need`)."""
        tokenizer = self._tokenizer
        prompt = job.tokens or prompt_tokens(job, tokenizer, self._model_id)
        out = job.output(0, tokenizer)
        sampler, processors = build(job.sampling, tokenizer)
        kv, reused = self._cache.fetch(self._model, prompt) if self._cache else (None, 0)
        job.stats.prompt_tokens, job.stats.cached_tokens = len(prompt), reused
        generator, stop_tokens = self._batch()
        (uid,) = generator.insert(
            [prompt[reused:]],
            max_tokens=[job.max_tokens],
            caches=[kv] if kv is not None else None,
            all_tokens=[prompt[:reused]],
            samplers=[None if job.sampling.temperature == 0 else sampler],  # greedy: one call
            logits_processors=[processors],
            stop_sequences=[stop_tokens],
        )
        self._members[uid] = _Member(job, out, tokenizer.detokenizer, reused, need)
        self._resized()

    def step(self) -> None:
        """One step of every member; the finished and the cancelled leave."""
        _, responses = self._generator.next()
        leaving: dict[int, str] = {}  # uid -> finish reason, for those the batch still holds
        for response in responses:
            member = self._members.get(response.uid)
            if member is None:
                continue
            finish = self._take(member, response)
            if finish is None:
                continue
            if response.finish_reason is not None:  # the generator let it go already
                self._keep(response.all_tokens, response.prompt_cache)
                self._leave(response.uid, finish)
            else:
                leaving[response.uid] = finish
        for uid, member in self._members.items():
            if member.job.stop.is_set():
                leaving.setdefault(uid, "cancelled")
        if leaving:
            self._remove(leaving)

    def fail(self, message: str) -> None:
        """The step failed: every member fails with `message`; the next join starts afresh."""
        members, self._members = list(self._members.values()), {}
        generator, self._generator = self._generator, None
        with contextlib.suppress(Exception):  # it failed once already: only its wired limit
            generator.close()
        self._resized()
        for member in members:
            self._end(member.job, Failed(message))

    def close(self) -> None:
        """Cancel every member and drop the generator (the thread is releasing the model)."""
        members, self._members = list(self._members.values()), {}
        if members:
            self._resized()
        for member in members:
            self._end(member.job, self._done(member, "cancelled"))
        if self._generator is not None:
            self._generator.close()
            self._generator = None

    def _batch(self) -> tuple[Any, Any]:
        """The generator (made on the first join) and the model's stop tokens (its EOS ids)."""
        if self._generator is None:
            import mlx.core as mx
            from mlx_lm.generate import BatchGenerator, make_stop_sequences

            self._generator = BatchGenerator(
                self._model,
                completion_batch_size=MAX_BATCH,
                prefill_batch_size=PREFILL_BATCH,
                stream=mx.default_stream(mx.default_device()),  # this thread's own
            )
            self._stop_tokens = make_stop_sequences(self._tokenizer)
        return self._generator, self._stop_tokens

    def _remove(self, leaving: dict[int, str]) -> None:
        caches = self._generator.remove(list(leaving), return_prompt_caches=True)
        for uid, finish in leaving.items():
            if self._members[uid].made > 0 and uid in caches:  # decoding: its cache is whole
                kv, tokens = caches[uid]
                self._keep(tokens, kv)
            self._leave(uid, finish)

    def _take(self, member: _Member, response: Any) -> str | None:
        """One token for a member (as `stepping` takes one): its finish reason when it ends."""
        stats, detokenizer = member.job.stats, member.detokenizer
        eos = response.finish_reason == "stop"
        stats.generated += 0 if eos else 1
        if member.job.stop.is_set():
            stats.after_stop += 0 if eos else 1
            return "cancelled"
        member.made += 0 if eos else 1
        if not eos:
            detokenizer.add_token(response.token)
        if response.finish_reason is not None:
            detokenizer.finalize()
        token = _Token(
            detokenizer.last_segment, response.token, response.logprobs, response.finish_reason
        )
        if member.out.take(token, eos):
            return "stop"
        return member.out.finish(response.finish_reason) if response.finish_reason else None

    def _keep(self, tokens: Sequence[int], kv: list[Any] | None) -> None:
        """A leaving member's KV cache into the prompt cache, when it holds exactly `tokens`."""
        if self._cache is not None and kv and cached_tokens(kv) == len(tokens):
            self._cache.insert(list(tokens), kv)

    def _leave(self, uid: int, finish: str) -> None:
        member = self._members.pop(uid)
        self._resized()  # before the job's end: a client that has its answer sees it gone
        if finish != "cancelled":
            member.job.post(Ended(0, finish))
        self._end(member.job, self._done(member, finish))

    @staticmethod
    def _done(member: _Member, finish: str) -> Done:
        stats = member.job.stats
        return Done(finish, stats.prompt_tokens, member.made, member.reused)

    def _resized(self) -> None:
        if self._size is not None:
            self._size(len(self._members))
