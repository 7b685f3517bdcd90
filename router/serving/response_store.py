"""Stored responses of the Responses API: one SQLite file, bounded in size and age.

`POST /v1/responses` puts each answer here (unless `store: false`); `GET`/`DELETE
/v1/responses/{id}`, `.../input_items` and a later `previous_response_id` read it back.

Safety: the file is in WAL mode with `synchronous=NORMAL` (SQLite's advice for WAL), and every
write is one transaction: a killed or crashing router loses nothing committed and the file is
never corrupt; only a power cut or an OS crash may roll back the last commits (a conversation
then continues from an earlier turn, or the client resends it). FULL would add an fsync to each
put: 3-4 ms measured on this project's CI machine, a tenfold cost over chat in the proxy
benchmark, for a store of conversations a client can always resend.

The event loop never waits on SQLite: one dedicated worker thread owns the one connection, and
every call runs there in order. Bounds: entries older than `max_age` are deleted on each put
(an index range on `created_at`, nothing scanned when nothing is due) and never returned; the
stored bytes are kept in a one-row table by triggers, so checking `max_bytes` is one read, and
the oldest entries are deleted while the total is over it. Both at open too. A file that is
not a usable store, or a folder that cannot be written: `open_store` logs one warning and
returns None, and the router runs without stored responses.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import msgspec

from router.errors import StoreFailed

log = logging.getLogger("router")
T = TypeVar("T")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    model TEXT NOT NULL,
    response BLOB NOT NULL,
    input_items BLOB NOT NULL,
    messages BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
CREATE TABLE IF NOT EXISTS totals (one INTEGER PRIMARY KEY CHECK (one = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO totals VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS responses_added AFTER INSERT ON responses
    BEGIN UPDATE totals SET bytes = bytes + new.size; END;
CREATE TRIGGER IF NOT EXISTS responses_removed AFTER DELETE ON responses
    BEGIN UPDATE totals SET bytes = bytes - old.size; END;
"""
_COLUMNS = "id, created_at, model, response, input_items, messages"
_MARKS = ", ".join("?" * 7)


class StoredResponse(msgspec.Struct, frozen=True):
    id: str  # "resp_" + 32 hex chars
    created_at: int  # unix seconds
    model: str  # the model that answered (a concrete model id)
    response: bytes  # the Response object as JSON, exactly as sent to the client
    input_items: bytes  # JSON array: this request's input items, each with an "id", in order
    messages: bytes  # JSON array: the chat messages of the conversation up to this output

    @property
    def size(self) -> int:
        """The payload bytes counted against `max_bytes`."""
        parts = (self.id.encode(), self.model.encode(), self.response, self.input_items)
        return sum(map(len, parts)) + len(self.messages)


class ResponseStore:
    """The stored responses in one SQLite file; every call runs on the store's own thread."""

    def __init__(self, path: Path, max_age: float, max_bytes: int) -> None:
        self.path = path
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="response-store")
        self._db: sqlite3.Connection | None = None

    # --- the asyncio side: each call hands one function to the store's thread -----------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except RuntimeError:  # the thread is gone: a request outlived the shutdown
            raise sqlite3.ProgrammingError("the response store is closed") from None
        return await future

    async def put(self, item: StoredResponse) -> None:
        """Store `item` (replacing an entry with its id), then prune. A failed write is logged,
        not raised: the answer it records has been given already."""
        try:
            await self._run(self._put, item)
        except sqlite3.Error as err:
            log.warning("response store %s: %s not stored: %s", self.path, item.id, err)

    async def get(self, response_id: str) -> StoredResponse | None:
        """The entry with this id, None when there is none (or it is older than `max_age`)."""
        return await self._guarded(self._get, response_id)

    async def delete(self, response_id: str) -> bool:
        """Delete the entry; False when there was no such id."""
        return await self._guarded(self._delete, response_id)

    async def close(self) -> None:
        await self._run(self._close)
        self._pool.shutdown(wait=True)

    async def _guarded(self, fn: Callable[[str], T], response_id: str) -> T:
        try:
            return await self._run(fn, response_id)
        except sqlite3.Error as err:
            log.warning("response store %s: %s", self.path, err)
            raise StoreFailed(f"The stored responses could not be read: {err}.") from err

    # --- the store's thread ---------------------------------------------------------------------

    def open_now(self) -> None:
        """Open (creating the folder and the file when missing) and prune; raises OSError or
        sqlite3.Error when the path is not usable."""
        self._pool.submit(self._open).result()

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, not {SCHEMA_VERSION}")
            schema = f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
            db.executescript(schema)
            with _transaction(db):
                _prune(db, self.max_age, self.max_bytes)
        except BaseException:
            db.close()
            raise
        self._db = db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("the response store is closed")
        return self._db

    def _put(self, item: StoredResponse) -> None:
        db = self._conn()
        row = (*msgspec.structs.astuple(item), item.size)
        with _transaction(db):
            db.execute("DELETE FROM responses WHERE id = ?", (item.id,))
            db.execute(f"INSERT INTO responses ({_COLUMNS}, size) VALUES ({_MARKS})", row)
            _prune(db, self.max_age, self.max_bytes)

    def _get(self, response_id: str) -> StoredResponse | None:
        cutoff = time.time() - self.max_age
        row = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM responses WHERE id = ? AND created_at >= ?",
                (response_id, cutoff),
            )
            .fetchone()
        )
        return None if row is None else StoredResponse(*row)

    def _delete(self, response_id: str) -> bool:
        db = self._conn()
        with _transaction(db):
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def stored_bytes(self) -> int:
        """The payload bytes stored now (for tests and the log)."""
        return self._pool.submit(lambda: _total(self._conn())).result()


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error (the connection is in autocommit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _total(db: sqlite3.Connection) -> int:
    return db.execute("SELECT bytes FROM totals").fetchone()[0]


def _prune(db: sqlite3.Connection, max_age: float, max_bytes: int) -> None:
    """Delete what is older than `max_age`, then the oldest entries while over `max_bytes`."""
    db.execute("DELETE FROM responses WHERE created_at < ?", (time.time() - max_age,))
    excess = _total(db) - max_bytes
    if excess <= 0:
        return
    doomed: list[int] = []
    for rowid, size in db.execute("SELECT rowid, size FROM responses ORDER BY created_at, rowid"):
        doomed.append(rowid)
        excess -= size
        if excess <= 0:
            break
    db.executemany("DELETE FROM responses WHERE rowid = ?", [(r,) for r in doomed])


def open_store(path: Path, max_age: float, max_bytes: int) -> ResponseStore | None:
    """The store at `path`, opened; None (after one warning line) when it cannot be used."""
    store = ResponseStore(path, max_age, max_bytes)
    try:
        store.open_now()
    except (OSError, sqlite3.Error) as err:
        store._pool.shutdown(wait=False)
        log.warning(
            "response store %s is not usable (%s): running without stored responses "
            "(GET /v1/responses/{id} answers 404); fix or remove the file, or set "
            "[responses] path",
            path,
            err,
        )
        return None
    return store
