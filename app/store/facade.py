"""The store: the one place that speaks SQL. Bulk, keyword-only, workspace-scoped methods.

One ``Store`` serves one request. It opens a single connection on first use and serialises its
statements with a lock: loader batches run concurrently, and neither an ``AsyncConnection`` nor an
asyncpg connection may be used by two tasks at once. A request issues a handful of mostly
dependent statements, so serialising them costs nothing measurable, while a connection per batch
would multiply pool checkouts and break the single-transaction view a test (or a mutation) needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    Select,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store import models
from app.store.db_errors import is_busy
from app.store.feed import ChangeFeedReads
from app.store.lifecycle import LIFECYCLE_COLUMNS
from app.store.records import (
    ApiKeyRecord,
    AttachedMediaRecord,
    PageRequest,
    ParticipantRecord,
    RecordingRecord,
    ResultRecord,
    TranscriptionRecord,
    UserTestRecord,
)
from app.store.tree_cache import TreeCache
from app.store.writes import Writes

AnySelect = Select[*tuple[Any, ...]]
AnyRow = Row[*tuple[Any, ...]]
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]

_R = models.UserTestResult
_P = models.Participant
_T = models.UserTest
_REC = models.Recording
_M = models.AttachedMedia

_RESULT_COLUMNS = (
    _R.id,
    _R.uuid,
    _R.user_test_id,
    _R.name,
    _R.status,
    _R.created_at,
    _P.anonymous_id,
    _P.email,
    _P.name.label("participant_name"),
    _R.revision,  # not in the record: the store's, for its read cache (``_note_revisions``)
)


def _result(row: AnyRow) -> ResultRecord:
    # Unpacked by position (``_RESULT_COLUMNS``' order): a Row's attribute access by name
    # first fails a lookup on the Row class, which costs an AttributeError each time.
    (id_, uuid_, user_test_id, name, status, created_at, anonymous_id, email, participant_name) = (
        row[:9]
    )
    participant = (
        None
        if anonymous_id is None
        else ParticipantRecord(anonymous_id=anonymous_id, email=email, name=participant_name)
    )
    return ResultRecord(
        id=id_,
        uuid=uuid_,
        user_test_id=user_test_id,
        name=name,
        status=status,
        created_at=created_at,
        participant=participant,
    )


def _results_select(workspace_id: int | BindParameter[int]) -> AnySelect:
    return (
        select(*_RESULT_COLUMNS)
        .outerjoin(_P, _P.id == _R.participant_id)
        .where(_R.workspace_id == workspace_id)
    )


def _recordings_select(workspace_id: int | BindParameter[int]) -> AnySelect:
    """Recordings in the order of ``RecordingRecord``'s fields (built positionally, as media
    are: ``_media_select``; a test guards the order)."""
    return (
        select(
            _REC.id,
            _REC.uuid,
            _REC.result_id,
            _REC.kind,
            _REC.storage_key,
            _REC.mime_type,
            _REC.is_audio,
            _REC.filesize,
            _REC.duration,
            _REC.language,
            _REC.failed,
            _REC.failed_type,
            _REC.missing_data_warning,
            _REC.start_time,
            _REC.created_at,
            _T.name.label("user_test_name"),
            _R.uuid.label("result_uuid"),
            func.coalesce(_P.name, _P.anonymous_id).label("participant_label"),
            *LIFECYCLE_COLUMNS,
        )
        .join(_R, _R.id == _REC.result_id)
        .join(_T, _T.id == _R.user_test_id)
        .outerjoin(_P, _P.id == _R.participant_id)
        .where(_REC.workspace_id == workspace_id)
    )


def _api_key_select(key_hash: str) -> AnySelect:
    return (
        select(
            models.ApiKey.id,
            models.ApiKey.workspace_id,
            models.Workspace.slug.label("workspace_slug"),
            models.ApiKey.prefix,
            models.ApiKey.expires_at,
            models.ApiKey.revoked_at,
            models.ApiKey.scopes,
            models.ApiKey.last_used_at,
        )
        .join(models.Workspace, models.Workspace.id == models.ApiKey.workspace_id)
        .where(models.ApiKey.key_hash == key_hash)
    )


def _recording(row: AnyRow) -> RecordingRecord:
    record: RecordingRecord = _new_tuple(RecordingRecord, row)
    return record


# Records whose select lists their fields in order (tests/test_store.py guards it) are made from
# the row by ``tuple.__new__`` itself: a named tuple's ``__new__`` is a Python function.
_new_tuple: Any = tuple.__new__


def _media_select(workspace_id: int | BindParameter[int]) -> AnySelect:
    """Media items with the names their default download filename is made of, in the order of
    ``AttachedMediaRecord``'s fields: records are built positionally (a page has hundreds of
    media rows, and keyword construction costs three times as much; a test guards the order)."""
    return (
        select(
            _M.id,
            _M.uuid,
            _M.recording_id,
            _M.language,
            _M.type,
            _M.status,
            _M.status_reason,
            _M.storage_key,
            _M.mime_type,
            _M.error,
            _M.finalised_at,
            _T.name.label("user_test_name"),
            func.coalesce(_P.name, _P.anonymous_id).label("participant_label"),
        )
        .join(_REC, _REC.id == _M.recording_id)
        .join(_R, _R.id == _REC.result_id)
        .join(_T, _T.id == _R.user_test_id)
        .outerjoin(_P, _P.id == _R.participant_id)
        .where(_M.workspace_id == workspace_id)
    )


# The statements every page runs, built once with their values as parameters: building a select
# and computing its cache key on every call cost more Python than SQLAlchemy's execution of it.
_WORKSPACE: BindParameter[int] = bindparam("workspace_id")


def _keys() -> BindParameter[Any]:
    return bindparam("keys", expanding=True)


_USER_TESTS = select(_T.id, _T.uuid, _T.name, _T.created_at).where(_T.workspace_id == _WORKSPACE)
_USER_TESTS_BY_UUIDS = _USER_TESTS.where(_T.uuid.in_(_keys()))
_USER_TESTS_BY_IDS = _USER_TESTS.where(_T.id.in_(_keys()))
_RESULTS_BY_UUIDS = _results_select(_WORKSPACE).where(_R.uuid.in_(_keys()))
_RECORDINGS_BY_RESULT_IDS = _recordings_select(_WORKSPACE).where(_REC.result_id.in_(_keys()))
_RECORDINGS_BY_UUIDS = _recordings_select(_WORKSPACE).where(_REC.uuid.in_(_keys()))
_MEDIA_BY_RECORDING_IDS = _media_select(_WORKSPACE).where(_M.recording_id.in_(_keys()))
_MEDIA_BY_UUIDS = _media_select(_WORKSPACE).where(_M.uuid.in_(_keys()))


def _page_select(
    workspace_id: Any, user_test_id: Any, after: Any, before: Any, backward: bool, limit: Any
) -> AnySelect:
    """One page of a user test's results, its bounds and limit given as values or as bind
    parameters (None: no such bound)."""
    query = _results_select(workspace_id).where(_R.user_test_id == user_test_id)
    if after is not None:
        query = query.where(_R.id > after)
    if before is not None:
        query = query.where(_R.id < before)
    return query.order_by(_R.id.desc() if backward else _R.id.asc()).limit(limit)


# One page of results (a page request alone, the usual case), by its shape: whether it has each
# bound and which way it walks. Built once each, like the statements above.
_PAGES: dict[tuple[bool, bool, bool], AnySelect] = {}


def _page_statement(page: PageRequest) -> AnySelect:
    shape = (page.after is not None, page.before is not None, page.backward)
    statement = _PAGES.get(shape)
    if statement is None:
        statement = _PAGES[shape] = _page_select(
            _WORKSPACE,
            bindparam("user_test"),
            bindparam("after") if page.after is not None else None,
            bindparam("before") if page.before is not None else None,
            page.backward,
            bindparam("limit"),
        )
    return statement


def _page_parameters(workspace_id: int, page: PageRequest) -> dict[str, object]:
    parameters: dict[str, object] = {
        "workspace_id": workspace_id,
        "user_test": page.user_test_id,
        "limit": page.limit,
    }
    if page.after is not None:
        parameters["after"] = page.after
    if page.before is not None:
        parameters["before"] = page.before
    return parameters


def _by_keys(workspace_id: int, keys: Sequence[object]) -> dict[str, object]:
    return {"workspace_id": workspace_id, "keys": list(keys)}


_Record = TypeVar("_Record")
_RESULT_ID = attrgetter("result_id")
_RECORDING_ID = attrgetter("recording_id")


def _grouped(
    records: Sequence[_Record], keys: Sequence[int], key: Callable[[_Record], int]
) -> dict[int, list[_Record]]:
    """The records of each of ``keys`` (``[]`` when none), in the order read; others left."""
    grouped: dict[int, list[_Record]] = {k: [] for k in keys}
    for record in records:
        listed = grouped.get(key(record))
        if listed is not None:
            listed.append(record)
    return grouped


class StoreClosed(RuntimeError):
    """A read or write on a store after ``close()``: the request it served is over."""


# Rows converted (types processed, by SQLAlchemy) between two of the pacer's checks.
ROWS_PER_STEP = 100


class Store(ChangeFeedReads, Writes):
    """``pause``: the process's pacer (``Pacer.pause``, app.pacing), awaited between every
    ROWS_PER_STEP rows of a read, so converting a page's 550 media rows does not hold the loop
    in one piece. HTTP requests' stores have it; a websocket's (app.live) do not.

    ``trees``: the process's read cache (app.store.tree_cache). Recordings and media of results
    this store has read (with their revisions) are answered from it when their trees are
    cached as of those revisions, and kept in it when read. What the store learnt is forgotten
    by a write and by ``release``: afterwards, only a result read again is answered from the
    cache."""

    def __init__(
        self,
        connect: Connect,
        begin: Connect,
        *,
        pause: Callable[[], Awaitable[None]] | None = None,
        trees: TreeCache | None = None,
    ) -> None:
        self._connect = connect
        self._begin = begin
        self._pause = pause
        self._trees = trees if trees is not None and trees.size else None
        # Read by this store: results' revisions, by result id, in one workspace's reads, and
        # the result of each recording read of those results.
        self._revisions: dict[int, int] = {}
        self._revisions_workspace: int | None = None
        self._recording_results: dict[int, int] = {}
        self._stack = AsyncExitStack()
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def close(self) -> None:
        """Release the connection for good: reads and writes then raise ``StoreClosed``
        instead of opening another connection (``release`` keeps the store usable)."""
        self._closed = True
        await self.release()

    async def release(self) -> None:
        """Release the connection (rolling back anything uncommitted); the next read or write
        checks out another. A subscription's context releases its store between two events.

        A request cancelled by the query timeout can leave loader batches behind (they are
        tasks of their own): one running a statement, whose connection cannot be rolled back or
        reused, so it is invalidated (the pool closes it and opens a fresh one later); others
        still queued, which after ``close`` raise instead of checking out a connection that
        nothing would return."""
        self._forget_revisions()
        connection, self._connection = self._connection, None
        if connection is not None and self._lock.locked():
            await connection.invalidate()
        await self._stack.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("The store was used after its request ended (it is closed).")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One committed write transaction (a mutation; see app.store.writes), serialised with
        the request's reads. A reading connection still open (an earlier mutation's payload)
        is released first, so a request never holds two pooled connections."""
        async with self._lock:
            self._check_open()
            self._forget_revisions()  # what it writes may change them
            if self._connection is not None:
                self._connection = None
                await self._stack.aclose()
                self._stack = AsyncExitStack()
            async with self._begin() as connection:
                yield connection

    def _forget_revisions(self) -> None:
        self._revisions.clear()
        self._recording_results.clear()

    def revisions_of(self, workspace_id: int, result_ids: Sequence[int]) -> tuple[int, ...] | None:
        """The revisions this store read with these results (see app.store.tree_cache), or
        None when it knows not all of them (the read cache off, a write since)."""
        if self._trees is None or workspace_id != self._revisions_workspace:
            return None
        revisions = self._revisions
        try:
            return tuple([revisions[result_id] for result_id in result_ids])
        except KeyError:
            return None

    def _note_revisions(self, workspace_id: int, rows: Sequence[AnyRow]) -> None:
        """Remember the revisions of results just read (``_RESULT_COLUMNS``' last)."""
        if self._trees is None:
            return
        if workspace_id != self._revisions_workspace:
            self._forget_revisions()
            self._revisions_workspace = workspace_id
        self._revisions.update([(row[0], row[9]) for row in rows])

    async def _rows(
        self, statement: Any, parameters: dict[str, object] | None = None
    ) -> Sequence[AnyRow]:
        async with self._lock:
            self._check_open()
            if self._connection is None:
                connection = await self._stack.enter_async_context(self._connect())
                if self._closed:  # closed while waiting for the pool: give it straight back
                    await self._stack.aclose()
                    self._check_open()
                self._connection = connection
            result = await self._connection.execute(statement, parameters)
            if self._pause is None:
                return result.all()
        # Both drivers hold every row in memory once the statement has run: converting them
        # (and pausing between steps of it) needs neither the lock nor the connection, which
        # the request's other reads may use meanwhile, and which release() may then return.
        rows: list[AnyRow] = []
        for part in result.partitions(ROWS_PER_STEP):
            if rows:
                await self._pause()
            rows += part
        return rows

    # -- authentication -------------------------------------------------------------------------

    async def fetch_api_key_by_hash(self, *, key_hash: str) -> ApiKeyRecord | None:
        rows = await self._rows(_api_key_select(key_hash))
        return ApiKeyRecord(**rows[0]._mapping) if rows else None

    async def authenticate_api_key(
        self, *, key_hash: str, now: datetime, touch_after: timedelta
    ) -> ApiKeyRecord | None:
        """Look a key up and record its use (``last_used_at``, at most once per ``touch_after``)
        in one short committed transaction of its own.

        It runs before the request opens its reading connection and releases its own first, so
        a request never holds two pooled connections at once: with two, a burst of requests
        could each hold one while waiting for another and starve the pool."""
        async with self._begin() as connection:
            row = (await connection.execute(_api_key_select(key_hash))).first()
            if row is None:
                return None
            record = ApiKeyRecord(**row._mapping)
            if record.last_used_at is None or record.last_used_at <= now - touch_after:
                try:
                    await connection.execute(
                        update(models.ApiKey)
                        .where(models.ApiKey.id == record.id)
                        .values(last_used_at=now)
                    )
                except DBAPIError as error:
                    # SQLite, another writer past busy_timeout: the key is valid all the same,
                    # and its last use is recorded by a later request.
                    if connection.dialect.name != "sqlite" or not is_busy(error):
                        raise
            return record

    # -- user tests -----------------------------------------------------------------------------

    async def fetch_user_tests_by_uuids(
        self, *, workspace_id: int, uuids: Sequence[str]
    ) -> list[UserTestRecord]:
        rows = await self._rows(_USER_TESTS_BY_UUIDS, _by_keys(workspace_id, uuids))
        return [UserTestRecord(**row._mapping) for row in rows]

    async def fetch_user_tests_by_ids(
        self, *, workspace_id: int, ids: Sequence[int]
    ) -> list[UserTestRecord]:
        rows = await self._rows(_USER_TESTS_BY_IDS, _by_keys(workspace_id, ids))
        return [UserTestRecord(**row._mapping) for row in rows]

    # -- results --------------------------------------------------------------------------------

    async def fetch_results_by_uuids(
        self, *, workspace_id: int, uuids: Sequence[str]
    ) -> list[ResultRecord]:
        rows = await self._rows(_RESULTS_BY_UUIDS, _by_keys(workspace_id, uuids))
        self._note_revisions(workspace_id, rows)
        return [_result(row) for row in rows]

    async def fetch_result_pages(
        self, *, workspace_id: int, pages: Sequence[PageRequest]
    ) -> list[list[ResultRecord]]:
        """Every page in one statement (a UNION ALL of index range scans), each page in
        ascending ``id`` order whichever direction it was walked."""
        if len(pages) == 1:
            (page,) = pages
            rows = await self._rows(_page_statement(page), _page_parameters(workspace_id, page))
            self._note_revisions(workspace_id, rows)
            records = [_result(row) for row in rows]
            if page.backward:
                records.reverse()
            return [records]
        selects = [
            _page_select(
                workspace_id, page.user_test_id, page.after, page.before, page.backward, page.limit
            ).add_columns(literal(index).label("page_index"))
            for index, page in enumerate(pages)
        ]
        subqueries = [s.subquery() for s in selects]
        rows = await self._rows(union_all(*(select(sq) for sq in subqueries)))
        self._note_revisions(workspace_id, rows)
        grouped: list[list[ResultRecord]] = [[] for _ in pages]
        for row in rows:
            grouped[row.page_index].append(_result(row))
        for page, records in zip(pages, grouped, strict=True):
            if page.backward:
                records.reverse()
        return grouped

    async def count_results_by_user_test_ids(
        self, *, workspace_id: int, user_test_ids: Sequence[int]
    ) -> dict[int, int]:
        rows = await self._rows(
            select(_R.user_test_id, func.count().label("total"))
            .where(_R.workspace_id == workspace_id, _R.user_test_id.in_(user_test_ids))
            .group_by(_R.user_test_id)
        )
        return {row.user_test_id: row.total for row in rows}

    # -- recordings and media -------------------------------------------------------------------

    async def fetch_recordings_by_result_ids(
        self, *, workspace_id: int, result_ids: Sequence[int]
    ) -> dict[int, list[RecordingRecord]]:
        """Each result's recordings (``[]`` when none), for every id asked, from the read
        cache where it has them (see ``Store``). A list may be the cache's own: read it, never
        change it."""
        trees = self._trees
        if trees is None or workspace_id != self._revisions_workspace:
            rows = await self._rows(_RECORDINGS_BY_RESULT_IDS, _by_keys(workspace_id, result_ids))
            return _grouped([_recording(row) for row in rows], result_ids, _RESULT_ID)
        revisions, links = self._revisions, self._recording_results
        found: dict[int, list[RecordingRecord]] = {}
        missing: list[int] = []
        for result_id in result_ids:
            revision = revisions.get(result_id)
            tree = None if revision is None else trees.get(result_id, revision)
            if tree is None or tree.recordings is None:
                missing.append(result_id)
                continue
            for record in tree.recordings:
                links[record[0]] = result_id
            found[result_id] = tree.recordings
        if not missing:
            return found
        rows = await self._rows(_RECORDINGS_BY_RESULT_IDS, _by_keys(workspace_id, missing))
        read = _grouped([_recording(row) for row in rows], missing, _RESULT_ID)
        for result_id, records in read.items():
            revision = revisions.get(result_id)
            if revision is None:
                continue
            for record in records:
                links[record.id] = result_id
            tree = trees.keep(result_id, revision)
            if tree is not None:
                tree.recordings = records
        found.update(read)
        return found

    async def fetch_recordings_by_uuids(
        self, *, workspace_id: int, uuids: Sequence[str]
    ) -> list[RecordingRecord]:
        rows = await self._rows(_RECORDINGS_BY_UUIDS, _by_keys(workspace_id, uuids))
        return [_recording(row) for row in rows]

    async def fetch_attached_media_by_recording_ids(
        self, *, workspace_id: int, recording_ids: Sequence[int]
    ) -> dict[int, list[AttachedMediaRecord]]:
        """Each recording's media (``[]`` when none), for every id asked, from the read cache
        where it has them (see ``Store``): recordings this store read by result. A list may be
        the cache's own: read it, never change it."""
        trees = self._trees
        if trees is None or workspace_id != self._revisions_workspace:
            rows = await self._rows(_MEDIA_BY_RECORDING_IDS, _by_keys(workspace_id, recording_ids))
            listed = [_new_tuple(AttachedMediaRecord, row) for row in rows]
            return _grouped(listed, recording_ids, _RECORDING_ID)
        revisions, links = self._revisions, self._recording_results
        found: dict[int, list[AttachedMediaRecord]] = {}
        missing: list[int] = []
        for recording_id in recording_ids:
            result_id = links.get(recording_id)
            tree = None if result_id is None else trees.get(result_id, revisions[result_id])
            media = None if tree is None else tree.media.get(recording_id)
            if media is None:
                missing.append(recording_id)
            else:
                found[recording_id] = media
        if not missing:
            return found
        rows = await self._rows(_MEDIA_BY_RECORDING_IDS, _by_keys(workspace_id, missing))
        listed = [_new_tuple(AttachedMediaRecord, row) for row in rows]
        read = _grouped(listed, missing, _RECORDING_ID)
        for recording_id, records in read.items():
            result_id = links.get(recording_id)
            if result_id is None:
                continue
            tree = trees.keep(result_id, revisions[result_id])
            if tree is not None:
                tree.media[recording_id] = records
        found.update(read)
        return found

    async def fetch_attached_media_by_uuids(
        self, *, workspace_id: int, uuids: Sequence[str]
    ) -> list[AttachedMediaRecord]:
        rows = await self._rows(_MEDIA_BY_UUIDS, _by_keys(workspace_id, uuids))
        return [_new_tuple(AttachedMediaRecord, row) for row in rows]

    async def fetch_transcriptions_by_recording_ids(
        self, *, workspace_id: int, recording_ids: Sequence[int]
    ) -> list[TranscriptionRecord]:
        t = models.Transcription
        rows = await self._rows(
            select(t.recording_id, t.language, t.document).where(
                t.workspace_id == workspace_id, t.recording_id.in_(recording_ids)
            )
        )
        return [TranscriptionRecord(**row._mapping) for row in rows]


Engine = AsyncEngine


@asynccontextmanager
async def admin_transaction(engine: AsyncEngine) -> AsyncIterator[Admin]:
    """An ``Admin`` over one transaction, committed when the block exits cleanly."""
    async with engine.begin() as connection:
        yield Admin(connection)


class Admin:
    """Writes for the command line and the demo loader, on one connection, committed by the
    caller's ``engine.begin()`` block. (The GraphQL write path arrives with mutations.)"""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    @asynccontextmanager
    async def loading_new_results(self) -> AsyncIterator[None]:
        """For a bulk load of results created in this transaction, with their recordings and
        media (the benchmark's dataset): PostgreSQL's per-row revision triggers (migration
        0004) are off meanwhile (5,000 results: 6.1 s where they took 9.8 s, each row's result
        updated once more). Their results keep the revision they were created with, which no
        tree was ever cached under. The
        tables stay locked until the transaction ends: for a database nobody else is using.
        SQLite's triggers run in process and cost little; they stay on."""
        if self._connection.dialect.name != "postgresql":
            yield
            return
        toggled = (
            ("recordings", "revise_on_recordings_change"),
            ("attached_media", "revise_on_attached_media_change"),
        )
        for table, trigger in toggled:
            await self._connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
        yield
        for table, trigger in toggled:
            await self._connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))

    async def ensure_workspace(self, *, slug: str, name: str, now: datetime) -> int:
        w = models.Workspace
        found = (await self._connection.execute(select(w.id).where(w.slug == slug))).scalar()
        if found is not None:
            return int(found)
        result = await self._connection.execute(
            insert(w).values(slug=slug, name=name, created_at=now).returning(w.id)
        )
        return int(result.scalar_one())

    async def create_api_key(
        self,
        *,
        workspace_id: int,
        key_hash: str,
        prefix: str,
        label: str,
        now: datetime,
        scopes: str,
        expires_at: datetime | None = None,
    ) -> int:
        k = models.ApiKey
        result = await self._connection.execute(
            insert(k)
            .values(
                workspace_id=workspace_id,
                key_hash=key_hash,
                prefix=prefix,
                label=label,
                created_at=now,
                expires_at=expires_at,
                scopes=scopes,
            )
            .returning(k.id)
        )
        return int(result.scalar_one())

    async def revoke_api_keys(self, *, key_hash: str, now: datetime) -> int:
        k = models.ApiKey
        result = await self._connection.execute(
            update(k).where(k.key_hash == key_hash, k.revoked_at.is_(None)).values(revoked_at=now)
        )
        return int(result.rowcount)

    async def api_key_exists(self, *, key_hash: str) -> bool:
        k = models.ApiKey
        found = await self._connection.execute(select(k.id).where(k.key_hash == key_hash))
        return found.first() is not None

    async def user_test_exists(self, *, uuid: str) -> bool:
        found = await self._connection.execute(select(_T.id).where(_T.uuid == uuid))
        return found.first() is not None

    async def insert_rows(
        self, *, table: str, rows: Sequence[Mapping[str, Any]], returning_ids: bool = False
    ) -> list[int]:
        """Bulk insert into ``table``; with ``returning_ids``, the new ids in row order."""
        target = models.Base.metadata.tables[table]
        if not rows:
            return []
        if not returning_ids:
            await self._connection.execute(insert(target), list(rows))
            return []
        statement = insert(target).returning(target.c.id, sort_by_parameter_order=True)
        result = await self._connection.execute(statement, list(rows))
        return [int(row[0]) for row in result]

    async def sync_id_sequences(self) -> None:
        """After inserting explicit ids, move PostgreSQL's sequences past them (SQLite's
        INTEGER PRIMARY KEY follows max(id) by itself)."""
        if self._connection.dialect.name != "postgresql":
            return
        for table in models.Base.metadata.sorted_tables:
            if "id" not in table.c or not table.c.id.autoincrement:
                continue
            await self._connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )
            )
