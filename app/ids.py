"""Relay global IDs: base64url of ``<TypeName>:<public uuid>``, unpadded. Opaque to clients;
they carry no database key, so they never reveal row counts or order."""

from __future__ import annotations

import base64
import binascii

from app.errors import BadUserInput


def to_global_id(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).rstrip(b"=").decode()


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
