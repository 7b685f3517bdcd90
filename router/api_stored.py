"""Stored responses over HTTP: `GET`/`DELETE /v1/responses/{id}` and
`GET /v1/responses/{id}/input_items`, as OpenAI's SDK calls them (`client.responses.retrieve`,
`.delete`, `.input_items.list`).

They read `router.serving.response_store`, where `POST /v1/responses` puts each answer it
stores. Without a store (`[responses] store = false`, or a file that could not be opened) every
id is unknown: 404 in OpenAI's error shape.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get
from litestar.params import FromPath

from router.auth import Keys
from router.errors import InvalidRequest, ResponseNotFound
from router.serving.response_store import ResponseStore, StoredResponse

_encode = msgspec.json.Encoder().encode
_items = msgspec.json.Decoder(list[dict[str, Any]])


class ItemList(msgspec.Struct, omit_defaults=False):
    """OpenAI's list object for a response's input items (`ResponseItemList`)."""

    data: list[dict[str, Any]]
    first_id: str | None  # None only when `data` is empty
    last_id: str | None
    has_more: bool
    object: str = "list"


class Deleted(msgspec.Struct, omit_defaults=False):
    id: str
    object: str = "response.deleted"
    deleted: bool = True


class ListQuery(msgspec.Struct, frozen=True):
    limit: int = 20
    order: str = "desc"
    after: str | None = None


def stored_handlers(store: ResponseStore | None, keys: Keys) -> list[Any]:
    """The three routes over `store` (None: no stored responses)."""

    async def find(request: Request[Any, Any, Any], response_id: str) -> StoredResponse:
        keys.check(request.headers.get("authorization"), request.headers.get("x-api-key"))
        found = None if store is None else await store.get(response_id)
        if found is None:
            raise ResponseNotFound(f"Response with id '{response_id}' not found.")
        return found

    @get("/v1/responses/{response_id:str}")
    async def retrieve(
        request: Request[Any, Any, Any], response_id: FromPath[str]
    ) -> Response[bytes]:
        if request.query_params.get("stream", "false").lower() not in ("false", "0"):
            raise InvalidRequest(
                "A stored response is returned whole: stream is not supported here.", param="stream"
            )
        found = await find(request, response_id)
        return Response(found.response, media_type="application/json")

    @delete("/v1/responses/{response_id:str}", status_code=200)
    async def remove(
        request: Request[Any, Any, Any], response_id: FromPath[str]
    ) -> Response[bytes]:
        keys.check(request.headers.get("authorization"), request.headers.get("x-api-key"))
        if store is None or not await store.delete(response_id):
            raise ResponseNotFound(f"Response with id '{response_id}' not found.")
        return Response(_encode(Deleted(response_id)), media_type="application/json")

    @get("/v1/responses/{response_id:str}/input_items")
    async def input_items(
        request: Request[Any, Any, Any], response_id: FromPath[str]
    ) -> Response[bytes]:
        query = list_query(request.query_params)
        found = await find(request, response_id)
        page = list_page(_items.decode(found.input_items), query)
        return Response(_encode(page), media_type="application/json")

    return [retrieve, remove, input_items]


def list_query(params: Any) -> ListQuery:
    """`limit` (1-100, default 20), `order` (asc or desc, default desc) and `after` (an item id)
    from the query string; a bad value is a 400 naming it."""
    raw = params.get("limit")
    try:
        limit = 20 if raw is None else int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise InvalidRequest(f"limit must be an integer from 1 to 100, not {raw!r}.", param="limit")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be 'asc' or 'desc', not {order!r}.", param="order")
    return ListQuery(limit, order, params.get("after"))


def list_page(items: list[dict[str, Any]], query: ListQuery) -> ItemList:
    """One page of `items` (in request order) as `query` asks: ordered, after the item named
    `after` in that order, at most `limit`."""
    ordered = items if query.order == "asc" else items[::-1]
    if query.after is not None:
        ids = [item.get("id") for item in ordered]
        if query.after not in ids:
            raise InvalidRequest(
                f"No input item with id '{query.after}' in this response.", param="after"
            )
        ordered = ordered[ids.index(query.after) + 1 :]
    page = ordered[: query.limit]
    first = page[0].get("id") if page else None
    last = page[-1].get("id") if page else None
    return ItemList(page, first, last, has_more=len(ordered) > len(page))
