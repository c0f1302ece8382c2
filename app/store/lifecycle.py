"""The recording lifecycle, after seed 004 (RealtimeKit's recordings):

    INVOKED -> RECORDING <-> PAUSED -> UPLOADING -> UPLOADED, and any state but ERRORED -> ERRORED

``stop`` leaves RECORDING or PAUSED for UPLOADING; ``complete_upload`` needs a storage key
(given then, or at registration); a key given then replaces the registered one, whose object
goes to the storage-deletion outbox (app.store.outbox) in the same transaction. Each transition
is one conditional UPDATE (``WHERE status IN allowed_from``), so of two concurrent transitions
from the same state exactly one succeeds; the loser re-reads and is told the state it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadUserInput, NotFound
from app.store import models
from app.store.outbox import enqueue

INVOKED = "INVOKED"
RECORDING = "RECORDING"
PAUSED = "PAUSED"
UPLOADING = "UPLOADING"
UPLOADED = "UPLOADED"
ERRORED = "ERRORED"
STATUSES = (INVOKED, RECORDING, PAUSED, UPLOADING, UPLOADED, ERRORED)

_REC = models.Recording

# Read with every recording (app.store.facade), in RecordingRecord's field order.
LIFECYCLE_COLUMNS = (
    _REC.status,
    _REC.started_at,
    _REC.paused_at,
    _REC.resumed_at,
    _REC.stopped_at,
    _REC.uploaded_at,
    _REC.errored_at,
    _REC.start_reason,
    _REC.start_caller,
    _REC.stop_reason,
    _REC.stop_caller,
    _REC.error,
    _REC.status_changed_at,
    _REC.status_caller,
    _REC.status_note,
)


@dataclass(frozen=True, slots=True)
class Transition:
    name: str
    allowed_from: frozenset[str]
    to: str
    # The timestamp columns the transition sets.
    stamps: tuple[str, ...]


TRANSITIONS = {
    t.name: t
    for t in (
        # start_time is seed 000's `startTime`, kept for the clients that read it.
        Transition("start", frozenset({INVOKED}), RECORDING, ("started_at", "start_time")),
        Transition("pause", frozenset({RECORDING}), PAUSED, ("paused_at",)),
        Transition("resume", frozenset({PAUSED}), RECORDING, ("resumed_at",)),
        Transition("stop", frozenset({RECORDING, PAUSED}), UPLOADING, ("stopped_at",)),
        Transition("complete_upload", frozenset({UPLOADING}), UPLOADED, ("uploaded_at",)),
        Transition("fail", frozenset(STATUSES) - {ERRORED}, ERRORED, ("errored_at",)),
    )
}


@dataclass(frozen=True, slots=True)
class Moved:
    """A recording after a successful transition: enough to record and publish the change."""

    id: int
    uuid: str
    result_id: int
    # Outbox rows of the storage object the transition replaced (a new upload key).
    deletions: tuple[int, ...] = ()


async def apply_transition(
    connection: AsyncConnection,
    *,
    workspace_id: int,
    recording_uuid: str,
    transition: Transition,
    now: datetime,
    caller: dict[str, Any],
    note: str | None,
    values: dict[str, Any],
    storage: str | None = None,
) -> Moved:
    """Move one recording; NOT_FOUND when the workspace has no such recording, BAD_USER_INPUT
    (with ``currentStatus``) when its state does not allow the transition. ``values`` are the
    transition's own columns (reasons, callers, failure, upload details); None values in
    ``values`` keep what the row has. With ``storage`` (the backend's name), a storage key in
    ``values`` that replaces another enqueues the old one for deletion (``Moved.deletions``)."""
    changes: dict[str, Any] = {
        "status": transition.to,
        **dict.fromkeys(transition.stamps, now),
        "status_changed_at": now,
        "status_caller": caller,
        "status_note": note,
    }
    for column, value in values.items():
        if value is not None:
            changes[column] = value
    condition = [
        _REC.workspace_id == workspace_id,
        _REC.uuid == recording_uuid,
        _REC.status.in_(sorted(transition.allowed_from)),
    ]
    # An upload is complete only with a file to show for it.
    needs_key = transition.to == UPLOADED and values.get("storage_key") is None
    if needs_key:
        condition.append(_REC.storage_key.is_not(None))
    new_key = values.get("storage_key")
    replaced = None
    if storage is not None and new_key is not None:
        # The object the new key supersedes (locked on PostgreSQL until the commit, so a
        # concurrent transition cannot change it in between).
        replaced = (
            await connection.execute(select(_REC.storage_key).where(*condition).with_for_update())
        ).scalar()
    moved = (
        await connection.execute(
            update(_REC)
            .where(*condition)
            .values(changes)
            .returning(_REC.id, _REC.uuid, _REC.result_id)
        )
    ).first()
    if moved is not None:
        deletions: list[int] = []
        if storage is not None and replaced is not None and replaced != new_key:
            # After the UPDATE: this row no longer holds the old key; another may still.
            deletions = await enqueue(connection, keys=[replaced], backend=storage, now=now)
        return Moved(moved.id, moved.uuid, moved.result_id, tuple(deletions))
    found = (
        await connection.execute(
            select(_REC.status, _REC.storage_key).where(
                _REC.workspace_id == workspace_id, _REC.uuid == recording_uuid
            )
        )
    ).first()
    if found is None:
        raise NotFound("No recording with this id.", argument="recordingId")
    if found.status in transition.allowed_from and needs_key:
        raise BadUserInput(
            "The recording has no storage object yet: pass `storageKey`.", argument="storageKey"
        )
    raise BadUserInput(
        f"Cannot {transition.name.replace('_', ' ')} a recording that is {found.status}; "
        f"allowed from {', '.join(sorted(transition.allowed_from))}.",
        currentStatus=found.status,
        transition=transition.name,
    )
