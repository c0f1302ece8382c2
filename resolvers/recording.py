from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeAlias, cast

import strawberry
from strawberry.scalars import JSON

from app.auth import MEDIA_SIGN
from app.context import Context
from app.execution import Kept, stable
from app.ids import to_global_id
from app.media.signer import SignedUrl as MintedUrl
from app.store.records import AttachedMediaRecord, RecordingRecord, TranscriptionRecord
from loaders.base import settled
from resolvers.attached_media_language import AttachedMediaLanguage, group_by_language, matching
from resolvers.build import built
from resolvers.enums import (
    RECORDING_FAILURE_TYPES,
    MediaStatus,
    MediaType,
    RecordingFailureType,
    members,
)
from resolvers.node import Node
from resolvers.recording_lifecycle import (
    RecordingCaller,
    RecordingKind,
    RecordingStatus,
    StartReason,
    StopReason,
    start_reason,
    stop_reason,
)
from resolvers.recording_selection import (
    LEGACY_URL_FIELDS,
    AnyInfo,
    MediaFilter,
    MediaUrls,
    RecordingSelection,
    recording_selection,
)
from resolvers.scalars import SafeInt
from resolvers.signed_url import (
    DirectResolver,
    Disposition,
    ExpiresIn,
    Filename,
    MaybeLater,
    SignedUrl,
    UrlEntries,
    UrlKey,
    UrlLog,
    UrlTarget,
    direct_signed_url_resolver,
    direct_url_resolver,
    minted,
    prefetch,
    settle,
    signed_url_of,
    url_identity,
    url_key,
    url_of,
)

_DEPRECATED = "Use `attachedMedia` with type {} instead."
_new_tuple: Any = tuple.__new__  # a named tuple's own __new__ is a Python function
_KINDS = members(RecordingKind)
_SUCCESS = MediaStatus.SUCCESS.name  # an enum's ``.name`` is a Python property
_STATUSES = members(RecordingStatus)
# A recording built ahead for a recording field: the recording, None (no such recording), or
# the error the field answers with (a load it needed failed).
BuiltRecording: TypeAlias = "TestSessionRecording | Exception | None"


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
    kind: RecordingKind = strawberry.field(description="What the recording holds.")
    status: RecordingStatus = strawberry.field(description="Where it is in its lifecycle.")
    started_at: datetime | None = strawberry.field(
        description="When it (last) went from INVOKED to RECORDING."
    )
    paused_at: datetime | None = strawberry.field(description="When it was last paused.")
    resumed_at: datetime | None = strawberry.field(description="When it was last resumed.")
    stopped_at: datetime | None = strawberry.field(
        description="When it was stopped (went to UPLOADING)."
    )
    uploaded_at: datetime | None = strawberry.field(description="When its upload completed.")
    errored_at: datetime | None = strawberry.field(description="When it went to ERRORED.")
    start_reason: StartReason | None = strawberry.field(
        description="Why and by whom it started; null until it has."
    )
    stop_reason: StopReason | None = strawberry.field(
        description="Why and by whom it stopped; null until it has."
    )
    error: str | None = strawberry.field(description="What went wrong, when it ERRORED.")
    status_changed_at: datetime | None = strawberry.field(
        description="When the last lifecycle transition (or the registration) happened."
    )
    status_changed_by: RecordingCaller | None = strawberry.field(
        description="Who made the last lifecycle transition."
    )
    status_note: str | None = strawberry.field(
        description="The note given with the last transition (why it paused, failed, ...)."
    )
    _id: strawberry.Private[int]
    _uuid: strawberry.Private[str]
    _storage_key: strawberry.Private[str | None]
    _names: strawberry.Private[tuple[str | None, ...]]
    # Fetched by ``build`` for what the selection asks (None: fetch when asked): the attached
    # media, the recording's URLs, and the media's URLs by media id (resolvers.signed_url).
    _media: strawberry.Private[list[AttachedMediaRecord] | None] = None
    _urls: strawberry.Private[UrlEntries | None] = None
    _media_urls: strawberry.Private[dict[int, UrlEntries] | None] = None
    _document: strawberry.Private[dict[str, Any] | None] = None  # the transcript, when fetched
    _document_fetched: strawberry.Private[bool] = False
    # The attachedMedia answer (its filter and groups) a former request built for this
    # selection (app.answers, ``_url_targets``), or the key and URL identities to keep the one
    # this request builds under.
    # Kept (app.execution.Kept) when it is the process's: the executor keeps its completed form.
    _answer: strawberry.Private[tuple[MediaFilter, Kept | list[AttachedMediaLanguage]] | None] = (
        None
    )
    _answer_key: strawberry.Private[tuple[tuple[Hashable, ...], list[Hashable]] | None] = None

    # Made when asked, as AttachedMedia's: a page builds 100 recordings.
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("TestSessionRecording", self._uuid))

    @classmethod
    def from_record(cls, record: RecordingRecord) -> TestSessionRecording:
        return built(
            cls,
            {
                "is_audio": record.is_audio,
                "mime_type": record.mime_type,
                "filesize": SafeInt(record.filesize) if record.filesize is not None else None,
                "duration": record.duration,
                "language": record.language,
                "failed_status": record.failed,
                "failed_type": (
                    RECORDING_FAILURE_TYPES[record.failed_type] if record.failed_type else None
                ),
                "missing_data_warning": record.missing_data_warning,
                "usertest_name": record.user_test_name,
                "start_time": record.start_time,
                "created_at": record.created_at,
                "kind": _KINDS[record.kind.upper()],
                "status": _STATUSES[record.status],
                "started_at": record.started_at,
                "paused_at": record.paused_at,
                "resumed_at": record.resumed_at,
                "stopped_at": record.stopped_at,
                "uploaded_at": record.uploaded_at,
                "errored_at": record.errored_at,
                "start_reason": start_reason(record.start_reason, record.start_caller),
                "stop_reason": stop_reason(record.stop_reason, record.stop_caller),
                "error": record.error,
                "status_changed_at": record.status_changed_at,
                "status_changed_by": RecordingCaller.from_json(record.status_caller),
                "status_note": record.status_note,
                "_id": record.id,
                "_uuid": record.uuid,
                "_storage_key": record.storage_key,
                "_names": (record.user_test_name, record.participant_label, "recording"),
                "_media": None,
                "_urls": None,
                "_media_urls": None,
                "_document": None,
                "_document_fetched": False,
                "_answer": None,
                "_answer_key": None,
            },
        )

    @classmethod
    async def build(cls, info: AnyInfo, record: RecordingRecord) -> TestSessionRecording:
        """``from_record``, plus what the field's selection needs of the recording's media,
        transcript and URLs (resolvers.recording_selection): fetched here, so that every
        recording of a list asks in the same tick and their URLs are minted in one batch.

        Every field of a recording that reads through a loader must be fetched here: the pause
        below spreads sibling recordings over several loop iterations, and a load made after
        it would be split into as many batches (tests/test_query_counts.py would say so)."""
        recording = cls.from_record(record)
        wanted = recording_selection(info)
        if wanted.anything:
            (failed,) = await cls.prefetch(info.context, [(recording, wanted)])
            if failed is not None:
                raise failed
        # graphql-core completes this recording's fields as soon as this returns, and every
        # sibling returns in the same tick: spread them (app.pacing).
        await info.context.pacer.pause()
        return recording

    @classmethod
    async def build_page(
        cls,
        context: Context,
        result_ids: Sequence[int],
        selections: Mapping[str, RecordingSelection],
        log: UrlLog | None = None,
    ) -> dict[int, dict[str, BuiltRecording]]:
        """The recordings of a page of results, by result id and kind, for the kinds selected
        (``selections``, resolvers.recording_selection.page_recordings_selection), each with
        what its selection needs: one batch of recordings, one of media (and of transcripts),
        one of URLs, whatever the page size. The recording fields then answer synchronously,
        so graphql-core completes the page without a coroutine per result.

        A load that fails is the answer of the recording fields it was for (the error, which
        graphql-core raises at each field's own path, as when each field built its recording),
        so the rest of the page stands. ``log``: as ``prefetch``'s."""
        answers = await context.loaders.recordings_by_result_id.load_all(result_ids)
        failed = next((answer for answer in answers if isinstance(answer, Exception)), None)
        if failed is not None:
            return {result_id: dict.fromkeys(selections, failed) for result_id in result_ids}
        lists = cast("list[list[RecordingRecord]]", answers)
        by_result: dict[int, dict[str, BuiltRecording]] = {}
        chosen: list[tuple[TestSessionRecording, RecordingSelection]] = []
        places: list[tuple[int, str]] = []
        for result_id, records in zip(result_ids, lists, strict=True):
            by_kind: dict[str, BuiltRecording] = {}
            for kind, wanted in selections.items():
                record = next((r for r in records if r.kind == kind), None)
                recording = None if record is None else cls.from_record(record)
                by_kind[kind] = recording
                if recording is not None and wanted.anything:
                    chosen.append((recording, wanted))
                    places.append((result_id, kind))
            by_result[result_id] = by_kind
        if chosen:
            failures = await cls.prefetch(context, chosen, log)
            for (result_id, kind), failed in zip(places, failures, strict=True):
                if failed is not None:
                    by_result[result_id][kind] = failed
        return by_result

    @staticmethod
    async def prefetch(
        context: Context,
        chosen: Sequence[tuple[TestSessionRecording, RecordingSelection]],
        log: UrlLog | None = None,
    ) -> list[Exception | None]:
        """Fetch what each recording's selection needs: its media and transcript (one fetch
        each for all of ``chosen``; for one recording, loads its siblings' join) and then all
        their URLs in one batch. Per recording, the error of a load it needed, or None.
        ``log``: where to note the URLs (resolvers.signed_url.UrlLog)."""
        loaders = context.loaders
        media_asked = [recording._id for recording, wanted in chosen if wanted.needs_media]
        documents_asked = [recording._id for recording, wanted in chosen if wanted.transcription]
        if len(chosen) > 1:
            # A page's recordings, all here: one fetch each, without a load per recording.
            media_answers = await loaders.attached_media_by_recording_id.load_all(media_asked)
            documents_answers = await loaders.transcription_by_recording_id.load_all(
                documents_asked
            )
        else:
            # One recording (``build``): its siblings ask in the same tick, and the loaders
            # batch them. Every load awaited, failed or not (a failed one left alone would be
            # logged as never retrieved); a cancellation propagates.
            answers = await settled(
                [loaders.attached_media_by_recording_id.load(key) for key in media_asked]
                + [loaders.transcription_by_recording_id.load(key) for key in documents_asked]
            )
            media_answers = answers[: len(media_asked)]
            documents_answers = answers[len(media_asked) :]
        media_iter, documents_iter = iter(media_answers), iter(documents_answers)
        media_found = [next(media_iter) if wanted.needs_media else None for _, wanted in chosen]
        documents_found = [
            next(documents_iter) if wanted.transcription else None for _, wanted in chosen
        ]
        failures: list[Exception | None] = []
        targets: list[UrlTarget] = []
        asked_in = context.minter.window_start()
        for (recording, wanted), records, document in zip(
            chosen, media_found, documents_found, strict=True
        ):
            failed = next((o for o in (records, document) if isinstance(o, Exception)), None)
            failures.append(failed)
            if failed is not None:
                continue
            if wanted.needs_media:
                recording._media = cast("list[AttachedMediaRecord]", records)
            if wanted.transcription:
                transcript = cast("TranscriptionRecord | None", document)
                recording._document = None if transcript is None else transcript.document
                recording._document_fetched = True
            targets += recording._url_targets(context, wanted, asked_in, log)
        # A page's recordings share their selection: each asked once whether it signs.
        selections = {id(wanted): wanted for _, wanted in chosen}.values()
        await prefetch(
            context,
            targets,
            always=any(wanted.signs for wanted in selections),
            log=log,
        )
        window = context.minter.window_start()
        for recording, wanted in chosen:
            if recording._answer_key is not None:
                recording._keep_answer(context, wanted.media[0], window)
        return failures

    def _url_targets(
        self,
        context: Context,
        wanted: RecordingSelection,
        window: int,
        log: UrlLog | None = None,
    ) -> list[UrlTarget]:
        """The URLs ``wanted`` asks of this recording and its media (fetched before), in the
        signing window ``window`` (the minter's now).

        With one ``attachedMedia`` selection, its answer may have been built by a former
        request (app.answers): then its media's URLs need nothing more than counting against
        this request's ceiling, when it has room for them and its key may sign them; otherwise
        they are minted (and checked, and counted) one by one, and the answer built is kept.
        ``log``: where to note the URLs counted here (``prefetch``'s)."""
        self._urls = {}
        targets = [UrlTarget(self._urls, self._storage_key, self._names, wanted.urls)]
        for name in wanted.legacy:
            chosen = self._legacy_media(LEGACY_URL_FIELDS[name])
            storage_key = None if chosen is None else chosen.storage_key
            targets.append(UrlTarget(self._urls, storage_key, (), [url_key(name)]))
        identities: list[Hashable] | None = None
        # An answer holds its URLs: one with URLs is kept only where the minter keeps URLs too
        # (a URL cache of 0 means every request signs its own, FOOTAGE_URL_CACHE_SIZE).
        if (
            len(wanted.media) == 1
            and self._media
            and context.answers.size
            and (context.minter.cache_size or not wanted.media[0].urls)
        ):
            (selection,) = wanted.media
            key = _media_answer_key(self._media, selection, window)
            answer = cast("tuple[tuple[Hashable, ...], Kept] | None", context.answers.get(key))
            if answer is None:
                identities = []
                self._answer_key = (key, identities)
            elif (not selection.urls or context.allows(MEDIA_SIGN)) and context.has_room(
                len(answer[0])
            ):
                context.count_urls(answer[0])
                if log is not None:
                    log.identities += answer[0]
                    log.apart = log.apart or bool(selection.urls)  # minted before
                self._answer = (selection.filter, answer[1])
                return targets
        if wanted.media and self._media:
            media_urls: dict[int, UrlEntries] = {}
            self._media_urls = media_urls
            for selection in wanted.media:
                if not selection.urls:
                    continue  # its items have no URL to mint
                found = selection.filter
                kept = (
                    self._media
                    if found.languages is None and found.types is None and found.statuses is None
                    else matching(
                        self._media,
                        languages=found.languages,
                        types=found.types,
                        statuses=found.statuses,
                    )
                )
                keys = selection.urls
                for media in kept:
                    # Unpacked, as AttachedMedia.from_record does (a page has ~550 items).
                    (
                        media_id, _, _, language, media_type, status, _, storage_key, _, _, _,
                        user_test_name, participant_label,
                    ) = media  # fmt: skip
                    if status != _SUCCESS:
                        continue
                    entries = media_urls.get(media_id)
                    if entries is None:
                        entries = media_urls[media_id] = {}
                    # default_filename(media)
                    names = (user_test_name, participant_label, media_type, language)
                    targets.append(_new_tuple(UrlTarget, (entries, storage_key, names, keys)))
                    if identities is not None and storage_key is not None:
                        identities += [url_identity(storage_key, k, names) for k in keys]
        return targets

    def _keep_answer(self, context: Context, selection: MediaUrls, window: int) -> None:
        """Build this request's ``attachedMedia`` answer now, and keep it for later requests
        (``_url_targets``) when all its URLs were minted, in the window its key names."""
        assert self._answer_key is not None
        (key, identities), self._answer_key = self._answer_key, None
        found = selection.filter
        try:
            groups = group_by_language(
                self._media or [],
                languages=found.languages,
                types=found.types,
                statuses=found.statuses,
                urls=self._media_urls,
            )
        except Exception:
            # The field builds it again and answers with the error at its own path (a value the
            # schema does not know, say), as it always did.
            return
        self._answer = (found, groups)
        if key[-1] != window:  # minted in the next window: not what the key names
            return
        for entries in (self._media_urls or {}).values():
            for minted_url in entries.values():
                if minted_url is not None and type(minted_url) is not MintedUrl:
                    return  # an error: this request's own
        kept = Kept(groups)
        self._answer = (found, kept)
        context.answers.put(key, (tuple(identities), kept))

    def minted(self, context: Context, key: UrlKey) -> MaybeLater[MintedUrl | None]:
        return minted(context, self._urls, key, self._storage_key, self._names)

    # The declared URL resolvers give the schema its arguments; graphql-core calls
    # DIRECT_RESOLVERS (resolvers.direct), which answer the same.

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
        key = ("mediaUrl", expires_in, disposition, filename)
        return await settle(url_of(self.minted(info.context, key)))

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
        key = ("signedMediaUrl", expires_in, disposition, filename)
        return await settle(signed_url_of(self.minted(info.context, key)))

    @strawberry.field(
        description="The structured transcript (JSON with word-level timestamps), read only "
        "when selected; null when there is none."
    )
    async def transcription(self, info: strawberry.Info[Context, None]) -> JSON | None:
        document = await settle(self.transcription_of(info.context))
        return None if document is None else JSON(document)

    def transcription_of(self, context: Context) -> MaybeLater[dict[str, Any] | None]:
        if self._document_fetched:
            return self._document
        return self._transcription_later(context)

    async def _transcription_later(self, context: Context) -> dict[str, Any] | None:
        record = await context.loaders.transcription_by_recording_id.load(self._id)
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
        answer: Kept | list[AttachedMediaLanguage] = await settle(
            self.attached_media_of(info.context, languages, types, statuses)
        )
        if isinstance(answer, Kept):
            return cast("list[AttachedMediaLanguage]", answer.value)
        return answer

    def attached_media_of(
        self,
        context: Context,
        languages: list[str] | None,
        types: list[MediaType] | None,
        statuses: list[MediaStatus] | None,
    ) -> MaybeLater[Kept | list[AttachedMediaLanguage]]:
        """The groups; a kept answer's as it was kept (``Kept``), for the executor to keep
        its completed form."""
        answer = self._answer
        if answer is not None:
            found = answer[0]
            if found.languages == languages and found.types == types and found.statuses == statuses:
                return answer[1]
        if self._media is None:
            return self._attached_media_later(context, languages, types, statuses)
        return group_by_language(
            self._media, languages=languages, types=types, statuses=statuses, urls=self._media_urls
        )

    async def _attached_media_later(
        self,
        context: Context,
        languages: list[str] | None,
        types: list[MediaType] | None,
        statuses: list[MediaStatus] | None,
    ) -> list[AttachedMediaLanguage]:
        records = await context.loaders.attached_media_by_recording_id.load(self._id)
        return group_by_language(records, languages=languages, types=types, statuses=statuses)

    def _legacy_media(
        self, media_type: MediaType, records: list[AttachedMediaRecord] | None = None
    ) -> AttachedMediaRecord | None:
        """The item a deprecated URL field answers with: of ``media_type`` and SUCCESS, in the
        recording's main language first, then any other, so the field keeps answering."""
        candidates = [r for r in records or self._media or () if r.type == media_type.name]
        candidates.sort(key=lambda r: (r.language != self.language, r.language))
        return next((r for r in candidates if r.status == MediaStatus.SUCCESS.name), None)

    def legacy_url(self, context: Context, field: str) -> MaybeLater[str | None]:
        key = url_key(field)
        if self._urls is not None and key in self._urls:
            return url_of(minted(context, self._urls, key, None, ()))
        return self._legacy_url_later(context, field)

    async def _legacy_url_later(self, context: Context, field: str) -> str | None:
        records = await context.loaders.attached_media_by_recording_id.load(self._id)
        chosen = self._legacy_media(LEGACY_URL_FIELDS[field], records)
        if chosen is None:
            return None
        return await settle(url_of(minted(context, None, url_key(field), chosen.storage_key, ())))

    @strawberry.field(
        description="Signed URL of the JSON transcript.",
        deprecation_reason=_DEPRECATED.format("TRANSCRIPTION"),
    )
    async def transcript(self, info: strawberry.Info[Context, None]) -> str | None:
        return await settle(self.legacy_url(info.context, "transcript"))

    @strawberry.field(
        description="Signed URL of the WebVTT subtitles.",
        deprecation_reason=_DEPRECATED.format("SUBTITLES"),
    )
    async def subtitles(self, info: strawberry.Info[Context, None]) -> str | None:
        return await settle(self.legacy_url(info.context, "subtitles"))

    @strawberry.field(
        description="Signed URL of the JSON waveform.",
        deprecation_reason=_DEPRECATED.format("WAVEFORM"),
    )
    async def waveform(self, info: strawberry.Info[Context, None]) -> str | None:
        return await settle(self.legacy_url(info.context, "waveform"))


def _media_answer_key(
    records: list[AttachedMediaRecord], selection: MediaUrls, window: int
) -> tuple[Hashable, ...]:
    """What an ``attachedMedia`` answer is made of: the media themselves (so a change to any of
    them, or the read cache's holding another revision, makes another key), the field's
    filters, the URL fields selected, and the signing window its URLs were minted in."""
    found = selection.filter
    return (
        tuple(records),
        None if found.languages is None else tuple(found.languages),
        None if found.types is None else tuple(found.types),
        None if found.statuses is None else tuple(found.statuses),
        selection.urls,
        window,
    )


def _legacy_resolver(field: str) -> DirectResolver:
    def resolve(source: TestSessionRecording, info: Any) -> MaybeLater[str | None]:
        return source.legacy_url(info.context, field)

    return resolve


def _attached_media(
    source: TestSessionRecording,
    info: Any,
    languages: list[str] | None = None,
    types: list[MediaType] | None = None,
    statuses: list[MediaStatus] | None = None,
) -> MaybeLater[Kept | list[AttachedMediaLanguage]]:
    return source.attached_media_of(info.context, languages, types, statuses)


# What graphql-core calls for these fields (installed by resolvers.direct): the same answers as
# the declared resolvers, without Strawberry's per-call argument conversion, and without a
# coroutine when ``build`` fetched what they need. `id`, `mediaUrl` and `attachedMedia` are
# stable (app.execution.stable): what they answer is the recording's own (its prefetched URLs
# and media), so a kept page (resolvers.page_answers) may hold them; `signedMediaUrl` counts
# down its expiry, and the transcript and the deprecated URL fields are read apart from it.
DIRECT_RESOLVERS: dict[str, DirectResolver] = {
    "id": stable(lambda source, _info: source.id()),
    "mediaUrl": stable(direct_url_resolver("mediaUrl")),
    "signedMediaUrl": direct_signed_url_resolver("signedMediaUrl"),
    "attachedMedia": stable(_attached_media),
    "transcription": lambda source, info: source.transcription_of(info.context),
    **{field: _legacy_resolver(field) for field in LEGACY_URL_FIELDS},
}
