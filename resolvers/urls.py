"""Signed URL fields: minted lazily (only when selected), through the request's loader."""

from __future__ import annotations

import logging

from app.context import Context
from app.errors import SigningFailed
from app.media.signer import SignedUrl, SignRequest

log = logging.getLogger(__name__)


async def signed_url(context: Context, storage_key: str | None) -> str | None:
    if storage_key is None:
        return None
    request = SignRequest(storage_key=storage_key, expires_in=context.settings.url_ttl)
    try:
        signed: SignedUrl = await context.loaders.signed_url.load(request)
    except Exception:
        log.exception("signing failed for %r", storage_key)
        raise SigningFailed("The media URL could not be signed; try again shortly.") from None
    return signed.url
