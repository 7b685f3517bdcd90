"""One job's generation, on its model's thread: the prompt's tokens, then each choice stepped
token by token through mlx-lm's `stream_generate`, the stop flag read after every token.

Apart from `router.backends.mlx.generation` (which owns the threads, the queue and the model's
life) because this is what happens inside one job, given a loaded model and tokenizer: the chat
template (with tools, refused when the model has no tool-call parser), the seed, the sampler,
and the choice's output (`router.backends.mlx.output.ChoiceOutput`: stop strings, tool calls,
log-probabilities) posted to the event loop as it is made.
"""

from __future__ import annotations

from typing import Any

from router.backends.mlx.job import Done, Ended, Job, Refusal
from router.backends.mlx.output import ChoiceOutput
from router.backends.mlx.sampling import build
from router.backends.mlx.tools import scanner_for


def generate(job: Job, model: Any, tokenizer: Any, model_id: str) -> Done:
    """The job's choices, one after another, from one prompt."""
    import mlx.core as mx

    prompt = _tokens(job, tokenizer, model_id)
    job.stats.prompt_tokens = len(prompt)
    if job.sampling.seed is not None:
        mx.random.seed(job.sampling.seed)
    made, finish = 0, "stop"
    for index in range(job.n):
        finish, count = _choice(job, model, tokenizer, prompt, index)
        made += count
        if finish == "cancelled":
            return Done("cancelled", len(prompt), made)
        job.post(Ended(index, finish))
    return Done(finish, len(prompt), made)


def _choice(job: Job, model: Any, tokenizer: Any, prompt: list[int], index: int) -> tuple[str, int]:
    """One generation: its finish reason and how many tokens it made."""
    import mlx.core as mx
    from mlx_lm import stream_generate

    stats = job.stats
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
        model,
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


def _tokens(job: Job, tokenizer: Any, model_id: str) -> list[int]:
    prompt = job.prompt
    if isinstance(prompt, str):
        bos = tokenizer.bos_token
        return list(
            tokenizer.encode(prompt, add_special_tokens=bos is None or not prompt.startswith(bos))
        )
    if not job.tools:
        return list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True))
    try:
        scanner_for(tokenizer, job.tools)
    except LookupError as err:
        raise Refusal("tools", f"{model_id}: {err}; send it no tools") from None
    return list(tokenizer.apply_chat_template(prompt, tools=job.tools, add_generation_prompt=True))
