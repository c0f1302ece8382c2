"""Live updates over a websocket (graphql-transport-ws on ``/graphql``).

Events carry identifiers; the objects in them are read when the event is delivered, through the
subscriber's own loaders (fresh for every event) and workspace, with the same scopes as a query:
``results:read`` to subscribe, ``media:sign`` for URL fields, minted only when selected.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Annotated, TypeVar, cast

import strawberry

from app.auth import RESULTS_READ
from app.context import Context
from app.errors import BadUserInput, LimitExceeded, NotFound
from app.events import TOPIC_RESULT, TOPIC_TEST, Change, ChangeStream, SubscriberLagged
from app.ids import is_clean_text, to_global_id
from app.live import follow
from resolvers.attached_media import AttachedMedia
from resolvers.change_feed import ChangedObjectType, ChangeKind, encode_feed_cursor
from resolvers.recording import TestSessionRecording
from resolvers.user_test_result import UserTestResult

log = logging.getLogger(__name__)

_MAX_UUID = 200
# Enum values are the GraphQL type names that ``Change.object_type`` carries.
_OBJECT_TYPES = {cast("str", member.value): member for member in ChangedObjectType}
_KINDS = {member.name: member for member in ChangeKind}
_RESULT = ChangedObjectType.USER_TEST_RESULT

Event = TypeVar("Event")


@strawberry.type(
    description="A result of the user test was created, updated, rejected or deleted. "
    "`result` is read when the event is delivered, so it shows the result as it is then."
)
class ResultChange:
    kind: ChangeKind = strawberry.field(description="What happened to the result.")
    cursor: str | None = strawberry.field(
        description="The change's cursor in `testResultChanges`: after a reconnect, pass the "
        "last one seen as `after` there to catch up on what was missed. Null when the change "
        "was not recorded in the feed."
    )
    result_uuid: str = strawberry.field(
        description="Public UUID of the result (`ut_response_...`), also once it is deleted."
    )

    @classmethod
    def from_change(cls, change: Change) -> ResultChange | None:
        kind = _KINDS.get(change.kind)
        if kind is None or _OBJECT_TYPES.get(change.object_type) is not _RESULT:
            return None
        return cls(kind=kind, cursor=_cursor(change), result_uuid=change.object_uuid)

    @strawberry.field(description="The result as it is now; null once it is deleted.")
    async def result(self, info: strawberry.Info[Context, None]) -> UserTestResult | None:
        if self.kind is ChangeKind.DELETED:
            return None
        record = await info.context.loaders.result_by_uuid.load(self.result_uuid)
        return None if record is None else UserTestResult.from_record(record)


@strawberry.type(
    description="A change under one result: one of its recordings or attached media items "
    "(subtitles, transcript, ...) was created, updated or deleted, or the result itself "
    "changed. The objects are read when the event is delivered."
)
class AttachedMediaChange:
    kind: ChangeKind = strawberry.field(description="What happened to the object.")
    object_type: ChangedObjectType = strawberry.field(description="What changed.")
    object_id: strawberry.ID = strawberry.field(
        description="Global id of what changed (for `node(id:)`; null there once deleted)."
    )
    cursor: str | None = strawberry.field(
        description="The change's cursor in `testResultChanges` (to catch up after a "
        "reconnect); null when the change was not recorded in the feed."
    )
    result_uuid: str = strawberry.field(description="Public UUID of the result.")
    _object_uuid: strawberry.Private[str]

    @classmethod
    def from_change(cls, change: Change) -> AttachedMediaChange | None:
        kind = _KINDS.get(change.kind)
        object_type = _OBJECT_TYPES.get(change.object_type)
        if kind is None or object_type is None:
            return None
        return cls(
            kind=kind,
            object_type=object_type,
            object_id=strawberry.ID(to_global_id(change.object_type, change.object_uuid)),
            cursor=_cursor(change),
            result_uuid=change.key,
            _object_uuid=change.object_uuid,
        )

    def _is(self, object_type: ChangedObjectType) -> bool:
        """The change is about an object of ``object_type`` that still exists."""
        return self.object_type is object_type and self.kind is not ChangeKind.DELETED

    @property
    def ends_stream(self) -> bool:
        """The result itself was deleted: nothing more can change under it."""
        return (
            self.object_type is ChangedObjectType.USER_TEST_RESULT
            and self.kind is ChangeKind.DELETED
        )

    @strawberry.field(
        description="The media item that changed, as it is now; null when the change is about "
        "something else or the item was deleted."
    )
    async def media(self, info: strawberry.Info[Context, None]) -> AttachedMedia | None:
        if not self._is(ChangedObjectType.ATTACHED_MEDIA):
            return None
        record = await info.context.loaders.attached_media_by_uuid.load(self._object_uuid)
        return None if record is None else AttachedMedia.from_record(record)

    @strawberry.field(
        description="The recording that changed, or the recording of the media item that "
        "changed, as it is now; null for a change of the result itself or once deleted."
    )
    async def recording(self, info: strawberry.Info[Context, None]) -> TestSessionRecording | None:
        loaders = info.context.loaders
        if self._is(ChangedObjectType.TEST_SESSION_RECORDING):
            found = await loaders.recording_by_uuid.load(self._object_uuid)
            return None if found is None else TestSessionRecording.from_record(found)
        if not self._is(ChangedObjectType.ATTACHED_MEDIA):
            return None
        media = await loaders.attached_media_by_uuid.load(self._object_uuid)
        result = await loaders.result_by_uuid.load(self.result_uuid)
        if media is None or result is None:
            return None
        recordings = await loaders.recordings_by_result_id.load(result.id)
        record = next((r for r in recordings if r.id == media.recording_id), None)
        return None if record is None else TestSessionRecording.from_record(record)

    @strawberry.field(description="The result, as it is now; null once it is deleted.")
    async def result(self, info: strawberry.Info[Context, None]) -> UserTestResult | None:
        if self.ends_stream:
            return None
        record = await info.context.loaders.result_by_uuid.load(self.result_uuid)
        return None if record is None else UserTestResult.from_record(record)


def _cursor(change: Change) -> str | None:
    return None if change.feed_id is None else encode_feed_cursor(change.feed_id)


def _checked(value: str, argument: str) -> str:
    if not 0 < len(value) <= _MAX_UUID or not is_clean_text(value):
        raise BadUserInput(f"`{argument}` must be 1 to {_MAX_UUID} characters.", argument=argument)
    return value


async def _events(
    changes: ChangeStream,
    build: Callable[[Change], Event | None],
    last: Callable[[Event], bool] = lambda _event: False,
) -> AsyncGenerator[Event, None]:
    """The events built from ``changes``; the stream completes after one that is ``last``, and
    ends with SUBSCRIBER_LAGGED when the subscriber fell too far behind."""
    last_feed_id: int | None = None
    async with aclosing(changes):
        try:
            async for change in changes:
                event = build(change)
                if event is None:
                    log.warning("skipped a change subscribers cannot show: %r", change)
                    continue
                yield event
                if change.feed_id is not None:
                    last_feed_id = change.feed_id
                if last(event):
                    return
        except SubscriberLagged as lagged:
            cursor = None if last_feed_id is None else encode_feed_cursor(last_feed_id)
            raise LimitExceeded(
                f"This subscription fell more than {lagged.limit} events behind and was ended. "
                "Catch up with `testResultChanges(after: lastCursor)`, then subscribe again.",
                code="SUBSCRIBER_LAGGED",
                limit=lagged.limit,
                lastCursor=cursor,
            ) from lagged


TestUuid = Annotated[str, strawberry.argument(description="The user test's UUID (`ut_...`).")]
ResultUuid = Annotated[
    str, strawberry.argument(description="The result's UUID (`ut_response_...`).")
]


@strawberry.type(
    description="Live updates, over a websocket at `/graphql` (graphql-transport-ws). Send the "
    'API key in `connection_init`\'s payload: `{"Authorization": "Bearer <key>"}`. Events '
    "are best-effort: after a reconnect, catch up with `testResultChanges(after:)` from the "
    "last `cursor` seen."
)
class Subscription:
    @strawberry.subscription(
        description="Results of a user test as they are created, updated, rejected or deleted. "
        "NOT_FOUND when the user test does not exist in this workspace."
    )
    async def result_changed(
        self, info: strawberry.Info[Context, None], test_uuid: TestUuid
    ) -> AsyncGenerator[ResultChange, None]:
        context = info.context
        context.require(RESULTS_READ)
        test = await context.loaders.user_test_by_uuid.load(_checked(test_uuid, "testUuid"))
        if test is None:
            raise NotFound("No user test with this `testUuid`.", argument="testUuid")
        changes = follow(context, topic=TOPIC_TEST, key=test.uuid)
        return _events(changes, ResultChange.from_change)

    @strawberry.subscription(
        description="A result's recordings and attached media as they are registered, move "
        "through their lifecycle, get processed or are deleted (and changes of the result "
        "itself). Completes after the result's own DELETED event. NOT_FOUND when the result "
        "does not exist in this workspace."
    )
    async def attached_media_changed(
        self, info: strawberry.Info[Context, None], result_uuid: ResultUuid
    ) -> AsyncGenerator[AttachedMediaChange, None]:
        context = info.context
        context.require(RESULTS_READ)
        result = await context.loaders.result_by_uuid.load(_checked(result_uuid, "resultUuid"))
        if result is None:
            raise NotFound("No result with this `resultUuid`.", argument="resultUuid")
        changes = follow(context, topic=TOPIC_RESULT, key=result.uuid)
        # Deleted before the subscription listened, its DELETED event (which completes the
        # stream) went by unseen: look again, now that any later one will arrive.
        context.forget_loaded()
        try:
            still_there = await context.loaders.result_by_uuid.load(result.uuid)
        except BaseException:
            await changes.aclose()
            raise
        if still_there is None:
            await changes.aclose()
            raise NotFound("No result with this `resultUuid`.", argument="resultUuid")
        return _events(changes, AttachedMediaChange.from_change, lambda e: e.ends_stream)
