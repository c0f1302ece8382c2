"""The change feed of a user test's results (after Ballpark's ``testResultChanges``): every
change to a result, or to a recording or media item of it, in the order it committed.

A feed cursor is base64url of ``feed:v1:<entry id>``: keyset, so polling from the last cursor
costs the same however long the feed grows, and entries committed later always sort after it.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.auth import RESULTS_READ
from app.context import Context
from app.errors import BadUserInput
from app.ids import to_global_id
from app.store.records import ChangeCountRequest, ChangePageRequest, ChangeRecord
from resolvers.mutations.common import text
from resolvers.pagination import PageInfo
from resolvers.user_test_result import UserTestResult

_PREFIX = "feed:v1:"
_PATTERN = re.compile(r"feed:v1:(0|[1-9][0-9]{0,18})", re.ASCII)
_MAX_ID = 2**63 - 1
_MAX_UUID = 200


def encode_feed_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{entry_id}".encode()).rstrip(b"=").decode()


def decode_feed_cursor(cursor: str, argument: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (UnicodeError, binascii.Error, ValueError):
        raw = ""
    match = _PATTERN.fullmatch(raw)
    if match is None or int(match[1]) > _MAX_ID:
        raise BadUserInput(f"Invalid change-feed cursor: {cursor[:100]!r}", argument=argument)
    return int(match[1])


@strawberry.enum(description="What happened.")
class ChangeKind(Enum):
    CREATED = strawberry.enum_value("CREATED", description="It was created.")
    UPDATED = strawberry.enum_value(
        "UPDATED", description="It changed (for a result: something under it changed)."
    )
    REJECTED = strawberry.enum_value("REJECTED", description="The result was rejected.")
    DELETED = strawberry.enum_value("DELETED", description="It was deleted.")


@strawberry.enum(description="The type of object a change is about.")
class ChangedObjectType(Enum):
    USER_TEST_RESULT = strawberry.enum_value("UserTestResult", description="The result itself.")
    TEST_SESSION_RECORDING = strawberry.enum_value(
        "TestSessionRecording", description="One of the result's recordings."
    )
    ATTACHED_MEDIA = strawberry.enum_value(
        "AttachedMedia", description="A media item of one of the result's recordings."
    )


_OBJECT_TYPES = {
    "UserTestResult": ChangedObjectType.USER_TEST_RESULT,
    "TestSessionRecording": ChangedObjectType.TEST_SESSION_RECORDING,
    "AttachedMedia": ChangedObjectType.ATTACHED_MEDIA,
}


@strawberry.type(description="One entry of a user test's change feed.")
class TestResultChange:
    kind: ChangeKind = strawberry.field(
        description="What happened to the result: CREATED, REJECTED and DELETED are the "
        "result's own; UPDATED means it, or a recording or media item of it, changed."
    )
    result_uuid: str = strawberry.field(description="The result's public UUID.")
    object_type: ChangedObjectType = strawberry.field(description="What changed.")
    object_id: strawberry.ID = strawberry.field(
        description="Global id of what changed (for `node(id:)`; null there once deleted)."
    )
    object_change: ChangeKind = strawberry.field(
        description="What happened to that object (a recording CREATED, a media item UPDATED)."
    )
    changed_at: datetime = strawberry.field(description="When the change committed.")

    @classmethod
    def from_record(cls, record: ChangeRecord) -> TestResultChange:
        object_change = ChangeKind[record.kind]
        is_result = record.object_type == "UserTestResult"
        return cls(
            kind=object_change if is_result else ChangeKind.UPDATED,
            result_uuid=record.result_uuid,
            object_type=_OBJECT_TYPES[record.object_type],
            object_id=strawberry.ID(to_global_id(record.object_type, record.object_uuid)),
            object_change=object_change,
            changed_at=record.created_at,
        )

    @strawberry.field(
        description="The result as it is now (not as it was then); null once it is deleted."
    )
    async def result(self, info: strawberry.Info[Context, None]) -> UserTestResult | None:
        record = await info.context.loaders.result_by_uuid.load(self.result_uuid)
        return None if record is None else UserTestResult.from_record(record)


@strawberry.type(description="A change and its cursor.")
class TestResultChangeEdge:
    cursor: str = strawberry.field(description="Opaque cursor; pass it as `after`.")
    node: TestResultChange = strawberry.field(description="The change.")


@strawberry.type(description="A page of a user test's change feed, oldest first.")
class TestResultChangeConnection:
    edges: list[TestResultChangeEdge] = strawberry.field(description="The changes of this page.")
    page_info: PageInfo = strawberry.field(
        description="Where this page sits. Poll with `after: endCursor` (keep the last "
        "`endCursor` you saw when a page comes back empty)."
    )


@strawberry.type(description="A cheap check for new changes.")
class TestResultChangesCount:
    count: int = strawberry.field(
        description="How many distinct results changed after `sinceCursor` (in all, without it)."
    )
    latest_cursor: str | None = strawberry.field(
        description="Cursor of the newest change: pass it as `after` (or `sinceCursor`) next "
        "time. `sinceCursor` itself when nothing changed since; null when the feed is empty."
    )


def _uuid(value: str) -> str:
    return text(value, "testUuid", max_length=_MAX_UUID)


TestUuid = Annotated[str, strawberry.argument(description="The user test's UUID (`ut_...`).")]


@strawberry.type
class ChangeFeedQuery:
    @strawberry.field(
        description="The change feed of a user test's results: created, updated, rejected and "
        "deleted, oldest first. The first call (no `after`) returns the whole history; then "
        "poll with `after` set to the last `endCursor`. Page size is 1 to 100 (default 20). "
        "Null when the user test does not exist in this workspace."
    )
    async def test_result_changes(
        self,
        info: strawberry.Info[Context, None],
        test_uuid: TestUuid,
        first: int | None = None,
        after: str | None = None,
    ) -> TestResultChangeConnection | None:
        context = info.context
        context.require(RESULTS_READ)
        size = first if first is not None else context.settings.default_page_size
        if not 1 <= size <= context.settings.max_page_size:
            raise BadUserInput(
                f"`first` must be between 1 and {context.settings.max_page_size}, got {size}.",
                argument="first",
            )
        since = decode_feed_cursor(after, "after") if after is not None else None
        test = await context.loaders.user_test_by_uuid.load(_uuid(test_uuid))
        if test is None:
            return None
        records = await context.loaders.change_page.load(
            ChangePageRequest(user_test_id=test.id, limit=size + 1, after=since)
        )
        edges = [
            TestResultChangeEdge(
                cursor=encode_feed_cursor(r.id), node=TestResultChange.from_record(r)
            )
            for r in records[:size]
        ]
        return TestResultChangeConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(records) > size,
                has_previous_page=since is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="How many results changed since a cursor, and the newest cursor: one cheap "
        "query to decide whether `testResultChanges` is worth calling. Null when the user test "
        "does not exist in this workspace."
    )
    async def test_result_changes_count(
        self,
        info: strawberry.Info[Context, None],
        test_uuid: TestUuid,
        since_cursor: Annotated[
            str | None,
            strawberry.argument(description="Count changes after this cursor (all, without)."),
        ] = None,
    ) -> TestResultChangesCount | None:
        context = info.context
        context.require(RESULTS_READ)
        since = (
            decode_feed_cursor(since_cursor, "sinceCursor") if since_cursor is not None else None
        )
        test = await context.loaders.user_test_by_uuid.load(_uuid(test_uuid))
        if test is None:
            return None
        counted = await context.loaders.change_count.load(
            ChangeCountRequest(user_test_id=test.id, since=since)
        )
        latest = counted.latest if counted.latest is not None else since
        return TestResultChangesCount(
            count=counted.count,
            latest_cursor=None if latest is None else encode_feed_cursor(latest),
        )
