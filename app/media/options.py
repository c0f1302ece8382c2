"""What a caller may ask of a signed URL (lifetime, disposition, filename), checked once for
GraphQL fields and the stable media links alike."""

from __future__ import annotations

import re
import unicodedata

from app.errors import BadUserInput
from app.media.disposition import DISPOSITIONS, MAX_FILENAME, clean_filename, content_disposition
from app.media.signer import SignRequest
from app.settings import Settings

# X-Goog-Expires (the lifetime plus the signing window) may not pass Google's 7 days.
GOOGLE_MAX_EXPIRES = 604_800


def longest_lifetime(settings: Settings) -> int:
    return min(settings.url_max_ttl, GOOGLE_MAX_EXPIRES - settings.signing_window)


def sign_request(
    settings: Settings,
    storage_key: str,
    *,
    expires_in: int | None,
    disposition: str | None,
    filename: str | None,
    name_parts: tuple[str | None, ...],
) -> SignRequest:
    """The request to sign, or BAD_USER_INPUT naming what is wrong.

    ``disposition`` is ``inline`` or ``attachment``; with neither it nor ``filename`` the object
    is served as stored; a ``filename`` alone means a download.
    """
    longest = longest_lifetime(settings)
    lifetime = settings.url_ttl if expires_in is None else expires_in
    if not 1 <= lifetime <= longest:
        raise BadUserInput(f"`expiresIn` must be between 1 and {longest} seconds.")
    if disposition is not None and disposition not in DISPOSITIONS:
        raise BadUserInput("`disposition` must be INLINE or ATTACHMENT.")
    if filename is not None and len(filename) > MAX_FILENAME:
        raise BadUserInput(f"`filename` must be at most {MAX_FILENAME} characters.")
    header = None
    if disposition is not None or filename is not None:
        name = filename if filename is not None else default_filename(name_parts, storage_key)
        if not clean_filename(name):
            raise BadUserInput("`filename` has no usable characters.")
        header = content_disposition(disposition or "attachment", name)
    return SignRequest(storage_key, lifetime, header)


_NON_WORD = re.compile(r"[\W_]+")


def default_filename(parts: tuple[str | None, ...], storage_key: str) -> str:
    """``<test>-<participant>-<what>[-<language>].<ext>`` in lower-case slugs."""
    slugs = [_slug(part) for part in parts if part]
    stem = "-".join(slug for slug in slugs if slug) or "media"
    basename = storage_key.rpartition("/")[2]
    extension = basename.rpartition(".")[2] if "." in basename else ""
    return f"{stem}.{extension}" if extension else stem


def _slug(text: str) -> str:
    return _NON_WORD.sub("-", unicodedata.normalize("NFC", text).lower()).strip("-")
