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
  always has the form asked for and need not keep what it was built from (``Kept.release``).

URLs are the one part of a form that moves with the clock. A page with URLs is handed out as
it is only in the signing window they were minted in (and only when the minter keeps URLs at
all, FOOTAGE_URL_CACHE_SIZE). In another window, or with no URL cache, its *template* makes the
form again: each distinct URL of the page is signed anew (one batch, through the minter, as a
built page's are) and put where the former one was, in a copy of the containers above it;
nothing is built or executed. A page has a template only when this request signed every URL
in it (none came from a kept media answer built by a former request). A URL minted apart from
the page's batch while it was completed (a field the page's selection did not foresee) keeps
the page from being kept at all. A template whose URLs fail to sign builds the page, whose URL
fields then answer SIGNING_FAILED at their paths.

A page is kept only once its form is, which the executor does only when every field under it
is stable, the selection is narrow enough and no field error was handled meanwhile
(app.execution): a selection with ``totalCount``, a result's ``userTest``, ``signedMediaUrl``
or ``transcription`` keeps nothing. At most FOOTAGE_PAGE_CACHE_SIZE results' pages are kept
(app.answers: a page weighs its results); nothing with the read cache off (the revisions are not
known).

A request answered from a kept page passes the checks a built page makes before it mints:
a selection with URL fields needs ``media:sign``, and the page's URLs count against the
request's ceiling (what each was counted as, kept with the page); a request that fails either
builds its own page and answers with the errors at their paths.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

import strawberry

from app.auth import MEDIA_SIGN
from app.execution import Kept, frozen
from app.media.signer import SignedUrl as MintedUrl
from app.media.signer import SignRequest
from app.store.records import PageRequest, ResultRecord
from resolvers.recording_selection import AnyInfo, RecordingSelection
from resolvers.signed_url import UrlLog

# How to make a form again with other URLs: an int is the index of the URL a string answers;
# a pair is a container of the form (a dict or a list) and, by key or index, the recipes of
# those of its children that hold URLs. Containers without URLs below them are shared as kept.
Recipe: TypeAlias = "int | tuple[dict[str, Any] | list[Any], tuple[tuple[Any, Recipe], ...]]"


@dataclass(frozen=True, slots=True)
class Template:
    """A kept page's form, to be completed with another signing window's URLs: what to sign
    (each distinct URL of the form once, in order) and where each URL goes."""

    recipe: Recipe | None  # None: no string of the form is a URL
    requests: tuple[SignRequest, ...]


@dataclass(frozen=True, slots=True)
class PageAnswer:
    operation: weakref.ref[Any]  # the operation it was built for
    kept: Kept
    urls: frozenset[Hashable]  # what its URLs count as against a request's ceiling
    signs: bool  # it has URLs (its selection has URL fields, or it counted URLs)
    window: int | None  # the signing window its form's URLs were minted in (None: none to hand out)
    template: Template | None  # its form for another window (None: none kept)
    size: int  # its weight in the cache: the results read for it


def page_answer_key(
    info: AnyInfo, request: PageRequest, records: Sequence[ResultRecord]
) -> tuple[Hashable, ...] | None:
    """What a page's answer is made of (see above), or None when it is not to be kept."""
    context = info.context
    if not context.pages.size or not records:
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
    )


async def kept_page(info: AnyInfo, key: tuple[Hashable, ...]) -> Kept | None:
    """The page kept under ``key``, when this request may have it, its URLs counted: its form
    as kept when minted in this signing window (and the minter keeps URLs), or completed with
    this window's URLs, signed now."""
    context = info.context
    pages = context.pages
    found = cast("PageAnswer | None", pages.get(key))
    if found is None or found.operation() is not _raw(info).operation:
        return None
    if found.signs and not context.allows(MEDIA_SIGN):
        return None
    if not context.has_room(len(found.urls)):
        return None
    minter = context.minter
    window = minter.window_start() if found.signs else None
    if window == found.window:
        context.count_urls(found.urls)
        return found.kept
    template = found.template
    if template is None:
        return None
    context.count_urls(found.urls)
    try:
        minted = (
            await context.loaders.signed_urls.load(template.requests) if template.requests else []
        )
    except Exception:  # logged by the loader: the page is built, and its URL fields say so
        return None
    urls = [url.url for url in minted]
    recipe = template.recipe
    kept = found.kept.refilled(lambda form: form if recipe is None else _fill(recipe, urls))
    if minter.cache_size:
        pages.put(
            key,
            PageAnswer(
                found.operation,
                kept,
                found.urls,
                found.signs,
                window,
                template,
                found.size,
            ),
            found.size,
        )
    return kept


def keep_page(
    info: AnyInfo,
    key: tuple[Hashable, ...],
    connection: object,
    log: UrlLog,
    selections: Mapping[str, RecordingSelection],
    size: int,
    window: int,
) -> Kept:
    """``connection`` as a Kept answer, kept under ``key`` (weighing ``size``) once the
    executor keeps its form, with the template of its URLs. ``window``: the signing window
    read before any of its URLs was minted."""
    context = info.context
    operation = weakref.ref(_raw(info).operation)
    minter = context.minter
    apart = context.urls_minted_apart

    def keep(kept: Kept) -> None:
        if context.urls_minted_apart != apart:
            # A URL minted apart from the page's batch while it was completed may be in its
            # form (a field the page's selection did not foresee): not the page's to keep.
            return
        signs = bool(log.identities) or any(s.signs for s in selections.values())
        template = _template(kept, log) if signs else None
        # Handed out as it is only in the window all its URLs were minted in: the one read
        # before the first, when it is still the minter's now (else its template serves).
        handed_out = (
            window if signs and minter.cache_size and minter.window_start() == window else None
        )
        if signs and template is None and handed_out is None:
            return  # nothing it could be handed out as
        # Handed out only to this key's selection, whose form it holds: the built page (about
        # half its memory) is not needed again.
        kept.release()
        answer = PageAnswer(
            operation, kept, frozenset(log.identities), signs, handed_out, template, size
        )
        context.pages.put(key, answer, size)

    return Kept(connection, awaits=True, on_kept=keep)


def _template(kept: Kept, log: UrlLog) -> Template | None:
    """The template of a page's form, when every URL in it was signed for it (``log``) by this
    request."""
    if log.apart:
        return None
    slots: dict[str, int] = {}
    requests: list[SignRequest] = []
    for entries, key, request in log.signed:
        minted = entries.get(key)
        if type(minted) is not MintedUrl:
            return None
        if minted.url not in slots:
            slots[minted.url] = len(requests)
            requests.append(request)
    (form,) = [known[2] for known in kept.forms.values()]
    return Template(_recipe(form, slots), tuple(requests))


def _recipe(node: Any, slots: dict[str, int]) -> Recipe | None:
    kind = type(node)
    if kind is str:
        return slots.get(node)
    if kind is dict:
        items: Any = node.items()
    elif kind is list:
        items = enumerate(node)
    else:
        return None
    children = tuple(
        (key, recipe) for key, value in items if (recipe := _recipe(value, slots)) is not None
    )
    return (node, children) if children else None


def _fill(recipe: Recipe, urls: list[str]) -> Any:
    if type(recipe) is int:
        return urls[recipe]
    node, children = cast("tuple[Any, tuple[tuple[Any, Recipe], ...]]", recipe)
    copy = node.copy()
    for key, child in children:
        copy[key] = _fill(child, urls)
    return copy


def _raw(info: AnyInfo) -> Any:
    return info._raw_info if isinstance(info, strawberry.Info) else info
