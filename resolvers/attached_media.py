from __future__ import annotations

from datetime import datetime

import strawberry

from app.context import Context
from app.execution import stable
from app.ids import to_global_id
from app.media.signer import SignedUrl as MintedUrl
from app.store.records import AttachedMediaRecord
from resolvers.build import built
from resolvers.enums import (
    MEDIA_STATUS_REASONS,
    MEDIA_STATUSES,
    MEDIA_TYPES,
    MediaStatus,
    MediaStatusReason,
    MediaType,
)
from resolvers.node import Node
from resolvers.signed_url import (
    DirectResolver,
    Disposition,
    ExpiresIn,
    Filename,
    MaybeLater,
    SignedUrl,
    UrlEntries,
    UrlKey,
    direct_signed_url_resolver,
    direct_url_resolver,
    minted,
    settle,
    signed_url_of,
    url_of,
)

_SUCCESS = MediaStatus.SUCCESS.name  # an enum's ``.name`` is a Python property


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
    _uuid: strawberry.Private[str]
    _storage_key: strawberry.Private[str | None]
    _names: strawberry.Private[tuple[str | None, ...]]
    # URLs minted by the recording's resolver (resolvers.signed_url); None: mint when asked.
    # Only a SUCCESS item has them (``from_record``): the URL fields answer from them as they
    # are (``direct_url_resolver``).
    _urls: strawberry.Private[UrlEntries | None] = None

    # A page builds hundreds of these and rarely selects their ids: made when asked. (Node's
    # `id` is a plain field; Strawberry lets an implementing type resolve it, mypy's dataclass
    # model does not.)
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("AttachedMedia", self._uuid))

    @classmethod
    def from_record(
        cls, record: AttachedMediaRecord, urls: UrlEntries | None = None
    ) -> AttachedMedia:
        # Unpacked (a named tuple's fields are read through a descriptor each): a page builds
        # about 550 items. tests/test_build.py checks what each field gets.
        (
            _, uuid, _, language, media_type, status, status_reason, storage_key, mime_type,
            error, finalised_at, user_test_name, participant_label,
        ) = record  # fmt: skip
        return built(
            cls,
            {
                "type": MEDIA_TYPES[media_type],
                "status": MEDIA_STATUSES[status],
                "status_reason": MEDIA_STATUS_REASONS[status_reason] if status_reason else None,
                "language": language,
                "mime_type": mime_type,
                "error": error,
                "finalised_at": finalised_at,
                "_uuid": uuid,
                "_storage_key": storage_key,
                # default_filename(record)
                "_names": (user_test_name, participant_label, media_type, language),
                "_urls": urls if status == _SUCCESS else None,
            },
        )

    def minted(self, context: Context, key: UrlKey) -> MaybeLater[MintedUrl | None]:
        """The URL for ``key``: null unless the item is SUCCESS."""
        if self.status is not MediaStatus.SUCCESS:
            return None
        return minted(context, self._urls, key, self._storage_key, self._names)

    # The declared resolvers give the schema its arguments; graphql-core calls DIRECT_RESOLVERS.

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
        key = ("url", expires_in, disposition, filename)
        return await settle(url_of(self.minted(info.context, key)))

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
        key = ("signedUrl", expires_in, disposition, filename)
        return await settle(signed_url_of(self.minted(info.context, key)))


def default_filename(record: AttachedMediaRecord) -> tuple[str | None, ...]:
    """What a download's default name is made of (app.media.options.default_filename)."""
    return (record.user_test_name, record.participant_label, record.type, record.language)


# What graphql-core calls for the URL fields (installed by resolvers.direct).
# `id` and `url` are stable (app.execution.stable): a synchronous answer is the item's own (a
# prefetched URL), so a kept answer's completed form may hold them; `signedUrl` is not (its
# `expiresIn` counts down).
DIRECT_RESOLVERS: dict[str, DirectResolver] = {
    "id": stable(lambda source, _info: source.id()),
    "url": stable(direct_url_resolver("url")),
    "signedUrl": direct_signed_url_resolver("signedUrl"),
}
