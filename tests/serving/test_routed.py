"""Routing end to end: `auto` and `router/<task>` through a real router, by a profile, to the
fake upstream: the model a person reading the profile would pick, with the headers saying why;
filters, checked escalation and the loop guard on the wire. Fallback across models, and the
escalation logic in depth, are tested without sockets in `tests/serving/test_dispatch.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeModel, FakeUpstream

PROFILE = """schema_version = 1
kind = "measured"
[[models]]
id = "small"
[[models]]
id = "big"
[[models]]
id = "seeing"
[models.capabilities]
vision = true
[tasks]
summarize = [
  { model = "small", quality = 0.7, latency_seconds = 1.0 },
  { model = "big", quality = 0.8, latency_seconds = 10.0 },
  { model = "seeing", quality = 0.5, latency_seconds = 5.0 },
]
business_mail = [
  { model = "big", quality = 0.9, latency_seconds = 10.0 },
  { model = "seeing", quality = 0.5, latency_seconds = 5.0 },
  { model = "small", quality = 0.4, latency_seconds = 1.0 },
]
qa = [
  { model = "big", quality = 0.8, latency_seconds = 10.0 },
  { model = "seeing", quality = 0.7, latency_seconds = 3.0 },
  { model = "small", quality = 0.6, latency_seconds = 1.0 },
]
"""
JAPANESE = "会議は来週の火曜日に延期されました。資料は前日までに共有します。"
ENGLISH = "Dear client, the delivery moves to Friday. Best regards."


def _in_kind(request: dict) -> str:
    """Answer in the language asked: "big" is a good model."""
    text = str(request["messages"][-1]["content"])
    return JAPANESE if any("\u3040" <= ch <= "\u30ff" for ch in text) else ENGLISH


IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


@pytest.fixture
def household() -> Iterator[FakeUpstream]:
    models = [
        FakeModel("small", answer="Short and quick."),
        FakeModel("big", answer=_in_kind),
        FakeModel("seeing", answer="A cat on a sofa.", capabilities=["vision"]),
        FakeModel("looper", answer="The subject line. ", failure="loop"),
    ]
    with FakeUpstream(models) as fake:
        yield fake


@pytest.fixture
def routed(
    household: FakeUpstream, start_router: Callable[[str], RunningRouter], tmp_path: Path
) -> RunningRouter:
    profile = tmp_path / "household.toml"
    profile.write_text(PROFILE)
    return start_router(
        backend_toml("lmstudio", household.base_url) + f'[routing]\nprofile = "{profile}"\n'
    )


def _client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)


def _ask(router: RunningRouter, text: object, **options: object) -> openai.APIResponse:
    messages = [{"role": "user", "content": text}]
    return _client(router).chat.completions.with_raw_response.create(
        messages=messages,
        **{"model": "auto", **options},  # type: ignore[arg-type]
    )


def test_auto_reaches_the_model_the_profile_points_to_and_says_why(routed: RunningRouter) -> None:
    summary = _ask(routed, "tl;dr: the quarterly report shows revenue grew 12% while costs fell.")
    assert summary.headers["x-router-task"] == "summarize"
    assert summary.headers["x-router-model"] == "small"
    assert summary.headers["x-router-reason"].startswith("classified summarize")
    note = "Rewrite this note as a polite business email to our client: delivery slips a day."
    mail = _ask(routed, note, extra_headers={"x-router-policy": "quality"})
    assert mail.headers["x-router-task"] == "business_mail"
    assert mail.headers["x-router-model"] == "big"
    assert "quality: quality 0.90" in mail.headers["x-router-reason"]


def test_images_only_go_to_a_vision_model(routed: RunningRouter, household: FakeUpstream) -> None:
    reply = _ask(routed, [{"type": "text", "text": "What is in this picture?"}, IMAGE])
    assert reply.headers["x-router-model"] == "seeing"
    chats = [r.json["model"] for r in household.requests if r.path == "/v1/chat/completions"]
    assert chats == ["seeing"]


def test_a_wrong_language_answer_is_asked_again_of_the_next_model(routed: RunningRouter) -> None:
    reply = _ask(routed, f"次の文章を一行で要約してください：{JAPANESE}", model="router/summarize")
    assert reply.headers["x-router-model"] == "big"
    assert "escalated from small (wrong_language)" in reply.headers["x-router-reason"]
    assert reply.parse().choices[0].message.content == JAPANESE
    assert routed.metric("router_escalations_total", from_model="small", to_model="big") == 1


def test_the_loop_guard_cuts_a_repeating_stream(routed: RunningRouter) -> None:
    stream = _client(routed).chat.completions.create(
        model="looper",
        stream=True,
        max_tokens=400,
        messages=[{"role": "user", "content": "Write the mail subject."}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert text.count("The subject line.") < 60  # cut long before the 400 tokens it would send
    assert routed.metric("router_loop_guard_total", model="looper") == 1
