"""GET/DELETE /v1/responses/{id} and .../input_items through the official `openai` SDK, on a
real router on loopback, over responses put straight into its store (the POST path that puts
them is tested with the Responses API itself)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseItemList

from router.serving.response_store import ResponseStore, StoredResponse
from tests.conftest import RunningRouter, backend_toml
from tests.fakes.upstream import FakeUpstream

KEY = "sk-test-stored"
RID = "resp_" + "ab" * 16


def response_json(rid: str) -> bytes:
    output = [
        {
            "type": "message",
            "id": "msg_out",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Paris.", "annotations": []}],
        }
    ]
    body = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": "fast-model",
        "output": output,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": None,
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
    }
    return json.dumps(body).encode()


def input_item(n: int) -> dict[str, Any]:
    content = [{"type": "input_text", "text": f"turn {n}"}]
    return {"id": f"msg_{n:02d}", "type": "message", "role": "user", "content": content}


def put(store: ResponseStore, rid: str, items: int) -> None:
    inputs = json.dumps([input_item(n) for n in range(items)]).encode()
    entry = StoredResponse(rid, int(time.time()), "fast-model", response_json(rid), inputs, b"[]")
    asyncio.run(store.put(entry))


@pytest.fixture(scope="module")
def stored_router(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRouter]:
    """One router for the module (they take ~0.6 s to start); only the GET/DELETE routes are
    asked of it, and the fake upstream is never called."""
    folder = tmp_path_factory.mktemp("stored")
    config = backend_toml("lmstudio", upstream.base_url)
    config += f'[server]\napi_keys = ["{KEY}"]\n'
    config += f'[responses]\npath = "{folder / "stored.sqlite3"}"\n'
    (folder / "router.toml").write_text(config)
    router = RunningRouter(folder / "router.toml").start()
    assert router.app.responses is not None
    put(router.app.responses, RID, 45)
    yield router
    router.stop()


@pytest.fixture
def client(stored_router: RunningRouter) -> openai.OpenAI:
    return openai.OpenAI(base_url=stored_router.base_url, api_key=KEY, max_retries=0)


def test_retrieve_gives_the_stored_response(client: openai.OpenAI) -> None:
    got = client.responses.retrieve(RID)
    assert isinstance(got, Response)
    assert got.id == RID and got.output_text == "Paris."


def test_unknown_ids_are_404_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve("resp_nope")
    assert caught.value.body == {
        "message": "Response with id 'resp_nope' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": "not_found",
    }
    with pytest.raises(openai.NotFoundError):
        client.responses.delete("resp_nope")
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_nope")


def test_delete_then_gone(client: openai.OpenAI, stored_router: RunningRouter) -> None:
    store = stored_router.app.responses
    assert store is not None
    doomed = "resp_" + "cd" * 16
    put(store, doomed, 1)
    raw = client.responses.with_raw_response.delete(doomed)
    assert raw.status_code == 200
    assert json.loads(raw.text) == {"id": doomed, "object": "response.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(doomed)
    assert asyncio.run(store.get(doomed)) is None
    assert client.responses.retrieve(RID).id == RID  # only that one


def test_input_items_default_page_is_newest_first(client: openai.OpenAI) -> None:
    page = client.responses.input_items.list(RID)
    assert [i.id for i in page.data] == [f"msg_{n:02d}" for n in range(44, 24, -1)]
    assert page.has_more is True
    raw = client.responses.input_items.with_raw_response.list(RID, limit=3, order="asc")
    listed = ResponseItemList.model_validate_json(raw.text)  # the SDK's own list object
    assert (listed.first_id, listed.last_id, listed.has_more) == ("msg_00", "msg_02", True)


def test_input_items_pages_with_after(client: openai.OpenAI) -> None:
    page = client.responses.input_items.list(RID, limit=10, order="asc", after="msg_39")
    assert [i.id for i in page.data] == [f"msg_{n:02d}" for n in range(40, 45)]
    assert page.has_more is False
    every = list(client.responses.input_items.list(RID, limit=7, order="asc"))  # auto-paging
    assert [i.id for i in every] == [f"msg_{n:02d}" for n in range(45)]
    newest = list(client.responses.input_items.list(RID, limit=100))
    assert [i.id for i in newest] == [f"msg_{n:02d}" for n in range(44, -1, -1)]


BAD_QUERIES = [
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"order": "sideways"}, "order"),
    ({"after": "msg_99"}, "after"),
]


def test_bad_list_queries_are_400_naming_the_parameter(client: openai.OpenAI) -> None:
    for query, param in BAD_QUERIES:  # one router for all (a router takes ~0.6 s to start)
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.input_items.list(RID, extra_query=query)
        assert isinstance(caught.value.body, dict) and caught.value.body["param"] == param, query
    with pytest.raises(openai.BadRequestError):
        client.responses.retrieve(RID, stream=True)  # stored responses are returned whole


def test_stored_routes_need_the_key(stored_router: RunningRouter) -> None:
    for method, path in [
        ("GET", f"/v1/responses/{RID}"),
        ("DELETE", f"/v1/responses/{RID}"),
        ("GET", f"/v1/responses/{RID}/input_items"),
    ]:
        answer = httpx.request(method, stored_router.root + path)
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "invalid_api_key"
    anthropic_style = httpx.get(
        stored_router.root + f"/v1/responses/{RID}", headers={"x-api-key": KEY}
    )
    assert anthropic_style.status_code == 200


def test_a_corrupt_store_file_still_serves_with_404(
    fake: FakeUpstream, start_router: Callable[[str], RunningRouter], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not SQLite\n" * 300)
    config = backend_toml("lmstudio", fake.base_url)
    config += '[routing]\ndefault_model = "fast-model"\n'
    config += f'[responses]\npath = "{broken}"\n'
    router = start_router(config)
    assert router.app.responses is None
    client = openai.OpenAI(base_url=router.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(RID)
    chat = client.chat.completions.create(
        model="fast-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert chat.choices[0].message.content


def test_store_off_opens_no_file(
    fake: FakeUpstream,
    start_router: Callable[[str], RunningRouter],
    tmp_path: Path,
) -> None:
    path = tmp_path / "off.sqlite3"
    config = backend_toml("lmstudio", fake.base_url)
    config += f'[responses]\nstore = false\npath = "{path}"\n'
    router = start_router(config)
    assert router.app.responses is None and not path.exists()
