"""Creating user tests and results, rejecting and deleting results."""

from __future__ import annotations

import re
import uuid

import strawberry

from app.context import Context
from app.errors import BadUserInput
from app.ids import to_global_id
from app.store.writes import NewParticipant
from resolvers.enums import ResultStatus
from resolvers.mutations.common import (
    REPLAYED_DESCRIPTION,
    SHOWN_DESCRIPTION,
    MutationInput,
    optional_text,
    perform,
    shown_result,
    shown_user_test,
    text,
    write_context,
)
from resolvers.user_test import UserTest
from resolvers.user_test_result import UserTestResult

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@strawberry.input(description="A new user test.")
class CreateUserTestInput(MutationInput):
    name: str = strawberry.field(description="Its name, 1 to 500 characters.")


@strawberry.type(description="The user test created.")
class CreateUserTestPayload:
    user_test_uuid: str | None = strawberry.field(
        description="The new user test's UUID (`ut_...`); needs no read scope."
    )
    user_test: UserTest | None = strawberry.field(
        resolver=shown_user_test,
        description="The new user test (null only when replaying for one deleted since)."
        + SHOWN_DESCRIPTION,
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


@strawberry.input(description="The person taking part in a session.")
class ParticipantInput:
    anonymous_id: str | None = strawberry.field(
        default=None,
        description="Their stable pseudonymous id in the workspace (1 to 80 characters); "
        "generated when left out. A known id reuses that participant, and the `email` and "
        "`name` given replace theirs (those left out are kept).",
    )
    email: str | None = strawberry.field(default=None, description="Email address.")
    name: str | None = strawberry.field(default=None, description="Display name.")


@strawberry.input(description="A new result (a participant's session) of a user test.")
class CreateUserTestResultInput(MutationInput):
    test_uuid: str = strawberry.field(description="The user test's UUID (`ut_...`).")
    name: str = strawberry.field(description="Display name of the session, 1 to 500 characters.")
    participant: ParticipantInput = strawberry.field(description="Who takes part.")
    status: ResultStatus = strawberry.field(
        default=ResultStatus.IN_PROGRESS,
        description="Where the session stands; not REJECTED (see `rejectUserTestResult`).",
    )


@strawberry.type(description="The result created.")
class CreateUserTestResultPayload:
    result_uuid: str | None = strawberry.field(
        description="The new result's UUID (`ut_response_...`); needs no read scope."
    )
    user_test_result: UserTestResult | None = strawberry.field(
        resolver=shown_result,
        description="The new result (null only when replaying for one deleted since)."
        + SHOWN_DESCRIPTION,
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


@strawberry.input(description="A result, by its UUID.")
class UserTestResultInput(MutationInput):
    result_uuid: str = strawberry.field(description="The result's UUID (`ut_response_...`).")


@strawberry.type(description="The result rejected.")
class RejectUserTestResultPayload:
    result_uuid: strawberry.Private[str | None]
    user_test_result: UserTestResult | None = strawberry.field(
        resolver=shown_result,
        description="The result, now REJECTED (null only when replaying for one deleted since)."
        + SHOWN_DESCRIPTION,
    )
    applied: bool = strawberry.field(
        description="False when the result was already REJECTED (nothing changed)."
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


@strawberry.type(description="The result deleted.")
class DeleteUserTestResultPayload:
    deleted_result_uuid: str = strawberry.field(description="The deleted result's UUID.")
    deleted_id: strawberry.ID = strawberry.field(description="The deleted result's global id.")
    user_test_uuid: strawberry.Private[str | None]
    user_test: UserTest | None = strawberry.field(
        resolver=shown_user_test, description="The user test it belonged to." + SHOWN_DESCRIPTION
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


def _participant(value: ParticipantInput) -> NewParticipant:
    anonymous_id = optional_text(value.anonymous_id, "participant.anonymousId", max_length=80)
    email = optional_text(value.email, "participant.email", max_length=320)
    if email is not None and not _EMAIL.fullmatch(email):
        raise BadUserInput("`participant.email` is not an email address.", argument="email")
    return NewParticipant(
        anonymous_id=anonymous_id or f"anon-{uuid.uuid4()}",
        email=email,
        name=optional_text(value.name, "participant.name", max_length=200),
    )


@strawberry.type
class ResultMutations:
    @strawberry.mutation(description="Create a user test. Scope `write`.")
    async def create_user_test(
        self, info: strawberry.Info[Context, None], input: CreateUserTestInput
    ) -> CreateUserTestPayload:
        context = write_context(info)
        name = text(input.name, "name", max_length=500)
        client_id = input.client_id()
        outcome = await perform(
            context,
            mutation="createUserTest",
            key=input.idempotency_key,
            values={"name": name},
            work=lambda writer: writer.create_user_test(name=name),
        )
        return CreateUserTestPayload(
            user_test_uuid=outcome.uuid,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )

    @strawberry.mutation(
        description="Create a result of a user test, with its participant (CREATED in the "
        "change feed). NOT_FOUND when the user test does not exist in this workspace. Scope "
        "`write`."
    )
    async def create_user_test_result(
        self, info: strawberry.Info[Context, None], input: CreateUserTestResultInput
    ) -> CreateUserTestResultPayload:
        context = write_context(info)
        test_uuid = text(input.test_uuid, "testUuid", max_length=80)
        name = text(input.name, "name", max_length=500)
        if input.status is ResultStatus.REJECTED:
            raise BadUserInput(
                "A result cannot be created REJECTED; use `rejectUserTestResult`.",
                argument="status",
            )
        participant = _participant(input.participant)
        client_id = input.client_id()
        values = {
            "testUuid": test_uuid,
            "name": name,
            "status": input.status.name,
            # A generated anonymous id differs on every retry: fingerprint what was sent.
            "participant": [input.participant.anonymous_id, participant.email, participant.name],
        }
        outcome = await perform(
            context,
            mutation="createUserTestResult",
            key=input.idempotency_key,
            values=values,
            work=lambda writer: writer.create_result(
                test_uuid=test_uuid,
                name=name,
                status=input.status.name,
                participant=participant,
            ),
        )
        return CreateUserTestResultPayload(
            result_uuid=outcome.uuid,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )

    @strawberry.mutation(
        description="Reject a result: it stays, with status REJECTED (REJECTED in the change "
        "feed). Rejecting a rejected result changes nothing (`applied: false`). NOT_FOUND when "
        "the result does not exist in this workspace. Scope `write`."
    )
    async def reject_user_test_result(
        self, info: strawberry.Info[Context, None], input: UserTestResultInput
    ) -> RejectUserTestResultPayload:
        context = write_context(info)
        result_uuid = text(input.result_uuid, "resultUuid", max_length=80)
        client_id = input.client_id()
        outcome = await perform(
            context,
            mutation="rejectUserTestResult",
            key=input.idempotency_key,
            values={"resultUuid": result_uuid},
            work=lambda writer: writer.reject_result(result_uuid=result_uuid),
        )
        return RejectUserTestResultPayload(
            result_uuid=outcome.uuid,
            applied=outcome.applied,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )

    @strawberry.mutation(
        description="Delete a result with its recordings, media and transcripts, in one "
        "transaction (DELETED in the change feed). Their stored files are removed after the "
        "commit, retried in the background if storage fails; a file another row still uses is "
        "kept. Afterwards the result's ids answer as unknown ones. NOT_FOUND when the result "
        "does not exist in this workspace. Scope `write`."
    )
    async def delete_user_test_result(
        self, info: strawberry.Info[Context, None], input: UserTestResultInput
    ) -> DeleteUserTestResultPayload:
        context = write_context(info)
        result_uuid = text(input.result_uuid, "resultUuid", max_length=80)
        client_id = input.client_id()
        outcome = await perform(
            context,
            mutation="deleteUserTestResult",
            key=input.idempotency_key,
            values={"resultUuid": result_uuid},
            work=lambda writer: writer.delete_result(result_uuid=result_uuid),
        )
        return DeleteUserTestResultPayload(
            deleted_result_uuid=result_uuid,
            deleted_id=strawberry.ID(to_global_id("UserTestResult", result_uuid)),
            user_test_uuid=outcome.parent_uuid,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )
