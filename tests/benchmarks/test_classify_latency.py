"""The classifier's latency benchmarks: the same-run baseline of `classify_bench` (the same
requests read on their last turn alone, timed in turn) and the workloads that
`classify_instructions` counts under valgrind (run here without it)."""

from __future__ import annotations

import msgspec
import pytest

from benchmarks import classify_bench, classify_instructions
from router.routing.classifier import Classifier
from router.routing.classifier_cache import load_default_classifier
from router.wire import ChatRequest


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return load_default_classifier()


def test_versus_single_turn_times_both_on_the_same_requests(clf: Classifier) -> None:
    bodies, fresh = classify_instructions.workload("growing")
    requests = [msgspec.json.decode(b)["messages"] for b in bodies[:40]]
    figures = classify_bench.versus_single_turn(clf, requests, 80, fresh[:40])
    assert figures["growing_p50"] > 0 and figures["single_turn_p50"] > 0
    assert figures["ratio"] == round(figures["growing_p50"] / figures["single_turn_p50"], 3)
    assert clf.follow is not None  # the classifier under test keeps its detector


@pytest.mark.parametrize("name", classify_instructions.WORKLOADS)
def test_the_counted_workloads(name: str) -> None:
    bodies, fresh = classify_instructions.workload(name)
    assert len(bodies) == len(fresh) > 300 and fresh[0]
    if name == "growing":  # conversations: most requests continue one
        assert 0 < fresh.count(True) < len(fresh) / 2
        last = msgspec.json.decode(bodies[1], type=ChatRequest).messages
        assert [m.role for m in last][-3:] == ["user", "assistant", "user"]
    else:
        assert all(fresh)
    classify_instructions.classify(name, 20)  # what runs under valgrind runs here
