"""One job's generation, on its model's thread: the prompt's tokens, then each choice stepped
token by token through mlx-lm's `stream_generate`, the stop flag read after every token. Each
choice starts from the model's prompt cache (`router.backends.mlx.prompt_cache`: only the tokens
it does not hold are read) and leaves its KV cache there, under the prompt and the answer.

Apart from `router.backends.mlx.generation` (which owns the threads, the queue and the model's
life) because this is what happens inside one job, given a loaded model and tokenizer: the chat
template (with tools, refused when the model has no tool-call parser), the seed, the sampler,
and the choice's output (`router.backends.mlx.output.ChoiceOutput`: stop strings, tool calls,
log-probabilities) posted to the event loop as it is made.
"""

from __future__ import annotations

from typing import Any

from router.backends.mlx.job import Done, Ended, Job, Refusal
from router.backends.mlx.prompt_cache import PENALTY_CONTEXT, PromptCache, cached_tokens
from router.backends.mlx.sampling import Sampling, build
from router.backends.mlx.tools import scanner_for


def generate(
    job: Job, model: Any, tokenizer: Any, model_id: str, cache: PromptCache | None = None
) -> Done:
    """The job's choices, one after another, from one prompt; each starts from what `cache`
    holds of the prompt, and leaves its KV cache there."""
    import mlx.core as mx

    prompt = prompt_tokens(job, tokenizer, model_id)
    job.stats.prompt_tokens = len(prompt)
    if job.sampling.seed is not None:
        mx.random.seed(job.sampling.seed)
    made, finish, cached = 0, "stop", 0
    for index in range(job.n):
        finish, count, reused = _choice(job, model, tokenizer, prompt, index, cache)
        made += count
        if index == 0:
            cached = job.stats.cached_tokens = reused
        if finish == "cancelled":
            return Done("cancelled", len(prompt), made, cached)
        job.post(Ended(index, finish))
    return Done(finish, len(prompt), made, cached)


def _choice(
    job: Job, model: Any, tokenizer: Any, prompt: list[int], index: int, cache: PromptCache | None
) -> tuple[str, int, int]:
    """One generation: its finish reason, how many tokens it made, and how many of the
    prompt's tokens the prompt cache held."""
    keep = PENALTY_CONTEXT if _penalised(job.sampling) else 1
    kv, reused = cache.fetch(model, prompt, keep) if cache is not None else (None, 0)
    tokens: list[int] = []  # every token the model made (EOS included): all are in `kv`
    finish, made = _steps(job, model, tokenizer, prompt[reused:], index, kv, tokens)
    if cache is not None and kv is not None:
        held = cached_tokens(kv)
        if held is not None and held <= len(prompt) + len(tokens):
            cache.insert((prompt + tokens)[:held], kv)
    return finish, made, reused


def _steps(
    job: Job,
    model: Any,
    tokenizer: Any,
    prompt: list[int],
    index: int,
    kv: list[Any] | None,
    tokens: list[int],
) -> tuple[str, int]:
    """`prompt` read into `kv` (the tokens it does not hold yet), then the choice stepped token
    by token; the tokens made are appended to `tokens`."""
    import mlx.core as mx
    from mlx_lm import stream_generate

    stats = job.stats
    out = job.output(index, tokenizer)
    sampler, processors = build(job.sampling, tokenizer)
    finish, made = "length", 0
    stream = mx.default_stream(mx.default_device())  # this thread's own (as mlx_lm.server)
    for response in stream_generate(
        model,
        tokenizer,
        prompt,
        stream=stream,
        max_tokens=job.max_tokens,
        sampler=sampler,
        logits_processors=processors,
        prompt_cache=kv,
    ):
        tokens.append(response.token)
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


def _penalised(sampling: Sampling) -> bool:
    """Whether a logits processor reads the recent tokens (those must be read, not cached)."""
    penalties = (sampling.repetition_penalty, sampling.presence_penalty, sampling.frequency_penalty)
    return any(p is not None for p in penalties)


def prompt_tokens(job: Job, tokenizer: Any, model_id: str) -> list[int]:
    """The job's prompt as tokens: a text prompt encoded, chat messages through the template
    (with its tools; refused when the model has no tool-call parser)."""
    prompt = job.prompt
    if isinstance(prompt, str):
        bos = tokenizer.bos_token
        return list(
            tokenizer.encode(prompt, add_special_tokens=bos is None or not prompt.startswith(bos))
        )
    if not job.tools:
        return list(
            tokenizer.apply_chat_template(prompt, add_generation_prompt=True, **job.template)
        )
    try:
        scanner_for(tokenizer, job.tools)
    except LookupError as err:
        raise Refusal("tools", f"{model_id}: {err}; send it no tools") from None
    return list(
        tokenizer.apply_chat_template(
            prompt, tools=job.tools, add_generation_prompt=True, **job.template
        )
    )
