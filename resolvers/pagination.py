"""Relay connection plumbing: opaque keyset cursors and page-argument rules.

A cursor is base64url of ``v1:<id>``: the position in the connection's stable order (ascending
result id). Keyset, not offset, so page 10,000 costs what page 1 costs and rows inserted before
a cursor never shift a client's next page.
"""

from __future__ import annotations

import base64
import binascii
import re

import strawberry

from app.errors import BadUserInput
from app.ids import urlsafe_unpadded
from app.store.records import PageRequest

_CURSOR_PREFIX = "v1:"
# ASCII digits only (``str.isdigit`` accepts other scripts' digits) and within BIGINT.
_CURSOR_PATTERN = re.compile(r"v1:(0|[1-9][0-9]{0,18})", re.ASCII)
_MAX_KEY = 2**63 - 1


@strawberry.type(description="Where a page sits in its connection (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="True when more items follow this page. When paging backward, true if "
        "`before` was given."
    )
    has_previous_page: bool = strawberry.field(
        description="True when items precede this page. When paging forward, true if `after` "
        "was given."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


def encode_cursor(key: int) -> str:
    return urlsafe_unpadded(f"{_CURSOR_PREFIX}{key}".encode())


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (UnicodeError, binascii.Error, ValueError):
        raw = ""
    match = _CURSOR_PATTERN.fullmatch(raw)
    if match is None or int(match[1]) > _MAX_KEY:
        raise BadUserInput(f"Invalid cursor: {cursor[:100]!r}", argument="cursor")
    return int(match[1])


def page_request(
    *,
    user_test_id: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default_size: int,
    max_size: int,
) -> tuple[PageRequest, int]:
    """The store request (asking one row more than shown) and the page size."""
    if first is not None and last is not None:
        raise BadUserInput("Pass `first` or `last`, not both.")
    size = first if first is not None else last if last is not None else default_size
    if not 1 <= size <= max_size:
        name = "first" if first is not None else "last"
        raise BadUserInput(f"`{name}` must be between 1 and {max_size}, got {size}.", argument=name)
    request = PageRequest(
        user_test_id=user_test_id,
        limit=size + 1,
        after=decode_cursor(after) if after is not None else None,
        before=decode_cursor(before) if before is not None else None,
        backward=last is not None,
    )
    return request, size
