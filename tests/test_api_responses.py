"""OpenAI's Responses API end to end: the official `openai` SDK -> router -> a chat-only fake
upstream (the router translates both ways). Every answer and event is checked by the SDK's own
models as it parses them; the raw events are validated against the event union besides."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tests.conftest import FAKE_MODELS, RunningRouter, backend_toml
from tests.fakes.upstream import FakeUpstream

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
FAKE_IDS = [m.id for m in FAKE_MODELS]
QUESTION = "What is the capital of France?"
READ = {
    "type": "function",
    "name": "read_file",
    "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
}


@pytest.fixture
def client(router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key="unused", max_retries=0)


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": call_id, "type": "function", "function": function}


def test_string_input_routed_with_auto(client: openai.OpenAI, fake: FakeUpstream) -> None:
    raw = client.responses.with_raw_response.create(
        model="auto", input=QUESTION, instructions="Be brief.", max_output_tokens=50
    )
    response = raw.parse()
    Response.model_validate_json(raw.http_response.content)  # the SDK's parse does not validate
    assert raw.headers["x-router-model"] == "fast-model"
    assert raw.headers["x-router-reason"].endswith("default")
    assert raw.headers["x-router-task"] and raw.headers["x-router-backend"] == "lmstudio"
    assert response.id.startswith("resp_") and len(response.id) == 5 + 32
    assert response.status == "completed" and response.model == "fast-model"
    assert response.output_text == "The capital of France is Paris."
    message = response.output[0]
    assert message.type == "message" and message.id.startswith("msg_")
    assert response.usage is not None and response.usage.output_tokens == 6
    assert response.usage.total_tokens == response.usage.input_tokens + 6
    sent = fake.requests[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
    ]
    assert sent["max_tokens"] == 50 and "stream" not in sent


def test_metadata_and_user_reach_the_chat_path_and_name_the_session(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    raw = client.responses.with_raw_response.create(
        model="auto", input=QUESTION, metadata={"session_id": "codex-7"}, user="u-1"
    )
    assert raw.headers["x-router-session"] == "codex-7"
    assert raw.parse().metadata == {"session_id": "codex-7"}
    sent = fake.requests[-1].json
    assert sent["metadata"] == {"session_id": "codex-7"} and sent["user"] == "u-1"


def test_cut_short_is_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(model="fast-model", input=QUESTION, max_output_tokens=2)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "The capital "


def test_streamed_events_in_order(client: openai.OpenAI, router: RunningRouter) -> None:
    with client.responses.stream(model="fast-model", input=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[4:10] == ["response.output_text.delta"] * 6
    assert types[10:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == "The capital of France is Paris."
    assert final.usage is not None and final.usage.output_tokens == 6
    # the raw events, validated against the SDK's event union
    body = {"model": "fast-model", "input": QUESTION, "stream": True}
    with httpx.stream("POST", router.base_url + "/responses", json=body) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers["x-router-model"] == "fast-model"
        data = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert [EVENTS.validate_json(d).type for d in data] == types


def test_function_call_round_trip(client: openai.OpenAI, fake: FakeUpstream) -> None:
    model = fake.model("fast-model")
    model.answer, model.tool_calls = "", [_call("call_1", "read_file", {"path": "a.txt"})]
    first = client.responses.create(model="fast-model", input="Read a.txt", tools=[READ])  # type: ignore[list-item]
    (call,) = first.output
    assert call.type == "function_call" and call.call_id == "call_1" and call.id
    assert call.name == "read_file" and json.loads(call.arguments) == {"path": "a.txt"}
    sent = fake.requests[-1].json
    assert sent["tools"][0]["function"]["name"] == "read_file"
    model.answer, model.tool_calls = "It says hello.", None
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "hello"}
    second = client.responses.create(
        model="fast-model",
        input=[{"role": "user", "content": "Read a.txt"}, call.model_dump(), output],  # type: ignore[list-item]
        tools=[READ],  # type: ignore[list-item]
        store=False,
    )
    assert second.output_text == "It says hello."
    sent = fake.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "hello"}
    with pytest.raises(openai.NotFoundError):  # store=False: not kept
        client.responses.retrieve(second.id)


def test_streamed_function_call(client: openai.OpenAI, fake: FakeUpstream) -> None:
    model = fake.model("fast-model")
    model.answer, model.tool_calls = "", [_call("call_7", "read_file", {"path": "b.txt"})]
    with client.responses.stream(model="fast-model", input="Read b.txt", tools=[READ]) as stream:  # type: ignore[list-item]
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[2:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    (call,) = final.output
    assert call.type == "function_call" and call.call_id == "call_7"
    assert json.loads(call.arguments) == {"path": "b.txt"}


def test_previous_response_id_continues(client: openai.OpenAI, fake: FakeUpstream) -> None:
    first = client.responses.create(model="fast-model", input=QUESTION, instructions="Be brief.")
    again = client.responses.retrieve(first.id)
    assert again.output_text == first.output_text and again.id == first.id
    items = client.responses.input_items.list(first.id)
    assert [i.type for i in items.data] == ["message"]
    second = client.responses.create(
        model="fast-model", input="And of Spain?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    sent = fake.requests[-1].json["messages"]
    assert sent == [  # instructions are not carried over
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "And of Spain?"},
    ]
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="fast-model", input="x", previous_response_id="resp_nope")
    assert "resp_nope" in caught.value.message
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_a_streamed_response_is_stored_before_it_completes(client: openai.OpenAI) -> None:
    with client.responses.stream(model="fast-model", input=QUESTION) as stream:
        for event in stream:
            if event.type == "response.completed":  # continue at once, mid-stream
                stored = client.responses.retrieve(event.response.id)
                assert stored.output_text == "The capital of France is Paris."


def test_errors(client: openai.OpenAI, router: RunningRouter) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input=QUESTION)
    image = {"type": "input_image", "file_id": "file-1", "detail": "auto"}
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(
            model="fast-model",
            input=[{"role": "user", "content": [image]}],  # type: ignore[list-item]
        )
    assert "file_id" in bad.value.message
    reply = httpx.post(router.base_url + "/responses", json={"model": "fast-model"})
    assert reply.status_code == 400 and "input" in reply.json()["error"]["message"]
    reply = httpx.get(router.base_url + "/responses")
    assert reply.status_code in (404, 405)


def test_failure_mid_stream_is_response_failed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    model = fake.model("fast-model")
    model.failure, model.fail_after_tokens = "drop", 2
    with client.responses.stream(model="fast-model", input=QUESTION) as stream:
        events = list(stream)
    assert events[-1].type == "response.failed"
    assert events[-1].response.error is not None
    assert events[-1].response.error.code == "server_error"
    assert [e.type for e in events].count("response.output_text.delta") == 2


def test_requests_are_counted_under_the_responses_api(
    client: openai.OpenAI, router: RunningRouter
) -> None:
    client.responses.create(model="fast-model", input=QUESTION)
    deadline = time.monotonic() + 5  # recorded just after the last byte leaves: a moment later
    counted = router.metric("router_requests_total", api="responses")
    while counted < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
        counted = router.metric("router_requests_total", api="responses")
    assert counted == 1


AGENT_STEPS = [  # what the agent's model asks for, one tool at a time, then its last word
    ("read_file", {"path": "calc.py"}, "def add(a, b):\n    return a - b\n"),
    ("edit_file", {"path": "calc.py", "old": "a - b", "new": "a + b"}, "edited calc.py"),
    ("run_command", {"command": "pytest -q"}, "1 passed in 0.01s"),
]
AGENT_TOOLS = [
    {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}}
    for name, _, _ in AGENT_STEPS
]


def _agent_script(body: dict) -> list[dict] | None:
    """The next tool call: one per tool result the conversation holds so far."""
    done = sum(1 for m in body["messages"] if m["role"] == "tool")
    if done >= len(AGENT_STEPS):
        return None
    name, arguments, _ = AGENT_STEPS[done]
    return [_call(f"call_{done}", name, arguments)]


@pytest.mark.parametrize("chained", [True, False], ids=["previous_response_id", "stateless"])
def test_a_multi_step_agent_session_stays_on_its_model(
    client: openai.OpenAI, fake: FakeUpstream, chained: bool
) -> None:
    """A Codex-style loop, replayed: read a file, edit it, run the tests (one function call a
    turn, each answered with its output), then a last answer; chained through
    `previous_response_id`, or stateless (the whole input each turn, `store: false`, as Codex
    sends it). Routed with `auto`, every step goes to the model that made the first call."""
    for model in FAKE_IDS:
        fake.model(model).tool_calls = _agent_script
        fake.model(model).answer = lambda body: "" if _agent_script(body) else "Fixed: 1 passed."
    history: list[Any] = [{"role": "user", "content": "The add test fails. Fix calc.py."}]
    previous, models, reasons = None, set(), []
    for step in range(len(AGENT_STEPS) + 1):
        raw = client.responses.with_raw_response.create(
            model="auto",
            input=history,
            tools=AGENT_TOOLS,  # type: ignore[arg-type]
            previous_response_id=previous,  # type: ignore[arg-type]
            store=chained,
        )
        response = raw.parse()
        models.add(raw.headers["x-router-model"])
        reasons.append(raw.headers["x-router-reason"])
        if step == len(AGENT_STEPS):
            assert response.output_text == "Fixed: 1 passed."
            break
        (call,) = response.output
        assert call.type == "function_call" and call.name == AGENT_STEPS[step][0]
        assert json.loads(call.arguments) == AGENT_STEPS[step][1]
        done = {"type": "function_call_output", "call_id": call.call_id}
        done["output"] = AGENT_STEPS[step][2]
        if chained:
            previous, history = response.id, [done]
        else:
            history += [call.to_dict(), done]
    assert len(models) == 1
    assert all(r.startswith("tool loop: kept from turn 1") for r in reasons[1:]), reasons
    if chained:
        (item,) = client.responses.input_items.list(response.id).data  # the last turn's input
        assert item.type == "function_call_output" and item.output == AGENT_STEPS[-1][2]
    sent = fake.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", *["assistant", "tool"] * 3]
    calls = [m["tool_calls"][0]["function"]["name"] for m in sent if m["role"] == "assistant"]
    assert calls == ["read_file", "edit_file", "run_command"]
    assert [m["content"] for m in sent if m["role"] == "tool"] == [s[2] for s in AGENT_STEPS]


def test_in_process_model_streams(embedded_router: RunningRouter) -> None:
    client = openai.OpenAI(base_url=embedded_router.base_url, api_key="unused", max_retries=0)
    with client.responses.stream(
        model="smollm2", input=QUESTION, instructions="Be brief.", max_output_tokens=3
    ) as stream:
        events = list(stream)
    assert events[-1].type == "response.incomplete"  # as OpenAI's: the SDK's final is completed's
    final = events[-1].response
    assert final.status == "incomplete" and final.output_text
    assert final.usage is not None and final.usage.output_tokens == 3
    assert final.usage.input_tokens > 10


def test_keys_are_enforced(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter]
) -> None:
    router = start_router('[server]\napi_keys = ["sk-right"]\n' + backend_toml("lm", fake.base_url))
    wrong = openai.OpenAI(base_url=router.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model="fast-model", input=QUESTION)
    right = openai.OpenAI(base_url=router.base_url, api_key="sk-right", max_retries=0)
    assert right.responses.create(model="fast-model", input=QUESTION).output_text


WEB = {"type": "web_search"}  # a hosted tool: chat completions cannot express it


@pytest.fixture
def passing(fake: FakeUpstream, start_router: Callable[[str], RunningRouter]) -> openai.OpenAI:
    """A router whose upstream serves the Responses API itself (`responses = true`)."""
    router = start_router(backend_toml("lmstudio", fake.base_url, "responses = true"))
    return openai.OpenAI(base_url=router.base_url, api_key="unused", max_retries=0)


def test_what_chat_cannot_express_passes_through_to_the_upstream(
    passing: openai.OpenAI, fake: FakeUpstream
) -> None:
    raw = passing.responses.with_raw_response.create(
        model="auto", input=QUESTION, tools=[WEB], include=["web_search_call.results"]
    )
    response = raw.parse()
    Response.model_validate_json(raw.http_response.content)
    assert response.id == "resp_fakeupstream"  # the upstream's own answer, as it wrote it
    assert response.output_text in {m.answer for m in FAKE_MODELS}
    assert raw.headers["x-router-model"] == response.model
    assert "classified" in raw.headers["x-router-reason"]  # routed by what chat can say
    sent = fake.requests[-1]
    assert sent.path == "/v1/responses"
    assert sent.json["tools"] == [WEB] and sent.json["include"] == ["web_search_call.results"]
    assert sent.json["model"] == response.model  # the upstream's name, not `auto`


def test_a_passed_through_stream_is_the_upstreams_events(
    passing: openai.OpenAI, fake: FakeUpstream
) -> None:
    with passing.responses.stream(model="fast-model", input=QUESTION, tools=[WEB]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 6
    assert final.output_text == "The capital of France is Paris."
    assert fake.requests[-1].path == "/v1/responses" and fake.requests[-1].json["stream"] is True
    body = {"model": "fast-model", "input": QUESTION, "tools": [WEB], "stream": True}
    raw = httpx.post(f"{passing.base_url}responses", json=body).text
    assert raw.startswith("event: response.created") and "[DONE]" not in raw  # as it came
    for data in (line[6:] for line in raw.splitlines() if line.startswith("data: ")):
        EVENTS.validate_json(data)


def test_without_an_upstream_that_serves_it_the_request_is_a_400_naming_why(
    client: openai.OpenAI,
) -> None:
    for model in ("auto", "fast-model"):
        with pytest.raises(openai.BadRequestError) as bad:
            client.responses.create(model=model, input=QUESTION, tools=[WEB])
        assert bad.value.body["param"] == "tools[0].type"  # type: ignore[index]
        assert "web_search" in bad.value.message and "Responses API itself" in bad.value.message
