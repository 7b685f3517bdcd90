"""The trained classifier, kept on disk: start-up loads it instead of training it.

Training on the shipped examples takes a second or more and a transient 100 MB; the weights
are the same every time for the same examples and code. So the first start trains and writes
`<cache>/classifier/<key>.npy` (the weights, with the follow-up detector's n-gram ratios as a
last column, memory-mapped on later starts: shared, paged in as used) and `<key>.json` (tasks,
bias, threshold; written last, so that its presence means complete). The key hashes the
examples and the classifier's own source (the modules that decide the weights: `classifier`,
`classifier_features`, `classifier_marks`, `classifier_model`, `classifier_turns`), so a
change to any of them retrains.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import msgspec
import numpy as np

from router.paths import CLASSIFIER_TRAINING, default_cache_dir
from router.routing import (
    classifier,
    classifier_features,
    classifier_marks,
    classifier_model,
    classifier_turns,
)
from router.routing.classifier import Classifier
from router.routing.classifier_turns import FollowModel

# What the trained weights depend on besides the examples (the sure rules are not learned).
_SOURCES = (classifier, classifier_features, classifier_marks, classifier_model, classifier_turns)


class _Meta(msgspec.Struct):
    tasks: list[str]
    bias: list[float]
    threshold: float
    follow: list[float] | None = None  # the follow-up detector's weights, then its bias


def conversations_of(data: Path) -> Path | None:
    """The labelled conversations beside a training set (`turns.jsonl`), if any."""
    path = data.parent / "turns.jsonl"
    return path if path.is_file() else None


def cache_key(data: Path) -> str:
    digest = hashlib.sha256(data.read_bytes())
    turns = conversations_of(data)
    if turns is not None:
        digest.update(turns.read_bytes())
    for module in _SOURCES:
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:24]


def load_or_train(data: Path, cache_dir: Path) -> Classifier:
    """The classifier for `data`, from the cache when it is there, else trained and cached."""
    key = cache_key(data)
    paths = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    try:
        meta = msgspec.json.decode(paths[1].read_bytes(), type=_Meta)
        table = np.load(paths[0], mmap_mode="r")  # the weights, then the n-gram ratios
        weights, follow = table[:, : len(meta.tasks)], None
        if meta.follow is not None:
            grams = table[:, len(meta.tasks)]
            follow = FollowModel(np.asarray(meta.follow[:-1], np.float32), meta.follow[-1], grams)
    except (OSError, ValueError, IndexError, msgspec.DecodeError):
        trained = Classifier.from_examples(data, conversations=conversations_of(data))
        _save(trained, *paths)
        return trained
    bias = np.asarray(meta.bias, dtype=np.float32)
    return Classifier(
        meta.tasks, weights, bias, (), meta.threshold, source=data, follow=follow, table=table
    )


def _save(trained: Classifier, weights_path: Path, meta_path: Path) -> None:
    """Write the weights, then the meta file that marks them complete; never half a file."""
    try:
        weights_path.parent.mkdir(parents=True, exist_ok=True)
        # single precision: half precision halved the pages but cost ~10 us a request to widen
        _atomic(weights_path, lambda f: np.save(f, trained.table.astype(np.float32)))
        follow = trained.follow
        meta = _Meta(list(trained.tasks), trained.bias.tolist(), trained.threshold)
        if follow is not None:
            meta.follow = [*follow.weights.tolist(), follow.bias]
        _atomic(meta_path, lambda f: f.write(msgspec.json.encode(meta)))
    except OSError:
        return  # a read-only cache only costs the training on the next start


def _atomic(path: Path, write: object) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)  # type: ignore[operator]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def load_default_classifier() -> Classifier:
    """The classifier trained on the shipped examples (`$ROUTER_CLASSIFY_DATA` overrides),
    from the on-disk cache when it is there."""
    data = Path(os.environ.get("ROUTER_CLASSIFY_DATA") or CLASSIFIER_TRAINING)
    return load_or_train(data, default_cache_dir() / "classifier")
