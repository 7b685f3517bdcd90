"""OpenAI's /v1/models: the router's model cards (its own list) and an upstream's list."""

from __future__ import annotations

import msgspec


class PromptCacheInfo(msgspec.Struct):
    """An in-process model's prompt cache on its card: what it holds now, and how much of the
    prompts it has served since the router started."""

    bytes: int = 0  # held now (0 after an unload)
    entries: int = 0
    longest: int = 0  # tokens of its longest entry: what a turn extending it need not read
    hit_tokens: int = 0  # prompt tokens read from the cache since start
    prompt_tokens: int = 0  # prompt tokens of every request since start
    hit_rate: float = 0.0  # hit_tokens / prompt_tokens


class GenerationKV(msgspec.Struct):
    """An in-process model's in-flight KV caches on its card: the allowance its batch decodes
    within, and what a token costs (None: unknown from its config.json; not counted)."""

    bytes: int = 0  # reserved in the memory budget with the weights and the prompt cache
    per_token: int | None = None  # KV bytes per token, an upper bound (sliding windows)
    tokens: int | None = None  # bytes / per_token: prompt + max_tokens of a batch, in all


class ModelCard(msgspec.Struct, omit_defaults=True):
    """A model as the catalogue knows it; `model_object` makes it a /v1/models entry."""

    id: str
    object: str = "model"
    created: int = 0  # Unix time (the upstream's, or the model folder's); 0: unknown
    owned_by: str = "router"
    context_length: int | None = None
    capabilities: list[str] = []
    state: str | None = None  # "loaded", "on disk" (in-process models) or "remote"
    size_bytes: int | None = None
    load_seconds: float | None = None
    prompt_cache: PromptCacheInfo | None = None  # in-process models with a prompt cache
    generation_kv: GenerationKV | None = None  # in-process models: the batch's KV allowance


def model_object(card: ModelCard, created: int) -> dict[str, object]:
    """The card as an entry of /v1/models: OpenAI's `Model` (id, object, created, owned_by,
    always present; `created` when the card has none) followed by the router's own fields."""
    created = card.created or created
    head = {"id": card.id, "object": "model", "created": created, "owned_by": card.owned_by}
    return head | msgspec.to_builtins(card)


class ModelList(msgspec.Struct):
    data: list[dict[str, object]]
    object: str = "list"


class UpstreamModel(msgspec.Struct):
    """An entry of an upstream's /v1/models; servers name the context length differently."""

    id: str
    created: object = None  # Unix time as an int; anything else is ignored, not an error
    owned_by: str | None = None
    context_length: int | None = None
    max_context_length: int | None = None
    max_model_len: int | None = None
    capabilities: list[str] | None = None

    def context(self) -> int | None:
        return self.context_length or self.max_context_length or self.max_model_len


class UpstreamModelList(msgspec.Struct):
    data: list[UpstreamModel]


decode_upstream_models = msgspec.json.Decoder(UpstreamModelList).decode
