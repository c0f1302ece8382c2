"""Content-Disposition values (RFC 6266): ``inline`` or ``attachment``, with the filename both
as an ASCII fallback and as ``filename*=UTF-8''...`` (RFC 8187), so every browser gets a
sensible name and none can be tricked by it.

Filenames are reduced to safe characters before they reach a header: no control characters,
quotes, backslashes, separators or path components, so header injection is impossible.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

DISPOSITIONS = ("inline", "attachment")
MAX_FILENAME = 180

_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;,=]+')
_SPACES = re.compile(r"\s+")
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def clean_filename(name: str) -> str:
    """The name with everything unsafe for a header or a filesystem removed; may be empty."""
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("-", name)
    name = _SPACES.sub(" ", name).strip(" .-")
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        keep = MAX_FILENAME - len(dot + extension)
        name = (
            (stem[:keep] + dot + extension) if dot and len(extension) <= 10 else name[:MAX_FILENAME]
        )
    return name


def ascii_fallback(name: str) -> str:
    """Accents dropped (é -> e), anything else outside safe ASCII becomes ``_``."""
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _ASCII_UNSAFE.sub("_", kept).strip(" _") or "download"


def content_disposition(disposition: str, filename: str | None) -> str:
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {DISPOSITIONS}")
    name = clean_filename(filename or "")
    if not name:
        return disposition
    fallback = ascii_fallback(name)
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
