from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.context import Context
from app.execution import stable
from app.ids import to_global_id
from app.store.records import ParticipantRecord, ResultRecord
from resolvers.build import built
from resolvers.enums import RESULT_STATUSES, ResultStatus
from resolvers.node import Node
from resolvers.recording import BuiltRecording, TestSessionRecording

if TYPE_CHECKING:
    from resolvers.user_test import UserTest


@strawberry.type(description="The person who took part in a session.")
class Participant:
    anonymous_id: str = strawberry.field(
        description="Stable pseudonymous identifier of the participant within the workspace."
    )
    email: str | None = strawberry.field(description="Email address, when collected.")
    name: str | None = strawberry.field(description="Display name, when collected.")

    @classmethod
    def from_record(cls, record: ParticipantRecord) -> Participant:
        return cls(anonymous_id=record.anonymous_id, email=record.email, name=record.name)


@strawberry.type(description="The recordings of one session, by kind.")
class UserTestResultRecordings:
    _result_id: strawberry.Private[int]
    # Built ahead by the results connection (TestSessionRecording.build_page), by kind, for
    # the kinds its selection names; any other kind is built when resolved.
    _built: strawberry.Private[dict[str, BuiltRecording] | None] = None

    async def recording(self, info: Any, kind: str) -> TestSessionRecording | None:
        """The recording of ``kind``, built with what its selection needs (``info``: Strawberry's
        or graphql-core's, see DIRECT_RESOLVERS)."""
        records = await info.context.loaders.recordings_by_result_id.load(self._result_id)
        record = next((r for r in records if r.kind == kind), None)
        return None if record is None else await TestSessionRecording.build(info, record)

    @strawberry.field(
        description="The combined screen and camera recording, with audio: the one to play or "
        "download. Null until one exists."
    )
    async def download(self, info: strawberry.Info[Context, None]) -> TestSessionRecording | None:
        return await self.recording(info, "download")

    @strawberry.field(description="The screen capture alone, when recorded separately.")
    async def screen(self, info: strawberry.Info[Context, None]) -> TestSessionRecording | None:
        return await self.recording(info, "screen")

    @strawberry.field(description="The camera capture alone, when recorded separately.")
    async def camera(self, info: strawberry.Info[Context, None]) -> TestSessionRecording | None:
        return await self.recording(info, "camera")

    @strawberry.field(description="The microphone audio alone, when recorded separately.")
    async def audio(self, info: strawberry.Info[Context, None]) -> TestSessionRecording | None:
        return await self.recording(info, "audio")


@strawberry.type(description="One participant's session of a user test, and its recordings.")
class UserTestResult(Node):
    pk: int = strawberry.field(description="Numeric primary key of the result.")
    response_uuid: str = strawberry.field(
        name="responseUUID", description="Public UUID of the result (`ut_response_...`)."
    )
    name: str = strawberry.field(description="Display name of the session.")
    status: ResultStatus = strawberry.field(description="Where the session stands.")
    created_at: datetime = strawberry.field(description="When the session started.")
    participant: Participant | None = strawberry.field(
        description="Who took part; null when the participant was deleted."
    )
    recordings: UserTestResultRecordings = strawberry.field(
        description="The session's recordings, by kind."
    )
    _user_test_id: strawberry.Private[int]

    # A page builds 100 of these and its selection may not name their ids: made when asked, as
    # AttachedMedia's. (Node's `id` is a plain field; Strawberry lets an implementing type
    # resolve it, mypy's dataclass model does not.)
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("UserTestResult", self.response_uuid))

    @classmethod
    def from_record(
        cls,
        record: ResultRecord,
        recordings: dict[str, BuiltRecording] | None = None,
    ) -> UserTestResult:
        """``recordings``: built ahead by kind (see UserTestResultRecordings). A page builds
        100 of these (resolvers.build)."""
        id_, uuid, user_test_id, name, status, created_at, participant = record
        return built(
            cls,
            {
                "pk": id_,
                "response_uuid": uuid,
                "name": name,
                "status": RESULT_STATUSES[status],
                "created_at": created_at,
                "participant": (
                    None
                    if participant is None
                    else built(
                        Participant,
                        {
                            "anonymous_id": participant.anonymous_id,
                            "email": participant.email,
                            "name": participant.name,
                        },
                    )
                ),
                "recordings": built(
                    UserTestResultRecordings, {"_result_id": id_, "_built": recordings}
                ),
                "_user_test_id": user_test_id,
            },
        )

    @strawberry.field(description="The user test this result belongs to.")
    async def user_test(
        self, info: strawberry.Info[Context, None]
    ) -> Annotated[UserTest, strawberry.lazy("resolvers.user_test")]:
        from resolvers.user_test import UserTest

        record = await info.context.loaders.user_test_by_id.load(self._user_test_id)
        assert record is not None, "a result's user test is in the same workspace"
        return UserTest.from_record(record)


def _recording_resolver(kind: str) -> Callable[..., Any]:
    def resolve(source: UserTestResultRecordings, info: Any) -> Any:
        ahead = source._built
        if ahead is not None and kind in ahead:
            return ahead[kind]
        return source.recording(info, kind)

    return resolve


# What graphql-core calls for these fields (installed by resolvers.direct): a page asks for a
# hundred of them, and Strawberry's wrapper adds two coroutines and an Info to each, which a
# page's sixteen concurrent copies keep alive for the collector to walk. Stable
# (app.execution.stable): each answers the result's own recording or id, so a kept page
# (resolvers.page_answers) may hold them; `userTest` is not (a user test changes apart from
# its results).
DIRECT_RESOLVERS = {
    kind: stable(_recording_resolver(kind)) for kind in ("download", "screen", "camera", "audio")
}
RESULT_DIRECT_RESOLVERS: dict[str, Callable[..., Any]] = {
    "id": stable(lambda source, _info: source.id()),
}
