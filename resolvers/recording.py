from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from app.context import Context
from app.ids import to_global_id
from app.media.signer import SignedUrl as MintedUrl
from app.store.records import AttachedMediaRecord, RecordingRecord
from resolvers.attached_media import AttachedMedia
from resolvers.enums import MediaStatus, MediaType, RecordingFailureType
from resolvers.node import Node
from resolvers.scalars import SafeInt
from resolvers.signed_url import (
    Disposition,
    ExpiresIn,
    Filename,
    MediaDisposition,
    SignedUrl,
    as_signed_url,
    mint,
)

_TYPE_ORDER = {member.name: index for index, member in enumerate(MediaType)}


@strawberry.type(description="The attached media of a recording in one language.")
class AttachedMediaLanguage:
    language: str = strawberry.field(description="Language code, e.g. `en`.")
    media: list[AttachedMedia] = strawberry.field(
        description="The media items in this language, in `MediaType` order."
    )


def group_by_language(
    records: list[AttachedMediaRecord],
    *,
    languages: list[str] | None = None,
    types: list[MediaType] | None = None,
    statuses: list[MediaStatus] | None = None,
) -> list[AttachedMediaLanguage]:
    """Groups in language order (alphabetical), items in ``MediaType`` declaration order;
    filters keep what matches all of them, and groups left empty are dropped."""
    type_names = None if types is None else {t.name for t in types}
    status_names = None if statuses is None else {s.name for s in statuses}
    groups: dict[str, list[AttachedMediaRecord]] = {}
    for record in records:
        if (
            (languages is None or record.language in languages)
            and (type_names is None or record.type in type_names)
            and (status_names is None or record.status in status_names)
        ):
            groups.setdefault(record.language, []).append(record)
    return [
        AttachedMediaLanguage(
            language=language,
            media=[
                AttachedMedia.from_record(r)
                for r in sorted(groups[language], key=lambda r: _TYPE_ORDER.get(r.type, 99))
            ],
        )
        for language in sorted(groups)
    ]


_DEPRECATED = "Use `attachedMedia` with type {} instead."


@strawberry.type(
    description="A recording of a participant's session: an mp4 (video and audio) or, when "
    "`isAudio`, an ogg (audio only)."
)
class TestSessionRecording(Node):
    is_audio: bool = strawberry.field(
        description="True for an audio-only (ogg) recording, false for video with audio (mp4)."
    )
    mime_type: str = strawberry.field(description="MIME type of the recording file.")
    filesize: SafeInt | None = strawberry.field(description="Size of the file in bytes.")
    duration: float | None = strawberry.field(description="Length in seconds.")
    language: str | None = strawberry.field(
        description="Main spoken language, when known; the deprecated URL fields use it."
    )
    failed_status: bool = strawberry.field(
        description="True when the recording failed and may be missing or unplayable."
    )
    failed_type: RecordingFailureType | None = strawberry.field(
        description="Why the recording failed, when it did."
    )
    missing_data_warning: bool = strawberry.field(
        description="True when parts of the session were not captured (gaps, lost segments)."
    )
    usertest_name: str = strawberry.field(description="Name of the user test it belongs to.")
    start_time: datetime | None = strawberry.field(description="When recording started.")
    created_at: datetime = strawberry.field(description="When the recording was registered.")
    _id: strawberry.Private[int]
    _storage_key: strawberry.Private[str | None]
    _names: strawberry.Private[tuple[str | None, ...]]

    @classmethod
    def from_record(cls, record: RecordingRecord) -> TestSessionRecording:
        return cls(
            id=strawberry.ID(to_global_id("TestSessionRecording", record.uuid)),
            is_audio=record.is_audio,
            mime_type=record.mime_type,
            filesize=SafeInt(record.filesize) if record.filesize is not None else None,
            duration=record.duration,
            language=record.language,
            failed_status=record.failed,
            failed_type=RecordingFailureType[record.failed_type] if record.failed_type else None,
            missing_data_warning=record.missing_data_warning,
            usertest_name=record.user_test_name,
            start_time=record.start_time,
            created_at=record.created_at,
            _id=record.id,
            _storage_key=record.storage_key,
            _names=(record.user_test_name, record.participant_label, "recording"),
        )

    async def _mint(
        self,
        info: strawberry.Info[Context, None],
        expires_in: int | None,
        disposition: MediaDisposition | None,
        filename: str | None,
    ) -> MintedUrl | None:
        return await mint(
            info.context,
            self._storage_key,
            expires_in=expires_in,
            disposition=disposition,
            filename=filename,
            default_filename=self._names,
        )

    @strawberry.field(
        description="Expiring signed URL of the recording file (mp4 or ogg, see `isAudio`); "
        "null when no file was stored."
    )
    async def media_url(
        self,
        info: strawberry.Info[Context, None],
        expires_in: ExpiresIn = None,
        disposition: Disposition = None,
        filename: Filename = None,
    ) -> str | None:
        minted = await self._mint(info, expires_in, disposition, filename)
        return None if minted is None else minted.url

    @strawberry.field(
        description="The same URL as `mediaUrl`, with its expiry; null when no file was stored."
    )
    async def signed_media_url(
        self,
        info: strawberry.Info[Context, None],
        expires_in: ExpiresIn = None,
        disposition: Disposition = None,
        filename: Filename = None,
    ) -> SignedUrl | None:
        return as_signed_url(await self._mint(info, expires_in, disposition, filename))

    @strawberry.field(
        description="The structured transcript (JSON with word-level timestamps), read only "
        "when selected; null when there is none."
    )
    async def transcription(self, info: strawberry.Info[Context, None]) -> JSON | None:
        record = await info.context.loaders.transcription_by_recording_id.load(self._id)
        return None if record is None else record.document

    @strawberry.field(
        description="Processed media (subtitles, transcript, extracted audio, waveform, "
        "summary), grouped by language."
    )
    async def attached_media(
        self,
        info: strawberry.Info[Context, None],
        languages: Annotated[
            list[str] | None, strawberry.argument(description="Only these languages.")
        ] = None,
        types: Annotated[
            list[MediaType] | None, strawberry.argument(description="Only these types.")
        ] = None,
        statuses: Annotated[
            list[MediaStatus] | None, strawberry.argument(description="Only these statuses.")
        ] = None,
    ) -> list[AttachedMediaLanguage]:
        records = await info.context.loaders.attached_media_by_recording_id.load(self._id)
        return group_by_language(records, languages=languages, types=types, statuses=statuses)

    async def _legacy_url(self, context: Context, media_type: MediaType) -> str | None:
        records = await context.loaders.attached_media_by_recording_id.load(self._id)
        candidates = [r for r in records if r.type == media_type.name]
        # The recording's main language first, then any other, so the field keeps answering.
        candidates.sort(key=lambda r: (r.language != self.language, r.language))
        for record in candidates:
            if record.status == MediaStatus.SUCCESS.name:
                minted = await mint(
                    context,
                    record.storage_key,
                    expires_in=None,
                    disposition=None,
                    filename=None,
                    default_filename=(),
                )
                return None if minted is None else minted.url
        return None

    @strawberry.field(
        description="Signed URL of the JSON transcript.",
        deprecation_reason=_DEPRECATED.format("TRANSCRIPTION"),
    )
    async def transcript(self, info: strawberry.Info[Context, None]) -> str | None:
        return await self._legacy_url(info.context, MediaType.TRANSCRIPTION)

    @strawberry.field(
        description="Signed URL of the WebVTT subtitles.",
        deprecation_reason=_DEPRECATED.format("SUBTITLES"),
    )
    async def subtitles(self, info: strawberry.Info[Context, None]) -> str | None:
        return await self._legacy_url(info.context, MediaType.SUBTITLES)

    @strawberry.field(
        description="Signed URL of the JSON waveform.",
        deprecation_reason=_DEPRECATED.format("WAVEFORM"),
    )
    async def waveform(self, info: strawberry.Info[Context, None]) -> str | None:
        return await self._legacy_url(info.context, MediaType.WAVEFORM)
