from __future__ import annotations

from datetime import datetime

import strawberry

from app.context import Context
from app.ids import to_global_id
from app.media.signer import SignedUrl as MintedUrl
from app.store.records import AttachedMediaRecord
from resolvers.enums import MediaStatus, MediaStatusReason, MediaType
from resolvers.node import Node
from resolvers.signed_url import (
    Disposition,
    ExpiresIn,
    Filename,
    MediaDisposition,
    SignedUrl,
    as_signed_url,
    mint,
)


@strawberry.type(
    description="A processed file derived from a recording: subtitles, transcript, extracted "
    "audio, waveform or summary. Check `status` before using `url`."
)
class AttachedMedia(Node):
    type: MediaType = strawberry.field(description="What the file holds.")
    status: MediaStatus = strawberry.field(description="Processing status.")
    status_reason: MediaStatusReason | None = strawberry.field(
        description="Why the item is not (fully) available, when known."
    )
    language: str = strawberry.field(description="Language code of the content, e.g. `en`.")
    mime_type: str | None = strawberry.field(description="MIME type of the file, once produced.")
    error: str | None = strawberry.field(description="What went wrong, when processing failed.")
    finalised_at: datetime | None = strawberry.field(
        description="When processing reached a final status."
    )
    _storage_key: strawberry.Private[str | None]
    _names: strawberry.Private[tuple[str | None, ...]]

    @classmethod
    def from_record(cls, record: AttachedMediaRecord) -> AttachedMedia:
        return cls(
            id=strawberry.ID(to_global_id("AttachedMedia", record.uuid)),
            type=MediaType[record.type],
            status=MediaStatus[record.status],
            status_reason=MediaStatusReason[record.status_reason] if record.status_reason else None,
            language=record.language,
            mime_type=record.mime_type,
            error=record.error,
            finalised_at=record.finalised_at,
            _storage_key=record.storage_key,
            _names=(record.user_test_name, record.participant_label, record.type, record.language),
        )

    async def _mint(
        self,
        info: strawberry.Info[Context, None],
        expires_in: int | None,
        disposition: MediaDisposition | None,
        filename: str | None,
    ) -> MintedUrl | None:
        if self.status is not MediaStatus.SUCCESS:
            return None
        return await mint(
            info.context,
            self._storage_key,
            expires_in=expires_in,
            disposition=disposition,
            filename=filename,
            default_filename=self._names,
        )

    @strawberry.field(
        description="Expiring signed URL of the file; null unless `status` is SUCCESS. Do not "
        "store it: refetch the field (or the item by `node(id:)`) when it expires."
    )
    async def url(
        self,
        info: strawberry.Info[Context, None],
        expires_in: ExpiresIn = None,
        disposition: Disposition = None,
        filename: Filename = None,
    ) -> str | None:
        minted = await self._mint(info, expires_in, disposition, filename)
        return None if minted is None else minted.url

    @strawberry.field(
        description="The same URL as `url`, with its expiry; null unless `status` is SUCCESS."
    )
    async def signed_url(
        self,
        info: strawberry.Info[Context, None],
        expires_in: ExpiresIn = None,
        disposition: Disposition = None,
        filename: Filename = None,
    ) -> SignedUrl | None:
        return as_signed_url(await self._mint(info, expires_in, disposition, filename))
