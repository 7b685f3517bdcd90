"""The session store: bounded (least recently used dropped first), and forgetting a
conversation idle longer than its TTL; on a clock the test moves."""

from __future__ import annotations

from router.serving.sessions import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_least_recently_used_goes_first_when_full() -> None:
    store = Store(3, ttl=60, clock=Clock())
    for key in "abc":
        store.put(key, f"model-{key}", "qa", 1)
    assert store.get("a") is not None  # used: now the most recent
    store.put("d", "model-d", "qa", 1)
    assert len(store) == 3
    assert store.get("b") is None  # the least recently used
    assert [store.get(k).model for k in "acd"] == ["model-a", "model-c", "model-d"]  # type: ignore[union-attr]


def test_a_session_idle_past_its_ttl_is_forgotten_and_use_keeps_it() -> None:
    clock = Clock()
    store = Store(10, ttl=60, clock=clock)
    store.put("old", "m", "qa", 1)
    store.put("used", "m", "code", 2)
    clock.now += 50
    entry = store.get("used")
    assert entry is not None and (entry.task, entry.since) == ("code", 2)
    clock.now += 20  # "old" idle 70 s, "used" 20 s
    assert len(store) == 1
    assert store.get("old") is None
    assert store.get("used") is not None
    clock.now += 61
    assert store.get("used") is None
    assert len(store) == 0


def test_a_put_replaces_the_entry() -> None:
    store = Store(2, ttl=60, clock=Clock())
    store.put("s", "a", "qa", 1)
    store.put("s", "b", "code", 3)
    entry = store.get("s")
    assert entry is not None and (entry.model, entry.task, entry.since) == ("b", "code", 3)
    assert len(store) == 1
