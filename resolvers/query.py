from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from app.auth import RESULTS_READ
from app.context import Context
from app.errors import BadUserInput
from app.ids import from_global_id, is_clean_text
from loaders.container import Loaders
from resolvers.attached_media import AttachedMedia
from resolvers.change_feed import ChangeFeedQuery
from resolvers.node import Node
from resolvers.recording import TestSessionRecording
from resolvers.user_test import UserTest
from resolvers.user_test_result import UserTestResult

_MAX_KEY = 200


def _checked(value: str, argument: str) -> str:
    if not value or len(value) > _MAX_KEY:
        raise BadUserInput(f"`{argument}` must be 1 to {_MAX_KEY} characters.", argument=argument)
    if not is_clean_text(value):
        raise BadUserInput(f"`{argument}` must not contain control characters.", argument=argument)
    return value


@strawberry.type(description="Read access to the workspace of the API key.")
class Query(ChangeFeedQuery):
    @strawberry.field(
        description="A user test by its public UUID (`ut_...`); null when it does not exist in "
        "this workspace."
    )
    async def user_test(self, info: strawberry.Info[Context, None], uuid: str) -> UserTest | None:
        info.context.require(RESULTS_READ)
        record = await info.context.loaders.user_test_by_uuid.load(_checked(uuid, "uuid"))
        return None if record is None else UserTest.from_record(record)

    @strawberry.field(
        description="A result by its public UUID (`ut_response_...`); null when it does not "
        "exist in this workspace."
    )
    async def user_test_result(
        self, info: strawberry.Info[Context, None], result_uuid: str
    ) -> UserTestResult | None:
        info.context.require(RESULTS_READ)
        loader = info.context.loaders.result_by_uuid
        record = await loader.load(_checked(result_uuid, "resultUuid"))
        return None if record is None else UserTestResult.from_record(record)

    @strawberry.field(
        description="Any object by its global `id` (Relay object identification), for example "
        "to refresh one recording's or media item's signed URL; null when it does not exist."
    )
    async def node(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Node | None:
        info.context.require(RESULTS_READ)
        type_name, key = from_global_id(id)
        kind = _NODE_TYPES.get(type_name)
        if kind is None:
            raise BadUserInput(f"Unknown type in id: {type_name[:50]!r}", argument="id")
        loader, build = kind
        record = await loader(info.context.loaders).load(key)
        return None if record is None else build(record)


# Global id type name -> (the loader by public uuid, the GraphQL object built from its record).
_NODE_TYPES: dict[str, tuple[Callable[[Loaders], Any], Callable[[Any], Node]]] = {
    "UserTest": (lambda loaders: loaders.user_test_by_uuid, UserTest.from_record),
    "UserTestResult": (lambda loaders: loaders.result_by_uuid, UserTestResult.from_record),
    "TestSessionRecording": (
        lambda loaders: loaders.recording_by_uuid,
        TestSessionRecording.from_record,
    ),
    "AttachedMedia": (lambda loaders: loaders.attached_media_by_uuid, AttachedMedia.from_record),
}
