"""The prompt cache of one in-process model: the KV caches of recent prompts, so a request that
extends one (a chat client's next turn re-sends the whole conversation) reads only its new tokens.

Built on mlx-lm's machinery (`make_prompt_cache`, `trim_prompt_cache`, `can_trim_prompt_cache`,
the `nbytes` of its caches) and on how `mlx_lm.server`'s `LRUPromptCache` uses it:

- an entry is (tokens -> the KV cache holding exactly those tokens), inserted after each
  generation under the prompt's tokens plus the answer's (the next turn re-sends the answer);
- a lookup takes the entry sharing the longest prefix with the request: an entry that is a
  prefix of the request is used as is; a longer or diverging one is trimmed back to the common
  prefix when its cache can be trimmed (else it is no use). At least `keep` tokens are left to
  read (one: the model needs an input to give the next token's logits; more when a logits
  processor reads the recent prompt, so the penalties see what they would have without a cache);
- inserting a trimmable cache drops the entries that are prefixes of it (it serves them too);
- entries are bounded by bytes, the least recently used out first.

The pure parts (`common_prefix`, `choose`, `evictions`) take token sequences and sizes only and
are table-tested without mlx. `PromptCache` is confined to its model's generation thread (only
it reads and writes the entries; `nbytes` may be read from elsewhere). A lookup never shares a
KV cache object: the entry is handed over (taken out of the cache) when the request extends it,
else deep-copied, as mlx-lm's server does.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import msgspec

Tokens = tuple[int, ...]
PENALTY_CONTEXT = 20  # tokens mlx-lm's repetition/presence/frequency penalties look back at


class Candidate(msgspec.Struct, frozen=True):
    """What `choose` knows of one entry: its tokens and whether its cache can be trimmed."""

    tokens: Tokens
    trimmable: bool


class Pick(msgspec.Struct, frozen=True):
    """The entry to use: its tokens, how many of the request's tokens it holds (`reused`), and
    how many of its own tokens to trim off first."""

    tokens: Tokens
    reused: int
    trim: int


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    a, b = tuple(a), tuple(b)  # slices compare in C; a list never equals a tuple
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low], a[:high] != b[:high]
    while high - low > 1:
        mid = (low + high) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid
    return low


def choose(candidates: Sequence[Candidate], request: Sequence[int], keep: int = 1) -> Pick | None:
    """The entry that saves the most reading of `request`, leaving at least `keep` tokens to
    read; None when none saves any. Pure.

    Ties go to the entry needing the least trimming, then to the later candidate (the caller
    lists them least recently used first).
    """
    request = tuple(request)
    most = len(request) - max(keep, 1)
    best: Pick | None = None
    for candidate in candidates:
        pick = _pick(candidate, request, most)
        if pick is not None and (
            best is None or (pick.reused, -pick.trim) >= (best.reused, -best.trim)
        ):
            best = pick
    return best


def _pick(candidate: Candidate, request: Sequence[int], most: int) -> Pick | None:
    tokens = candidate.tokens
    shared = common_prefix(tokens, request)
    if shared == len(tokens) and shared <= most:  # the request extends it: used as it is
        return Pick(tokens, shared, 0) if shared > 0 else None
    if not candidate.trimmable:
        return None
    reused = min(shared, most)
    return Pick(tokens, reused, len(tokens) - reused) if reused > 0 else None


def evictions(sizes: Sequence[tuple[Tokens, int]], limit: int) -> list[Tokens]:
    """The entries to drop, least recently used first (`sizes` in that order), so that the
    rest hold at most `limit` bytes. Pure."""
    total = sum(size for _, size in sizes)
    out: list[Tokens] = []
    for tokens, size in sizes:
        if total <= limit:
            break
        out.append(tokens)
        total -= size
    return out


class CacheUse(msgspec.Struct, frozen=True):
    """What one job did with its model's prompt cache, and what the cache holds after it."""

    prompt_tokens: int
    cached_tokens: int
    bytes: int
    entries: int
    longest: int  # tokens of the longest entry


class _Entry:
    __slots__ = ("cache", "nbytes", "trimmable")

    def __init__(self, cache: list[Any], nbytes: int, trimmable: bool) -> None:
        self.cache = cache
        self.nbytes = nbytes
        self.trimmable = trimmable


class PromptCache:
    """One model's KV caches by token prefix, within `limit_bytes` (0: no cache)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.nbytes = 0  # held by the entries
        self._entries: OrderedDict[Tokens, _Entry] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._entries)

    def fetch(self, model: Any, request: Sequence[int], keep: int = 1) -> tuple[list[Any], int]:
        """A KV cache for `request` and how many of its tokens it already holds (the caller
        reads `request[reused:]` into it). A fresh cache (`make_prompt_cache`) on a miss."""
        from mlx_lm.models.cache import make_prompt_cache, trim_prompt_cache

        candidates = [Candidate(t, e.trimmable) for t, e in self._entries.items()]
        pick = choose(candidates, request, keep)
        if pick is None:
            return make_prompt_cache(model), 0
        entry = self._entries[pick.tokens]
        if pick.trim == 0 and entry.trimmable:  # the longer entry inserted next serves it too
            self._drop(pick.tokens)
            return entry.cache, pick.reused
        self._entries.move_to_end(pick.tokens)
        cache = copy.deepcopy(entry.cache)
        if pick.trim:
            trim_prompt_cache(cache, pick.trim)
        return cache, pick.reused

    def insert(self, tokens: Sequence[int], cache: list[Any]) -> None:
        """Keep `cache`, which holds exactly `tokens`; it is this cache's from now on."""
        from mlx_lm.models.cache import can_trim_prompt_cache

        key = tuple(tokens)
        nbytes = sum(c.nbytes for c in cache)
        if not key or nbytes > self.limit_bytes:
            return
        trimmable = can_trim_prompt_cache(cache)
        if key in self._entries:
            self._drop(key)
        if trimmable:  # it serves every entry that is a prefix of it
            for other in [t for t in self._entries if len(t) < len(key) and key[: len(t)] == t]:
                self._drop(other)
        self._entries[key] = _Entry(cache, nbytes, trimmable)
        self.nbytes += nbytes
        sizes = [(t, e.nbytes) for t, e in self._entries.items()]
        for old in evictions(sizes, self.limit_bytes):
            self._drop(old)

    def use(self, prompt_tokens: int, cached_tokens: int) -> CacheUse:
        """A job's use of this cache (its prompt's tokens, those found here) and what it holds."""
        longest = max(map(len, self._entries), default=0)
        return CacheUse(prompt_tokens, cached_tokens, self.nbytes, len(self._entries), longest)

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def _drop(self, tokens: Tokens) -> None:
        self.nbytes -= self._entries.pop(tokens).nbytes


def cached_tokens(cache: list[Any]) -> int | None:
    """How many tokens a KV cache holds, where its layers say (mlx-lm's `offset`)."""
    offsets = {getattr(c, "offset", None) for c in cache}
    if len(offsets) != 1 or not isinstance(offset := offsets.pop(), int):
        return None
    return offset
