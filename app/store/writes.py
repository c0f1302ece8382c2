"""The write side: every mutation is one transaction on ``Store.transaction()``, which claims the
idempotency key (if any), writes the rows, appends the change feed and enqueues storage
deletions, all committed together or not at all. Publishing the changes and removing storage
objects happen after the commit, in the caller (resolvers/mutations).

Unknown ids, and ids of another workspace, are NOT_FOUND (the same answer for both), raised
before anything is written; input the rows cannot take is BAD_USER_INPUT.

A write that reads before it writes what depends on the reading (a delete collecting the storage
keys of what it deletes, a report reading the file it replaces) first locks the row it hangs off
(``_lock_parent``), so no concurrent write can add to, change or delete what it read until it
commits: of two deletes of one object the second waits and finds nothing (NOT_FOUND), and a
child inserted by a write that has not committed yet is waited for and then seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVarTuple

from sqlalchemy import Select, case, delete, false, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadUserInput, FootageError, NotFound, ServiceUnavailable
from app.store import models
from app.store.db_errors import is_busy, is_rolled_back_for_retry
from app.store.dialects import upsert_into
from app.store.feed import append_changes
from app.store.idempotency import IdempotencyRequest, claim, settle
from app.store.lifecycle import INVOKED, UPLOADED, Transition, apply_transition
from app.store.media_status import PENDING, statuses_a_report_may_replace
from app.store.outbox import enqueue
from app.store.records import WriteOutcome, WrittenChange

_T = models.UserTest
_R = models.UserTestResult
_P = models.Participant
_REC = models.Recording
_M = models.AttachedMedia

RESULT = "UserTestResult"
RECORDING = "TestSessionRecording"
MEDIA = "AttachedMedia"

_Columns = TypeVarTuple("_Columns")


class WriteConflict(FootageError):
    """A concurrent change made this write impossible (for example, its parent was deleted
    while it ran); nothing was written, and retrying answers consistently."""

    code = "CONFLICT"


@dataclass(frozen=True, slots=True)
class NewParticipant:
    anonymous_id: str
    email: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class NewRecording:
    kind: str
    mime_type: str
    is_audio: bool
    storage_key: str | None
    filesize: int | None
    duration: float | None
    language: str | None
    # INVOKED (to be recorded) or UPLOADED (an existing file).
    status: str


@dataclass(frozen=True, slots=True)
class MediaReport:
    language: str
    type: str
    status: str
    status_reason: str | None
    error: str | None
    storage_key: str | None
    mime_type: str | None


@dataclass(frozen=True, slots=True)
class _Parent:
    """A result, or a recording's result: what a change entry and its topics need."""

    id: int
    uuid: str
    user_test_id: int
    user_test_uuid: str


def new_uuid() -> str:
    return str(uuid.uuid4())


class Writer:
    """The writes of one transaction, scoped to one workspace."""

    def __init__(
        self, connection: AsyncConnection, *, workspace_id: int, now: datetime, storage: str
    ) -> None:
        self._c = connection
        self._workspace_id = workspace_id
        self._now = now
        self._storage = storage

    # -- shared ---------------------------------------------------------------------------------

    async def _lock_parent(
        self, query: Select[*_Columns], table: Any, *, for_delete: bool
    ) -> Select[*_Columns]:
        """``query`` (which finds the parent row in ``table``) made to lock that row until the
        commit: ``for_delete`` for FOR UPDATE, which also waits for the transactions that have
        inserted a child of the row and keeps new children out (their foreign key check takes
        a KEY SHARE lock); otherwise FOR NO KEY UPDATE, which serialises the writers of one
        parent but lets children be inserted.

        SQLite has no row locks and one writer at a time, but its driver opens the transaction
        only at the first write: the reads before it belong to no transaction, and another
        writer can commit between them and this one's first write. So there the database's
        write lock is taken first, by a write that matches nothing."""
        if self._c.dialect.name == "sqlite":
            await self._c.execute(delete(_R).where(false()))
        return query.with_for_update(of=table, key_share=not for_delete)

    async def _result(self, result_uuid: str, *, lock: bool = False) -> _Parent:
        """The result; ``lock``: locked for deleting it (``_lock_parent``)."""
        query = (
            select(_R.id, _R.uuid, _R.user_test_id, _T.uuid.label("test_uuid"))
            .join(_T, _T.id == _R.user_test_id)
            .where(_R.workspace_id == self._workspace_id, _R.uuid == result_uuid)
        )
        if lock:
            query = await self._lock_parent(query, _R, for_delete=True)
        row = (await self._c.execute(query)).first()
        if row is None:
            raise NotFound("No user test result with this uuid.", argument="resultUuid")
        return _Parent(row.id, row.uuid, row.user_test_id, row.test_uuid)

    async def _recording(
        self, recording_uuid: str, *, lock: bool = False, for_delete: bool = False
    ) -> tuple[int, str | None, _Parent]:
        """(recording id, its storage key, its result); ``lock``: the recording locked, for
        deleting it when ``for_delete`` (``_lock_parent``)."""
        query = (
            select(
                _REC.id,
                _REC.storage_key,
                _R.id.label("result_id"),
                _R.uuid.label("result_uuid"),
                _R.user_test_id,
                _T.uuid.label("test_uuid"),
            )
            .join(_R, _R.id == _REC.result_id)
            .join(_T, _T.id == _R.user_test_id)
            .where(_REC.workspace_id == self._workspace_id, _REC.uuid == recording_uuid)
        )
        if lock:
            query = await self._lock_parent(query, _REC, for_delete=for_delete)
        row = (await self._c.execute(query)).first()
        if row is None:
            raise NotFound("No recording with this id.", argument="recordingId")
        parent = _Parent(row.result_id, row.result_uuid, row.user_test_id, row.test_uuid)
        return row.id, row.storage_key, parent

    async def _changed(
        self, parent: _Parent, object_type: str, object_uuid: str, kind: str
    ) -> tuple[WrittenChange, ...]:
        [entry] = await append_changes(
            self._c,
            workspace_id=self._workspace_id,
            entries=[(parent.user_test_id, parent.uuid, object_type, object_uuid, kind)],
            now=self._now,
        )
        return (WrittenChange(entry, parent.user_test_uuid),)

    async def _storage_keys(self, recording_ids: Any) -> list[str]:
        """Storage keys of the recordings ``recording_ids`` selects and of their media. The
        recordings are locked first (FOR UPDATE, ``_lock_parent``), so media a concurrent
        report is adding is waited for and read, and none is added after."""
        recordings = await self._c.execute(
            select(_REC.storage_key)
            .where(_REC.id.in_(recording_ids))
            .order_by(_REC.id)
            .with_for_update(of=_REC)
        )
        media = await self._c.execute(
            select(_M.storage_key).where(
                _M.recording_id.in_(recording_ids), _M.storage_key.is_not(None)
            )
        )
        return [row[0] for row in [*recordings, *media] if row[0] is not None]

    async def _delete_recordings(self, recording_ids: Any) -> list[int]:
        """Delete recordings (and their media and transcripts); enqueue their storage. The
        caller has locked the result (or the one recording), so none is added meanwhile."""
        keys = await self._storage_keys(recording_ids)
        await self._c.execute(
            delete(models.Transcription).where(models.Transcription.recording_id.in_(recording_ids))
        )
        await self._c.execute(delete(_M).where(_M.recording_id.in_(recording_ids)))
        await self._c.execute(delete(_REC).where(_REC.id.in_(recording_ids)))
        return await enqueue(self._c, keys=keys, backend=self._storage, now=self._now)

    # -- user tests and results -----------------------------------------------------------------

    async def create_user_test(self, *, name: str) -> WriteOutcome:
        test_uuid = f"ut_{new_uuid()}"
        await self._c.execute(
            insert(_T).values(
                workspace_id=self._workspace_id, uuid=test_uuid, name=name, created_at=self._now
            )
        )
        return WriteOutcome(uuid=test_uuid)

    async def create_result(
        self, *, test_uuid: str, name: str, status: str, participant: NewParticipant
    ) -> WriteOutcome:
        test = (
            await self._c.execute(
                select(_T.id).where(_T.workspace_id == self._workspace_id, _T.uuid == test_uuid)
            )
        ).scalar()
        if test is None:
            raise NotFound("No user test with this uuid.", argument="testUuid")
        # One participant per anonymous id and workspace; details given now fill in or
        # replace the ones known, details left out keep them.
        upsert = upsert_into(self._c, _P).values(
            workspace_id=self._workspace_id,
            anonymous_id=participant.anonymous_id,
            email=participant.email,
            name=participant.name,
            created_at=self._now,
        )
        participant_id = (
            await self._c.execute(
                upsert.on_conflict_do_update(
                    index_elements=[_P.workspace_id, _P.anonymous_id],
                    set_={
                        "email": func.coalesce(upsert.excluded.email, _P.email),
                        "name": func.coalesce(upsert.excluded.name, _P.name),
                    },
                ).returning(_P.id)
            )
        ).scalar_one()
        result_uuid = f"ut_response_{new_uuid()}"
        result_id = (
            await self._c.execute(
                insert(_R)
                .values(
                    workspace_id=self._workspace_id,
                    user_test_id=test,
                    participant_id=participant_id,
                    uuid=result_uuid,
                    name=name,
                    status=status,
                    created_at=self._now,
                )
                .returning(_R.id)
            )
        ).scalar_one()
        parent = _Parent(result_id, result_uuid, test, test_uuid)
        changes = await self._changed(parent, RESULT, result_uuid, "CREATED")
        return WriteOutcome(uuid=result_uuid, parent_uuid=test_uuid, changes=changes)

    async def reject_result(self, *, result_uuid: str) -> WriteOutcome:
        """REJECTED; rejecting a rejected result changes nothing (``applied`` False). The result
        is locked first, so a concurrent delete makes this NOT_FOUND rather than a no-op."""
        parent = await self._result(result_uuid, lock=True)
        moved = await self._c.execute(
            update(_R).where(_R.id == parent.id, _R.status != "REJECTED").values(status="REJECTED")
        )
        if not moved.rowcount:
            return WriteOutcome(uuid=result_uuid, parent_uuid=parent.user_test_uuid, applied=False)
        changes = await self._changed(parent, RESULT, result_uuid, "REJECTED")
        return WriteOutcome(uuid=result_uuid, parent_uuid=parent.user_test_uuid, changes=changes)

    async def delete_result(self, *, result_uuid: str) -> WriteOutcome:
        parent = await self._result(result_uuid, lock=True)
        recording_ids = select(_REC.id).where(_REC.result_id == parent.id).scalar_subquery()
        deletions = await self._delete_recordings(recording_ids)
        await self._c.execute(delete(_R).where(_R.id == parent.id))
        changes = await self._changed(parent, RESULT, result_uuid, "DELETED")
        return WriteOutcome(
            uuid=result_uuid,
            parent_uuid=parent.user_test_uuid,
            changes=changes,
            deletions=tuple(deletions),
        )

    # -- recordings -----------------------------------------------------------------------------

    async def register_recording(
        self, *, result_uuid: str, recording: NewRecording, caller: dict[str, Any]
    ) -> WriteOutcome:
        parent = await self._result(result_uuid)
        recording_uuid = new_uuid()
        uploaded = recording.status == UPLOADED
        statement = (
            upsert_into(self._c, _REC)
            .values(
                workspace_id=self._workspace_id,
                result_id=parent.id,
                uuid=recording_uuid,
                kind=recording.kind,
                storage_key=recording.storage_key,
                mime_type=recording.mime_type,
                is_audio=recording.is_audio,
                filesize=recording.filesize,
                duration=recording.duration,
                language=recording.language,
                failed=False,
                missing_data_warning=False,
                created_at=self._now,
                status=UPLOADED if uploaded else INVOKED,
                uploaded_at=self._now if uploaded else None,
                status_changed_at=self._now,
                status_caller=caller,
            )
            .on_conflict_do_nothing(index_elements=[_REC.result_id, _REC.kind])
            .returning(_REC.id)
        )
        if (await self._c.execute(statement)).scalar() is None:
            raise BadUserInput(
                f"This result already has a {recording.kind.upper()} recording; delete it "
                "first to register another.",
                argument="kind",
            )
        changes = await self._changed(parent, RECORDING, recording_uuid, "CREATED")
        return WriteOutcome(uuid=recording_uuid, parent_uuid=result_uuid, changes=changes)

    async def transition_recording(
        self,
        *,
        recording_uuid: str,
        transition: Transition,
        caller: dict[str, Any],
        note: str | None,
        values: dict[str, Any],
    ) -> WriteOutcome:
        moved = await apply_transition(
            self._c,
            workspace_id=self._workspace_id,
            recording_uuid=recording_uuid,
            transition=transition,
            now=self._now,
            caller=caller,
            note=note,
            values=values,
            storage=self._storage,
        )
        _id, _key, parent = await self._recording(moved.uuid)
        changes = await self._changed(parent, RECORDING, recording_uuid, "UPDATED")
        return WriteOutcome(
            uuid=recording_uuid,
            parent_uuid=parent.uuid,
            changes=changes,
            deletions=moved.deletions,
        )

    async def delete_recording(self, *, recording_uuid: str) -> WriteOutcome:
        recording_id, _key, parent = await self._recording(
            recording_uuid, lock=True, for_delete=True
        )
        deletions = await self._delete_recordings([recording_id])
        changes = await self._changed(parent, RECORDING, recording_uuid, "DELETED")
        return WriteOutcome(
            uuid=recording_uuid,
            parent_uuid=parent.uuid,
            changes=changes,
            deletions=tuple(deletions),
        )

    # -- attached media -------------------------------------------------------------------------

    async def report_media(self, *, recording_uuid: str, report: MediaReport) -> WriteOutcome:
        """Upsert one media item. A report replaces the item only when its status ranks at
        least as high as the item's (app.store.media_status), so reports converge whatever
        order they arrive in, and a late PENDING never reopens a finished item. ``applied``
        False: it changed nothing.

        The reports of one recording take turns on its row lock (``_lock_parent``), so each
        reads the file it supersedes after the previous report committed, even when both are
        the item's first: the loser's file is enqueued for deletion, never forgotten."""
        recording_id, _key, parent = await self._recording(recording_uuid, lock=True)
        where = (
            _M.recording_id == recording_id,
            _M.language == report.language,
            _M.type == report.type,
        )
        # The file a replacement supersedes (no other writer can change it: see above).
        before = (await self._c.execute(select(_M.storage_key).where(*where))).scalar()
        media_uuid = new_uuid()
        terminal = report.status != PENDING
        upsert = upsert_into(self._c, _M).values(
            workspace_id=self._workspace_id,
            recording_id=recording_id,
            uuid=media_uuid,
            language=report.language,
            type=report.type,
            status=report.status,
            status_reason=report.status_reason,
            storage_key=report.storage_key,
            mime_type=report.mime_type,
            error=report.error,
            finalised_at=self._now if terminal else None,
            created_at=self._now,
        )
        excluded = upsert.excluded
        statement = upsert.on_conflict_do_update(
            index_elements=[_M.recording_id, _M.language, _M.type],
            set_={
                "status": excluded.status,
                "status_reason": excluded.status_reason,
                "storage_key": excluded.storage_key,
                "mime_type": excluded.mime_type,
                "error": excluded.error,
                # Finalised when it reached this status: a repeated report keeps the time.
                "finalised_at": case(
                    (_M.status == excluded.status, _M.finalised_at), else_=excluded.finalised_at
                ),
            },
            where=_M.status.in_(statuses_a_report_may_replace(report.status)),
        ).returning(_M.uuid)
        written = (await self._c.execute(statement)).scalar()
        if written is None:
            current = (await self._c.execute(select(_M.uuid).where(*where))).scalar_one()
            return WriteOutcome(uuid=current, parent_uuid=recording_uuid, applied=False)
        kind = "CREATED" if written == media_uuid else "UPDATED"
        changes = await self._changed(parent, MEDIA, written, kind)
        deletions: list[int] = []
        if before is not None and before != report.storage_key:
            deletions = await enqueue(self._c, keys=[before], backend=self._storage, now=self._now)
        return WriteOutcome(
            uuid=written,
            parent_uuid=recording_uuid,
            changes=changes,
            deletions=tuple(deletions),
        )


Work = Callable[[Writer], Awaitable[WriteOutcome]]


class Writes:
    """The write entry point, mixed into ``Store``."""

    if TYPE_CHECKING:

        def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]: ...

    async def write(
        self,
        *,
        workspace_id: int,
        now: datetime,
        storage: str,
        idempotency: IdempotencyRequest | None,
        work: Work,
    ) -> WriteOutcome:
        """Run ``work`` in one committed transaction; with an idempotency key, a retry replays
        the first outcome instead (``replayed``), without writing. ``storage`` names the
        backend the storage keys of deleted rows are enqueued for."""
        try:
            async with self.transaction() as connection:
                claim_id = None
                if idempotency is not None:
                    claim_id, replay = await claim(
                        connection, workspace_id=workspace_id, request=idempotency, now=now
                    )
                    if replay is not None:
                        return replay
                writer = Writer(connection, workspace_id=workspace_id, now=now, storage=storage)
                outcome = await work(writer)
                if claim_id is not None:
                    await settle(connection, claim_id=claim_id, outcome=outcome)
                return outcome
        except IntegrityError:
            raise WriteConflict(
                "A concurrent change conflicted with this request and nothing was written; "
                "read the current state and retry."
            ) from None
        except DBAPIError as error:
            if is_rolled_back_for_retry(error):
                raise WriteConflict(
                    "A concurrent change conflicted with this request and nothing was written; "
                    "retry."
                ) from None
            if not is_busy(error):
                raise
            raise ServiceUnavailable(
                "The database is busy with other writes and nothing was written; retry shortly.",
                retryAfter=1,
            ) from None
