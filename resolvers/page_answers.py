"""A results page's answer, kept whole between requests (app.answers, app.execution.Kept).

Kept media answers (resolvers.recording) spare a warm page its media, but each request still
built the page's 100 results and recordings and completed their fields, the same objects into
the same JSON. The connection's answer is kept too, with the form the executor completed of it,
under a key that names everything that form is made of:

- the page asked (``PageRequest``) and the rows read for it, every column of each (the
  participant's too, and the one row past the page that says whether another follows);
- the revisions read with those rows: a result's recordings and media change only with its
  revision (app.store.tree_cache), so a kept page answers for them exactly as the read cache's
  trees do, and never across processes or hosts for a revision it was not made at;
- the operation (by identity, checked through a weak reference: ``app.operation_rules`` parses
  a query text once), its variables (frozen), the field's nodes and its type: the selection the
  page was built for, and everything the executor names its form by, so that a page handed out
  always has the form asked for and need not keep what it was built from (``Kept.release``);
- the signing window, when the selection has URL fields: the URLs in the form are minted in
  it or later, and a request in another window builds its own.

A page is kept only once its form is, which the executor does only when every field under it
is stable, the selection is narrow enough and no field error was handled meanwhile
(app.execution): a selection with ``totalCount``, a result's ``userTest``, ``signedMediaUrl``
or ``transcription`` keeps nothing. Nothing is kept with the read cache off (the revisions are
not known), nor for a selection with URLs when the minter keeps none (FOOTAGE_URL_CACHE_SIZE=0).

A request answered from a kept page passes the checks a built page makes before it mints:
a selection with URL fields needs ``media:sign``, and the page's URLs count against the
request's ceiling (what each was counted as, kept with the page); a request that fails either
builds its own page and answers with the errors at their paths.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import strawberry

from app.auth import MEDIA_SIGN
from app.execution import Kept, frozen
from app.store.records import PageRequest, ResultRecord
from resolvers.recording_selection import AnyInfo, RecordingSelection


@dataclass(frozen=True, slots=True)
class PageAnswer:
    operation: weakref.ref[Any]  # the operation it was built for
    kept: Kept
    urls: frozenset[Hashable]  # what its URLs count as against a request's ceiling
    signs: bool  # its selection has URL fields


def page_answer_key(
    info: AnyInfo,
    request: PageRequest,
    records: Sequence[ResultRecord],
    selections: Mapping[str, RecordingSelection],
) -> tuple[Hashable, ...] | None:
    """What a page's answer is made of (see above), or None when it is not to be kept."""
    context = info.context
    if not context.pages.size or not records:
        return None
    signs = any(selection.signs for selection in selections.values())
    if signs and not context.minter.cache_size:
        return None
    revisions = context.loaders.result_page.revisions(records)
    if revisions is None:
        return None
    raw = _raw(info)
    values: Any = raw.variable_values  # Strawberry's: the coerced dict; graphql-core's: not
    try:
        variables = frozen(getattr(values, "coerced", values))
    except TypeError:
        return None
    return (
        request,
        id(raw.return_type),
        tuple(records),
        revisions,
        id(raw.operation),
        variables,
        tuple(map(id, raw.field_nodes)),
        context.minter.window_start() if signs else None,
    )


def kept_page(info: AnyInfo, key: tuple[Hashable, ...]) -> Kept | None:
    """The page kept under ``key``, when this request may have it: its URLs counted."""
    context = info.context
    found = cast("PageAnswer | None", context.pages.get(key))
    if found is None or found.operation() is not _raw(info).operation:
        return None
    if found.signs and not context.allows(MEDIA_SIGN):
        return None
    if not context.has_room(len(found.urls)):
        return None
    context.count_urls(found.urls)
    return found.kept


def keep_page(
    info: AnyInfo,
    key: tuple[Hashable, ...],
    connection: object,
    urls: list[Hashable],
    selections: Mapping[str, RecordingSelection],
    size: int,
) -> Kept:
    """``connection`` as a Kept answer, kept under ``key`` (weighing ``size``) once the
    executor keeps its form."""
    pages = info.context.pages
    page = PageAnswer(
        weakref.ref(_raw(info).operation),
        Kept(connection, awaits=True),
        frozenset(urls),
        any(selection.signs for selection in selections.values()),
    )

    def keep(kept: Kept) -> None:
        # Handed out only to this key's selection, whose form it holds: the built page (about
        # half its memory) is not needed again.
        kept.release()
        pages.put(key, page, size)

    page.kept.on_kept = keep
    return page.kept


def _raw(info: AnyInfo) -> Any:
    return info._raw_info if isinstance(info, strawberry.Info) else info
