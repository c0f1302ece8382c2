from __future__ import annotations

import strawberry

from app.context import Context
from app.errors import BadUserInput
from app.ids import from_global_id
from resolvers.attached_media import AttachedMedia
from resolvers.node import Node
from resolvers.recording import TestSessionRecording
from resolvers.user_test import UserTest
from resolvers.user_test_result import UserTestResult

_MAX_KEY = 200


def _checked(value: str, argument: str) -> str:
    if not value or len(value) > _MAX_KEY:
        raise BadUserInput(f"`{argument}` must be 1 to {_MAX_KEY} characters.", argument=argument)
    return value


@strawberry.type(description="Read access to the workspace of the API key.")
class Query:
    @strawberry.field(
        description="A user test by its public UUID (`ut_...`); null when it does not exist in "
        "this workspace."
    )
    async def user_test(self, info: strawberry.Info[Context, None], uuid: str) -> UserTest | None:
        record = await info.context.loaders.user_test_by_uuid.load(_checked(uuid, "uuid"))
        return None if record is None else UserTest.from_record(record)

    @strawberry.field(
        description="A result by its public UUID (`ut_response_...`); null when it does not "
        "exist in this workspace."
    )
    async def user_test_result(
        self, info: strawberry.Info[Context, None], result_uuid: str
    ) -> UserTestResult | None:
        loader = info.context.loaders.result_by_uuid
        record = await loader.load(_checked(result_uuid, "resultUuid"))
        return None if record is None else UserTestResult.from_record(record)

    @strawberry.field(
        description="Any object by its global `id` (Relay object identification), for example "
        "to refresh one recording's or media item's signed URL; null when it does not exist."
    )
    async def node(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Node | None:
        type_name, key = from_global_id(id)
        loaders = info.context.loaders
        if type_name == "UserTest":
            test = await loaders.user_test_by_uuid.load(key)
            return None if test is None else UserTest.from_record(test)
        if type_name == "UserTestResult":
            result = await loaders.result_by_uuid.load(key)
            return None if result is None else UserTestResult.from_record(result)
        if type_name == "TestSessionRecording":
            recording = await loaders.recording_by_uuid.load(key)
            return None if recording is None else TestSessionRecording.from_record(recording)
        if type_name == "AttachedMedia":
            media = await loaders.attached_media_by_uuid.load(key)
            return None if media is None else AttachedMedia.from_record(media)
        raise BadUserInput(f"Unknown type in id: {type_name[:50]!r}", argument="id")
