"""The stored-responses SQLite store: what is put is read back, bounds hold, a killed process
loses nothing committed, an unusable file leaves the router without a store (one warning)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router.errors import StoreFailed
from router.serving.response_store import ResponseStore, StoredResponse, open_store

DAY = 86400.0
MiB = 1024 * 1024


def item(n: int, *, created: int | None = None, payload: bytes = b"{}") -> StoredResponse:
    created = int(time.time()) if created is None else created
    items = b'[{"id": "msg_%03d", "type": "message"}]' % n
    messages = b'[{"role": "user", "content": "hi"}]'
    return StoredResponse(f"resp_{n:032x}", created, "fast-model", payload, items, messages)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ResponseStore]:
    opened = open_store(tmp_path / "responses.sqlite3", 30 * DAY, 256 * MiB)
    assert opened is not None
    yield opened
    await opened.close()


async def test_put_get_replace_delete(store: ResponseStore) -> None:
    first = item(1, payload=b'{"v": 1}')
    await store.put(first)
    assert await store.get(first.id) == first
    assert await store.get("resp_unknown") is None
    replaced = item(1, payload=b'{"v": 2}')
    await store.put(replaced)
    assert await store.get(first.id) == replaced
    assert store.stored_bytes() == replaced.size  # the old copy is no longer counted
    assert await store.delete(first.id) is True
    assert await store.get(first.id) is None
    assert await store.delete(first.id) is False
    assert store.stored_bytes() == 0


async def test_the_file_is_wal_and_full_sync(store: ResponseStore) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (store.path.parent / "responses.sqlite3-wal").exists()


async def test_entries_past_max_age_are_never_returned_and_deleted(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = open_store(path, 100.0, MiB)
    assert store is not None
    now = int(time.time())
    await store.put(item(1, created=now - 50))
    await store.put(item(2, created=now - 200))  # already too old: pruned by its own put
    assert await store.get(item(1).id) is not None
    assert await store.get(item(2).id) is None
    assert store.stored_bytes() == item(1).size
    store.max_age = 10.0  # an entry ageing past the bound while stored: not returned
    assert await store.get(item(1).id) is None
    await store.close()
    reopened = open_store(path, 10.0, MiB)  # and deleted at open
    assert reopened is not None
    assert reopened.stored_bytes() == 0
    await reopened.close()


async def test_the_oldest_go_first_past_max_bytes(tmp_path: Path) -> None:
    one = item(0, payload=b"x" * 1000).size
    store = open_store(tmp_path / "r.sqlite3", DAY, 10 * one)
    assert store is not None
    now = int(time.time())
    for n in range(15):  # created in order; same second for some: insertion order breaks ties
        await store.put(item(n, created=now - 15 + n // 2, payload=b"x" * 1000))
    kept = [n for n in range(15) if await store.get(item(n).id) is not None]
    assert kept == list(range(5, 15))
    assert store.stored_bytes() == 10 * one
    await store.close()


async def test_many_tasks_putting_at_once(store: ResponseStore) -> None:
    entries = [item(n, payload=b'{"n": %d}' % n) for n in range(200)]
    await asyncio.gather(*(store.put(e) for e in entries))
    got = await asyncio.gather(*(store.get(e.id) for e in entries))
    assert got == entries
    assert store.stored_bytes() == sum(e.size for e in entries)


async def test_the_event_loop_never_runs_sqlite(store: ResponseStore) -> None:
    seen: list[str] = []
    original = store._put

    def spy(entry: StoredResponse) -> None:
        seen.append(threading.current_thread().name)
        original(entry)

    store._put = spy  # type: ignore[method-assign]
    await store.put(item(1))
    assert seen and seen[0].startswith("response-store")
    assert seen[0] != threading.current_thread().name


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from router.serving.response_store import StoredResponse, open_store

    async def main():
        store = open_store(Path(sys.argv[1]), 86400.0, 1 << 30)
        n = 0
        while True:  # until killed: each id printed once its put returned (committed)
            rid = "resp_%032x" % n
            await store.put(StoredResponse(rid, 1 << 31, "m", b"{}" * 500, b"[]", b"[]"))
            print(rid, flush=True)
            n += 1

    asyncio.run(main())
    """
)


async def test_a_killed_process_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    committed = [child.stdout.readline().strip() for _ in range(50)]
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: more puts may be under way
    child.wait()
    store = open_store(path, 86400.0, 1 << 30)
    assert store is not None
    for rid in committed:
        assert await store.get(rid) is not None, rid
    await store.close()


@pytest.mark.parametrize("kind", ["garbage", "foreign", "folder"])
async def test_an_unusable_file_means_no_store_and_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    path = tmp_path / "r.sqlite3"
    if kind == "garbage":
        path.write_bytes(b"not a database\n" * 500)
    elif kind == "foreign":  # some other program's database
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 7")
    else:  # the folder cannot be made: a file stands where it would be
        (tmp_path / "file").write_text("")
        path = tmp_path / "file" / "r.sqlite3"
    with caplog.at_level(logging.WARNING, logger="router"):
        assert open_store(path, DAY, MiB) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert str(path) in line and "without stored responses" in line and "\n" not in line


async def test_the_data_folder_is_made_private(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data" / "r.sqlite3", DAY, MiB)
    assert store is not None
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    await store.close()


async def test_calls_after_close_fail_cleanly(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.sqlite3", DAY, MiB)
    assert store is not None
    await store.close()
    await store.put(item(1))  # logged, not raised: a request that outlived the shutdown
    with pytest.raises(StoreFailed):
        await store.get(item(1).id)
