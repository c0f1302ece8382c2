"""Signed URL fields: minted lazily (only when selected) through the request's loader, with
per-field options (lifetime, inline or attachment, filename) signed into the URL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.auth import MEDIA_SIGN
from app.context import Context
from app.errors import SigningFailed
from app.media.options import sign_request
from app.media.signer import SignedUrl as MintedUrl

log = logging.getLogger(__name__)


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


async def mint(
    context: Context,
    storage_key: str | None,
    *,
    expires_in: int | None,
    disposition: MediaDisposition | None,
    filename: str | None,
    default_filename: tuple[str | None, ...],
) -> MintedUrl | None:
    """The signed URL of ``storage_key`` (None when there is no object), or a coded error."""
    if storage_key is None:
        return None
    context.require(MEDIA_SIGN)
    context.count_url()
    request = sign_request(
        context.settings,
        storage_key,
        expires_in=expires_in,
        disposition=None if disposition is None else disposition.name.lower(),
        filename=filename,
        name_parts=default_filename,
    )
    try:
        signed: MintedUrl = await context.loaders.signed_url.load(request)
    except Exception:
        log.exception("signing failed for %r", storage_key)
        raise SigningFailed("The media URL could not be signed; try again shortly.") from None
    return signed


def as_signed_url(minted: MintedUrl | None) -> SignedUrl | None:
    if minted is None:
        return None
    remaining = int((minted.expires_at - datetime.now(UTC)).total_seconds())
    return SignedUrl(url=minted.url, expires_at=minted.expires_at, expires_in=max(0, remaining))
