"""Relay global IDs: base64url of ``<TypeName>:<public uuid>``, unpadded. Opaque to clients;
they carry no database key, so they never reveal row counts or order."""

from __future__ import annotations

import base64
import binascii

from app.errors import BadUserInput

# base64's urlsafe alphabet from the standard one (what base64.urlsafe_b64encode translates).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def urlsafe_unpadded(data: bytes) -> str:
    """``base64.urlsafe_b64encode(data)`` without its padding, as text: binascii's encoder
    called directly (a page encodes about 300 ids and cursors; base64's two wrappers cost more
    than the encoding)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def to_global_id(type_name: str, key: str) -> str:
    return urlsafe_unpadded(f"{type_name}:{key}".encode())


def from_global_id(global_id: str) -> tuple[str, str]:
    """``(type name, key)``; BAD_USER_INPUT when ``global_id`` is not one of ours."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        decoded = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (UnicodeError, binascii.Error, ValueError):
        raise BadUserInput(f"Malformed id: {global_id[:100]!r}") from None
    type_name, sep, key = decoded.partition(":")
    if not sep or not type_name or not key or not is_clean_text(key):
        raise BadUserInput(f"Malformed id: {global_id[:100]!r}")
    return type_name, key


def is_clean_text(value: str) -> bool:
    """No NUL or other C0 control characters: identifiers never contain them, and PostgreSQL
    refuses NUL in text outright."""
    return value.isprintable() or not any(ord(char) < 32 for char in value)
