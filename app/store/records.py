"""Plain, immutable rows the store hands upward. Building these from Core rows costs a fraction
of ORM identity-map loading, and nothing above the store can trigger SQL through them.

The records a page reads by the hundred (results, their participants, recordings, media) are
named tuples: made in one call, where a frozen dataclass sets each field through
``object.__setattr__`` (550 media rows cost 10M instructions as dataclasses, BENCHMARKS.md).
Code above the store reads their fields by name; that they are also tuples (equal to an equal
tuple, iterable) is used only by the store, which makes some of them from a row in one step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    workspace_id: int
    workspace_slug: str
    prefix: str
    expires_at: datetime | None
    revoked_at: datetime | None
    scopes: str
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserTestRecord:
    id: int
    uuid: str
    name: str
    created_at: datetime


class ParticipantRecord(NamedTuple):
    anonymous_id: str
    email: str | None
    name: str | None


class ResultRecord(NamedTuple):
    id: int
    uuid: str
    user_test_id: int
    name: str
    status: str
    created_at: datetime
    participant: ParticipantRecord | None


class RecordingRecord(NamedTuple):
    id: int
    uuid: str
    result_id: int
    kind: str
    storage_key: str | None
    mime_type: str
    is_audio: bool
    filesize: int | None
    duration: float | None
    language: str | None
    failed: bool
    failed_type: str | None
    missing_data_warning: bool
    start_time: datetime | None
    created_at: datetime
    user_test_name: str
    result_uuid: str
    participant_label: str | None
    # The lifecycle (app.store.lifecycle); callers are {type, userId, name} objects.
    status: str = "UPLOADED"
    started_at: datetime | None = None
    paused_at: datetime | None = None
    resumed_at: datetime | None = None
    stopped_at: datetime | None = None
    uploaded_at: datetime | None = None
    errored_at: datetime | None = None
    start_reason: str | None = None
    start_caller: dict[str, Any] | None = None
    stop_reason: str | None = None
    stop_caller: dict[str, Any] | None = None
    error: str | None = None
    status_changed_at: datetime | None = None
    status_caller: dict[str, Any] | None = None
    status_note: str | None = None


class AttachedMediaRecord(NamedTuple):
    id: int
    uuid: str
    recording_id: int
    language: str
    type: str
    status: str
    status_reason: str | None
    storage_key: str | None
    mime_type: str | None
    error: str | None
    finalised_at: datetime | None
    user_test_name: str
    participant_label: str | None


@dataclass(frozen=True, slots=True)
class TranscriptionRecord:
    recording_id: int
    language: str
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One keyset page of a user test's results, in ascending ``id`` order.

    ``after``/``before`` are exclusive ``id`` bounds; ``limit`` rows are asked for (callers ask one
    more than they show, to learn whether another page exists). ``backward`` walks from the end.
    """

    user_test_id: int
    limit: int
    after: int | None = None
    before: int | None = None
    backward: bool = False


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One change-feed entry; ``id`` is its cursor."""

    id: int
    user_test_id: int
    result_uuid: str
    object_type: str
    object_uuid: str
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ChangePageRequest:
    """``limit`` feed entries of one user test with ``id`` greater than ``after``, oldest
    first (callers ask one more than they show)."""

    user_test_id: int
    limit: int
    after: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeCountRequest:
    """How many distinct results changed after ``since`` in one user test."""

    user_test_id: int
    since: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeCount:
    count: int
    # The newest entry's id after ``since``; None when there is none.
    latest: int | None


@dataclass(frozen=True, slots=True)
class WrittenChange:
    """A change-feed entry a write made, with what publishing it needs."""

    change: ChangeRecord
    user_test_uuid: str


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What one mutation's transaction did.

    ``uuid`` names the object the payload shows and ``parent_uuid`` its parent (for deletes,
    the deleted object's and the surviving parent's); ``applied`` is False when a report
    changed nothing; ``replayed`` when an idempotency key answered instead of a write. The
    changes and enqueued storage deletions are the caller's to act on after the commit."""

    uuid: str | None
    parent_uuid: str | None = None
    applied: bool = True
    replayed: bool = False
    changes: tuple[WrittenChange, ...] = ()
    deletions: tuple[int, ...] = ()
