"""Checks of the storage-facing inputs: keys, MIME types, languages, sizes, durations."""

from __future__ import annotations

import math
import re

from app.errors import BadUserInput
from resolvers.mutations.common import text

_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")
# Ten days: longer than any session, short of absurd.
MAX_DURATION = 864_000.0


def storage_key(value: str, argument: str = "storageKey", *, workspace_slug: str) -> str:
    """An object name relative to the bucket or media root: 1 to 1024 characters, ``/``
    separated, no empty, ``.`` or ``..`` segment, no leading ``/``, no backslash, and under the
    workspace's own prefix ``<workspace slug>/``: a workspace never names another's objects
    (which it could then read through its own rows, or have removed by deleting them)."""
    text(value, argument, max_length=1024)
    if "\\" in value or any(part in ("", ".", "..") for part in value.split("/")):
        raise BadUserInput(
            f"`{argument}` must be a relative object name: `/`-separated, without empty, `.` "
            "or `..` parts.",
            argument=argument,
        )
    prefix = f"{workspace_slug}/"
    if not value.startswith(prefix):
        raise BadUserInput(
            f"`{argument}` must start with `{prefix}`: this workspace's objects are stored "
            "under its own prefix.",
            argument=argument,
            requiredPrefix=prefix,
        )
    return value


def optional_storage_key(
    value: str | None, argument: str = "storageKey", *, workspace_slug: str
) -> str | None:
    return None if value is None else storage_key(value, argument, workspace_slug=workspace_slug)


def mime_type(value: str, argument: str = "mimeType") -> str:
    """``type/subtype``, lower-cased, without parameters."""
    lowered = value.lower()
    if len(value) > 100 or not _MIME.fullmatch(lowered):
        raise BadUserInput(
            f"`{argument}` must be a MIME type such as video/mp4 (no parameters).",
            argument=argument,
        )
    return lowered


def language(value: str, argument: str = "language") -> str:
    if len(value) > 16 or not _LANGUAGE.fullmatch(value):
        raise BadUserInput(
            f"`{argument}` must be a language tag such as `en` or `pt-BR`.", argument=argument
        )
    return value


def filesize(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise BadUserInput("`filesize` must not be negative.", argument="filesize")
    return value


def duration(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_DURATION):
        raise BadUserInput(
            f"`duration` must be 0 to {MAX_DURATION:g} seconds.", argument="duration"
        )
    return value
