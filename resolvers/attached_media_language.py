from __future__ import annotations

from collections.abc import Iterable, Mapping

import strawberry

from app.store.records import AttachedMediaRecord
from resolvers.attached_media import AttachedMedia
from resolvers.build import built
from resolvers.enums import MediaStatus, MediaType
from resolvers.signed_url import UrlEntries

_TYPE_ORDER = {member.name: index for index, member in enumerate(MediaType)}


@strawberry.type(description="The attached media of a recording in one language.")
class AttachedMediaLanguage:
    language: str = strawberry.field(description="Language code, e.g. `en`.")
    media: list[AttachedMedia] = strawberry.field(
        description="The media items in this language, in `MediaType` order."
    )


def matching(
    records: Iterable[AttachedMediaRecord],
    *,
    languages: list[str] | None = None,
    types: list[MediaType] | None = None,
    statuses: list[MediaStatus] | None = None,
) -> list[AttachedMediaRecord]:
    """The records ``attachedMedia``'s filters keep: those matching all the lists given."""
    type_names = None if types is None else {t.name for t in types}
    status_names = None if statuses is None else {s.name for s in statuses}
    return [
        record
        for record in records
        if (languages is None or record.language in languages)
        and (type_names is None or record.type in type_names)
        and (status_names is None or record.status in status_names)
    ]


def group_by_language(
    records: list[AttachedMediaRecord],
    *,
    languages: list[str] | None = None,
    types: list[MediaType] | None = None,
    statuses: list[MediaStatus] | None = None,
    urls: Mapping[int, UrlEntries] | None = None,
) -> list[AttachedMediaLanguage]:
    """Groups in language order (alphabetical), items in ``MediaType`` declaration order;
    filters keep what matches all of them, and groups left empty are dropped. ``urls``: the
    items' prefetched URLs by media id."""
    if languages is not None or types is not None or statuses is not None:
        records = matching(records, languages=languages, types=types, statuses=statuses)
    groups: dict[str, list[AttachedMediaRecord]] = {}
    for record in records:
        groups.setdefault(record.language, []).append(record)
    found = urls or {}
    item = AttachedMedia.from_record
    answer = []
    for language in sorted(groups):
        group = groups[language]
        if len(group) > 1:
            group.sort(key=_type_rank)
        media = [item(record, found.get(record.id)) for record in group]
        answer.append(built(AttachedMediaLanguage, {"language": language, "media": media}))
    return answer


def _type_rank(record: AttachedMediaRecord) -> int:
    return _TYPE_ORDER.get(record.type, 99)
