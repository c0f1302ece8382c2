"""Media-processing reports: one attached media item, upserted."""

from __future__ import annotations

from dataclasses import asdict

import strawberry

from app.context import Context
from app.errors import BadUserInput
from app.store.media_status import PRODUCED
from app.store.writes import MediaReport
from resolvers.attached_media import AttachedMedia
from resolvers.enums import MediaStatus, MediaStatusReason, MediaType
from resolvers.mutations import checks
from resolvers.mutations.common import (
    REPLAYED_DESCRIPTION,
    SHOWN_DESCRIPTION,
    MutationInput,
    global_id,
    global_id_of,
    optional_text,
    perform,
    shown_attached_media,
    shown_recording,
    write_context,
)
from resolvers.recording import TestSessionRecording


@strawberry.input(
    description="Where processing of one media item (a recording's type in a language) stands."
)
class ReportAttachedMediaInput(MutationInput):
    recording_id: strawberry.ID = strawberry.field(description="The recording's global `id`.")
    language: str = strawberry.field(description="Language of the content, e.g. `en`.")
    type: MediaType = strawberry.field(description="What the item holds.")
    status: MediaStatus = strawberry.field(description="Where processing stands.")
    status_reason: MediaStatusReason | None = strawberry.field(
        default=None, description="Why it is not (fully) available."
    )
    error: str | None = strawberry.field(
        default=None, description="What went wrong (at most 2,000 characters)."
    )
    storage_key: str | None = strawberry.field(
        default=None,
        description="The produced file's object name, under the workspace's prefix "
        "`<workspace slug>/`; required with SUCCESS and WARNING.",
    )
    mime_type: str | None = strawberry.field(
        default=None, description="The produced file's MIME type."
    )


@strawberry.type(description="The media item after the report.")
class ReportAttachedMediaPayload:
    attached_media_uuid: strawberry.Private[str | None]
    recording_uuid: strawberry.Private[str | None]

    @strawberry.field(description="The item's global id; needs no read scope.")
    def attached_media_id(self) -> strawberry.ID | None:
        return global_id_of("AttachedMedia", self.attached_media_uuid)

    @strawberry.field(description="The recording's global id; needs no read scope.")
    def recording_id(self) -> strawberry.ID | None:
        return global_id_of("TestSessionRecording", self.recording_uuid)

    attached_media: AttachedMedia | None = strawberry.field(
        resolver=shown_attached_media,
        description="The item as it is now (null only when replaying for one deleted since)."
        + SHOWN_DESCRIPTION,
    )
    recording: TestSessionRecording | None = strawberry.field(
        resolver=shown_recording,
        description="The recording the item belongs to." + SHOWN_DESCRIPTION,
    )
    applied: bool = strawberry.field(
        description="False when the report came too late to change anything: the item already "
        "had a status that outranks it (see `reportAttachedMedia`)."
    )
    client_mutation_id: str | None = strawberry.field(description="As sent.")
    replayed: bool = strawberry.field(description=REPLAYED_DESCRIPTION)


def _report(input: ReportAttachedMediaInput, *, workspace_slug: str) -> MediaReport:
    key = checks.optional_storage_key(input.storage_key, workspace_slug=workspace_slug)
    if input.status.name in PRODUCED and key is None:
        raise BadUserInput(
            f"A {input.status.name} report needs the produced file's `storageKey`.",
            argument="storageKey",
        )
    return MediaReport(
        language=checks.language(input.language),
        type=input.type.name,
        status=input.status.name,
        status_reason=None if input.status_reason is None else input.status_reason.name,
        error=optional_text(input.error, "error", max_length=2_000, multiline=True),
        storage_key=key,
        mime_type=None if input.mime_type is None else checks.mime_type(input.mime_type),
    )


@strawberry.type
class MediaMutations:
    @strawberry.mutation(
        description="Report media processing for one item, created or updated in one upsert: "
        "concurrent reports never collide. Statuses rank PENDING < NOT_REQUIRED < NOT_ALLOWED "
        "< NOT_SUPPORTED < FAILED < WARNING < SUCCESS; a report replaces the item only if its "
        "status ranks at least as high (the later of equals wins), so reports converge in any "
        "order and a late PENDING never reopens a finished item (`applied: false`). "
        "`finalisedAt` is set when the item reaches a new final status. A replaced file is "
        "removed from storage. NOT_FOUND when the recording does not exist in this workspace. "
        "Scope `write`."
    )
    async def report_attached_media(
        self, info: strawberry.Info[Context, None], input: ReportAttachedMediaInput
    ) -> ReportAttachedMediaPayload:
        context = write_context(info)
        recording_uuid = global_id(
            input.recording_id, "recordingId", type_name="TestSessionRecording"
        )
        report = _report(input, workspace_slug=context.viewer.workspace_slug)
        client_id = input.client_id()
        outcome = await perform(
            context,
            mutation="reportAttachedMedia",
            key=input.idempotency_key,
            values={"recordingUuid": recording_uuid, **asdict(report)},
            work=lambda writer: writer.report_media(recording_uuid=recording_uuid, report=report),
        )
        return ReportAttachedMediaPayload(
            attached_media_uuid=outcome.uuid,
            recording_uuid=recording_uuid,
            applied=outcome.applied,
            client_mutation_id=client_id,
            replayed=outcome.replayed,
        )
