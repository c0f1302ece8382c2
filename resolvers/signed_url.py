"""Signed URL fields: minted lazily (only when selected), with per-field options (lifetime,
inline or attachment, filename) signed into the URL.

Two ways to mint, one answer:
- Prefetched (``prefetch``): the parent of a list (the recording's resolver) sees which URL
  fields its children select, with which arguments, and mints all of them in one batch. The
  URL fields then answer from the parent's entries without awaiting anything.
- Lazily (``minted`` finds no entry): one URL through the same batching loader, for objects
  built without a prefetch (``node(id:)``) or any selection the prefetch did not foresee.

An entry is keyed by ``UrlKey``, the field's GraphQL name and its arguments as graphql-core
coerced them, so aliases with different arguments get different URLs and aliases with the same
ones share one. Per entry, in this order: no stored object -> null; the key lacks
``media:sign`` -> FORBIDDEN; past the per-request ceiling -> URL_LIMIT_EXCEEDED; bad arguments
-> BAD_USER_INPUT; the signer failed -> SIGNING_FAILED. Each of those nulls its field only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, NamedTuple, Protocol, TypeAlias, TypeVar

import strawberry

from app.auth import MEDIA_SIGN
from app.context import Context
from app.errors import FootageError, SigningFailed
from app.media.options import sign_request
from app.media.signer import SignedUrl as MintedUrl
from app.media.signer import SignRequest


@strawberry.enum(description="How a browser should treat the file behind a signed URL.")
class MediaDisposition(Enum):
    INLINE = strawberry.enum_value("inline", description="Show or play it in the page.")
    ATTACHMENT = strawberry.enum_value("attachment", description="Download it as a file.")


@strawberry.type(description="A signed URL and when it stops working.")
class SignedUrl:
    url: str = strawberry.field(description="The URL; send no credentials with it.")
    expires_at: datetime = strawberry.field(
        description="When the URL stops working. URLs are stable within a signing window, so "
        "this can be later than asked for, never earlier."
    )
    expires_in: int = strawberry.field(
        description="Seconds from this response until `expiresAt`: refetch before it runs out."
    )


ExpiresIn = Annotated[
    int | None,
    strawberry.argument(
        description="Seconds the URL must stay valid at least (default 900, at most 7 days)."
    ),
]
Disposition = Annotated[
    MediaDisposition | None,
    strawberry.argument(
        description="Serve inline or as a download. Default: the file's own (inline), or "
        "ATTACHMENT when `filename` is given."
    ),
]
Filename = Annotated[
    str | None,
    strawberry.argument(
        description="Name for the downloaded file (unsafe characters are replaced). Default: "
        "`<test>-<participant>-<type>[-<language>].<ext>`."
    ),
]

# (GraphQL field name, expiresIn, disposition, filename)
UrlKey: TypeAlias = tuple[str, int | None, MediaDisposition | None, str | None]
# A minted URL, null (no stored object), or the coded error the field answers with.
Entry: TypeAlias = MintedUrl | FootageError | None
UrlEntries: TypeAlias = dict[UrlKey, Entry]
# What a URL field's resolver gives graphql-core: the answer, or one to await (lazy minting).
Later = TypeVar("Later")
MaybeLater: TypeAlias = Later | Awaitable[Later]

_MISSING: Any = object()
_new_tuple: Any = tuple.__new__  # a named tuple's own __new__ is a Python function


def url_key(
    field: str,
    expires_in: int | None = None,
    disposition: MediaDisposition | None = None,
    filename: str | None = None,
) -> UrlKey:
    return (field, expires_in, disposition, filename)


@dataclass(slots=True)
class UrlLog:
    """What a page's URLs were, for keeping the page whole (resolvers.page_answers): what
    each was counted as against the request's ceiling, what this request signed for them
    (the entries, the key in them, the request signed) and whether any came from elsewhere
    (a kept answer built by a former request)."""

    identities: list[Hashable] = field(default_factory=list)
    signed: list[tuple[UrlEntries, UrlKey, SignRequest]] = field(default_factory=list)
    apart: bool = False


class UrlTarget(NamedTuple):
    """URLs one object needs: its entries (filled in place), what to sign, the keys asked. A
    named tuple, made in one call (a page makes one per recording and per media item)."""

    entries: UrlEntries
    storage_key: str | None
    default_filename: tuple[str | None, ...]
    keys: Sequence[UrlKey]


async def prefetch(
    context: Context,
    targets: Sequence[UrlTarget],
    *,
    always: bool,
    log: UrlLog | None = None,
) -> None:
    """Fill every target's entries for its keys, minting all of them in one loader call.

    ``always``: await the loader even with nothing to sign. Siblings of a list must resume in
    the same tick, or the loads their children make next (a transcription, say) split into
    several batches; so whether to wait has to follow the selection, never the data.
    ``log``: where to note the URLs' identities (``url_identity``) and what was signed."""
    pending: list[tuple[UrlEntries, UrlKey, SignRequest]] = []
    # Keys with no disposition and no filename, checked once: their lifetime (_sign_request).
    lifetimes: dict[UrlKey, int] = {}
    allowed = context.allows(MEDIA_SIGN)  # checked once for the batch, not per URL
    count_url = context.count_url
    # With room under the ceiling for every key asked, none can pass it: the URLs below are
    # counted together, after the loop (a page asks for hundreds).
    room = context.has_room(sum(len(target.keys) for target in targets))
    counted: list[Hashable] = []
    for target in targets:
        entries, storage_key = target.entries, target.storage_key
        for key in target.keys:
            if key in entries:
                continue
            lifetime = lifetimes.get(key) if allowed and storage_key is not None else None
            if lifetime is not None:
                # What _sign_request does for such a key (a page has hundreds), inline.
                if room:
                    counted.append((storage_key, key[1], None, None, None))
                else:
                    try:
                        count_url((storage_key, key[1], None, None, None))
                    except FootageError as error:
                        entries[key] = error
                        continue
                pending.append(
                    (entries, key, _new_tuple(SignRequest, (storage_key, lifetime, None)))
                )
                continue
            try:
                request = _sign_request(
                    context, storage_key, key, target.default_filename, lifetimes, allowed
                )
            except FootageError as error:
                entries[key] = error
                continue
            if request is None:
                entries[key] = None
            else:
                pending.append((entries, key, request))
                if log is not None:
                    log.identities.append(
                        url_identity(request.storage_key, key, target.default_filename)
                    )
    context.count_urls(counted)
    if log is not None:
        log.identities += counted
        log.signed += pending
    else:
        context.urls_minted_apart += len(pending)
    if not pending and not always:
        return
    try:
        urls = await context.loaders.signed_urls.load(tuple(item[2] for item in pending))
    except Exception:  # logged by the loader, once for the batch
        for entries, key, _ in pending:
            entries[key] = _signing_failed()
        return
    for (entries, key, _), url in zip(pending, urls, strict=True):
        entries[key] = url


def minted(
    context: Context,
    entries: UrlEntries | None,
    key: UrlKey,
    storage_key: str | None,
    default_filename: tuple[str | None, ...],
) -> MaybeLater[MintedUrl | None]:
    """The prefetched URL of ``key`` (raising its error), or an awaitable minting it now."""
    if entries is not None:
        found = entries.get(key, _MISSING)
        if found is not _MISSING:
            if isinstance(found, FootageError):
                raise found
            return found  # type: ignore[no-any-return]
    return _mint_now(context, storage_key, key, default_filename)


async def _mint_now(
    context: Context,
    storage_key: str | None,
    key: UrlKey,
    default_filename: tuple[str | None, ...],
) -> MintedUrl | None:
    request = _sign_request(context, storage_key, key, default_filename)
    if request is None:
        return None
    context.urls_minted_apart += 1
    try:
        [url] = await context.loaders.signed_urls.load((request,))
    except Exception:  # logged by the loader
        raise _signing_failed() from None
    return url


def _sign_request(
    context: Context,
    storage_key: str | None,
    key: UrlKey,
    default_filename: tuple[str | None, ...],
    lifetimes: dict[UrlKey, int] | None = None,
    allowed: bool = False,
) -> SignRequest | None:
    """What to sign for ``key`` (None when there is no object), or a coded error; counts the
    URL against the request's ceiling. ``lifetimes``: for a batch, where a key with nothing
    per object but the storage key records its checked lifetime (``prefetch`` then makes the
    requests of that key's further objects itself); ``allowed``: the key's scope to sign
    already checked."""
    if storage_key is None:
        return None
    if not allowed:
        context.require(MEDIA_SIGN)
    _, expires_in, disposition, filename = key
    context.count_url(url_identity(storage_key, key, default_filename))
    request = sign_request(
        context.settings,
        storage_key,
        expires_in=expires_in,
        disposition=None if disposition is None else disposition.name.lower(),
        filename=filename,
        name_parts=default_filename,
    )
    if lifetimes is not None and request.content_disposition is None:
        lifetimes[key] = request.expires_in
    return request


def url_identity(
    storage_key: str, key: UrlKey, default_filename: tuple[str | None, ...]
) -> Hashable:
    """What the per-request ceiling counts a URL as: one URL per object and what is signed into
    it, whichever field (or alias) asks for it. A download without a filename is named after
    the object's test, participant and type. (``prefetch`` makes the same tuple inline for keys
    with neither disposition nor filename.)"""
    _, expires_in, disposition, filename = key
    names = default_filename if disposition is not None and filename is None else None
    return (storage_key, expires_in, disposition, filename, names)


def _signing_failed() -> SigningFailed:
    return SigningFailed("The media URL could not be signed; try again shortly.")


def url_of(found: MaybeLater[MintedUrl | None]) -> MaybeLater[str | None]:
    """What a plain URL field answers."""
    if found is None:
        return None
    if type(found) is MintedUrl:
        return found.url
    return _url_later(found)  # type: ignore[arg-type]


def signed_url_of(found: MaybeLater[MintedUrl | None]) -> MaybeLater[SignedUrl | None]:
    """What a ``SignedUrl`` field answers."""
    if found is None or type(found) is MintedUrl:
        return as_signed_url(found)
    return _signed_later(found)  # type: ignore[arg-type]


async def _url_later(found: Awaitable[MintedUrl | None]) -> str | None:
    url = await found
    return None if url is None else url.url


async def _signed_later(found: Awaitable[MintedUrl | None]) -> SignedUrl | None:
    return as_signed_url(await found)


async def settle(value: MaybeLater[Later]) -> Later:
    """For the declared (Strawberry) resolvers, which must be coroutines."""
    if isinstance(value, Awaitable):
        return await value
    return value


def as_signed_url(minted: MintedUrl | None) -> SignedUrl | None:
    if minted is None:
        return None
    remaining = int((minted.expires_at - datetime.now(UTC)).total_seconds())
    return SignedUrl(url=minted.url, expires_at=minted.expires_at, expires_in=max(0, remaining))


class HasUrls(Protocol):
    """An object with URL fields. ``_urls``: its prefetched entries, holding only URLs its
    fields may answer (``minted`` decides the rest)."""

    _urls: UrlEntries | None

    def minted(self, context: Context, key: UrlKey) -> MaybeLater[MintedUrl | None]: ...


# A resolver as graphql-core calls it: (source, info, **arguments by their GraphQL names).
DirectResolver = Callable[..., Any]


def direct_url_resolver(field: str) -> DirectResolver:
    """The graphql-core resolver of a plain URL field (see resolvers.direct): the same answer
    as the declared resolver, without Strawberry's per-call conversion of the three arguments,
    and without a coroutine when the URL was prefetched."""

    def resolve(
        source: HasUrls,
        info: Any,
        expiresIn: int | None = None,
        disposition: MediaDisposition | None = None,
        filename: str | None = None,
    ) -> MaybeLater[str | None]:
        key = (field, expiresIn, disposition, filename)
        # A prefetched URL answers at once (a page has hundreds); anything else (none yet, a
        # null, an error) is ``minted``'s to answer.
        entries = source._urls
        if entries is not None:
            found = entries.get(key)
            if type(found) is MintedUrl:
                return found.url
        return url_of(source.minted(info.context, key))

    return resolve


def direct_signed_url_resolver(field: str) -> DirectResolver:
    """As ``direct_url_resolver``, for a ``SignedUrl`` field."""

    def resolve(
        source: HasUrls,
        info: Any,
        expiresIn: int | None = None,
        disposition: MediaDisposition | None = None,
        filename: str | None = None,
    ) -> MaybeLater[SignedUrl | None]:
        key = (field, expiresIn, disposition, filename)
        return signed_url_of(source.minted(info.context, key))

    return resolve
