"""A large whole answer is read in steps that give the event loop back: on uvloop one socket
event may read up to 32 x 256 KiB at once (libuv's read loop), which stalled every other
client on the router's loop for ~15 ms of CPU per event behind a 50 MB answer."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from router.backends.http import connection
from router.backends.http.pool import Pool
from tests.fakes.upstream import FakeModel, FakeUpstream

SIZE = 24 * 2**20


def test_a_large_whole_answer_is_read_a_step_per_loop_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    turn = 0
    per_turn: dict[int, int] = {}  # body bytes the connection took in during each loop turn
    taken_in = connection.Connection.on_body

    def counted(self: connection.Connection, body: bytes) -> None:
        per_turn[turn] = per_turn.get(turn, 0) + len(body)
        taken_in(self, body)

    monkeypatch.setattr(connection.Connection, "on_body", counted)

    async def fetch(port: int) -> int:
        nonlocal turn
        pool = Pool("127.0.0.1", port)
        asked = asyncio.create_task(
            pool.request("POST", "/v1/chat/completions", b'{"model": "huge", "messages": []}')
        )
        while not asked.done():
            await asyncio.sleep(0)  # one loop turn
            turn += 1
        await pool.aclose()
        return len(asked.result().body)

    body = b'{"choices": []' + b" " * (SIZE - 15) + b"}"
    with (
        FakeUpstream([FakeModel("huge", body=body)]) as fake,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        assert runner.run(fetch(fake.port)) == SIZE
    largest = max(per_turn.values())
    assert largest <= connection.WHOLE_STEP + 256 * 1024, f"{largest / 2**20:.1f} MiB in one turn"
