"""The classifier's on-disk cache: trained once, then loaded; retrained when anything changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from router.paths import CLASSIFIER_TRAINING as DEFAULT_DATA
from router.routing.classifier_cache import cache_key, load_or_train

REQUESTS = [
    [{"role": "user", "content": "tl;dr: the quarterly report shows revenue grew 12%."}],
    [{"role": "user", "content": "この文章を英語に翻訳してください。今日はいい天気です。"}],
    [{"role": "user", "content": "Write a short story about a lighthouse keeper."}],
]

FOLLOW_UP = [
    {"role": "user", "content": "Write a short story about a lighthouse keeper."},
    {"role": "assistant", "content": "The keeper lit the lamp at dusk, as he had for forty years."},
    {"role": "user", "content": "continue it"},
]


def test_trained_once_then_loaded_with_the_same_answers(tmp_path: Path) -> None:
    trained = load_or_train(DEFAULT_DATA, tmp_path)
    key = cache_key(DEFAULT_DATA)
    assert (tmp_path / f"{key}.npy").is_file() and (tmp_path / f"{key}.json").is_file()
    loaded = load_or_train(DEFAULT_DATA, tmp_path)
    assert isinstance(loaded.weights.base, np.memmap)  # mapped, not read into memory
    assert loaded.follow is not None and isinstance(loaded.follow.grams, np.memmap)
    assert loaded.tasks == trained.tasks
    for messages in [*REQUESTS, FOLLOW_UP]:
        again, first = loaded.classify(messages), trained.classify(messages)
        assert again.task == first.task and abs(again.confidence - first.confidence) < 1e-3
        assert again.follow_up == first.follow_up


def test_other_examples_or_a_broken_cache_retrain(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(DEFAULT_DATA.read_bytes())
    cache = tmp_path / "cache"
    load_or_train(data, cache)
    first = cache_key(data)
    (cache / f"{first}.json").write_text("{broken")
    assert load_or_train(data, cache).classify(REQUESTS[0]).task == "summarize"
    data.write_bytes(data.read_bytes() + b'{"text": "Plan a sourdough schedule", "task": "qa"}\n')
    assert cache_key(data) != first
    load_or_train(data, cache)
    assert (cache / f"{cache_key(data)}.json").is_file()


def test_a_loaded_classifier_still_learns_user_tasks(tmp_path: Path) -> None:
    load_or_train(DEFAULT_DATA, tmp_path)
    loaded = load_or_train(DEFAULT_DATA, tmp_path)
    recipes = [
        "How do I bake sourdough bread?",
        "A recipe for miso soup, please",
        "What can I cook with eggs and rice?",
        "カレーの作り方を教えて",
    ]
    extended = loaded.train(extra_tasks={"recipe": recipes})
    assert "recipe" in extended.tasks
    messages = [{"role": "user", "content": "Give me a recipe for pancakes"}]
    assert extended.classify(messages).task == "recipe"
