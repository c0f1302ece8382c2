"""API keys: ``ftg_<random>``, stored as SHA-256, looked up through a short-lived cache.

The cache makes an authenticated request cost no SQL in the common case; its lifetime
(``FOOTAGE_API_KEY_CACHE_SECONDS``, default 10 s) bounds how long a revoked key keeps working on
a process that has already seen it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.store.facade import Store

KEY_PREFIX = "ftg_"
RESULTS_READ = "results:read"
MEDIA_SIGN = "media:sign"
WRITE = "write"
SCOPES = (RESULTS_READ, MEDIA_SIGN, WRITE)
# What a new key may do unless told otherwise: read, never write.
DEFAULT_SCOPES = (RESULTS_READ, MEDIA_SIGN)


def scope_string(scopes: Iterable[str]) -> str:
    """Validated, de-duplicated, in canonical order; ValueError names an unknown scope."""
    chosen = set(scopes)
    unknown = chosen - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scope {sorted(unknown)[0]!r}; scopes are {', '.join(SCOPES)}")
    return " ".join(scope for scope in SCOPES if scope in chosen)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: the API key and the workspace it belongs to."""

    api_key_id: int
    workspace_id: int
    workspace_slug: str
    scopes: frozenset[str]


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Authenticator:
    """Process-wide; holds the bounded cache of recently validated keys."""

    def __init__(
        self,
        *,
        cache_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache_seconds = cache_seconds
        self._max_entries = max_entries
        self._cache: OrderedDict[str, tuple[float, Viewer, datetime | None]] = OrderedDict()
        self._clock = clock
        self._pending: dict[str, asyncio.Future[Viewer | None]] = {}
        # ``last_used_at`` is a hint for humans, kept to the minute: no write on every lookup.
        self._touch_after = timedelta(seconds=60)

    async def authenticate(self, store: Store, token: str | None) -> Viewer | None:
        if not token or not token.startswith(KEY_PREFIX) or len(token) > 200:
            return None
        key_hash = hash_api_key(token)
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > self._clock() and _usable(cached[2], None):
            return cached[1]
        # Single flight: a burst of requests with one uncached key makes one lookup, not many.
        pending = self._pending.get(key_hash)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(store, key_hash))
            self._pending[key_hash] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(key_hash, None))
        return await asyncio.shield(pending)

    async def _look_up(self, store: Store, key_hash: str) -> Viewer | None:
        record = await store.authenticate_api_key(
            key_hash=key_hash, now=datetime.now(UTC), touch_after=self._touch_after
        )
        if record is None or not _usable(record.expires_at, record.revoked_at):
            self._cache.pop(key_hash, None)
            return None
        viewer = Viewer(
            record.id, record.workspace_id, record.workspace_slug, frozenset(record.scopes.split())
        )
        # Only valid keys are cached: caching misses would let random keys evict real ones.
        if self._cache_seconds > 0:
            self._cache[key_hash] = (
                self._clock() + self._cache_seconds,
                viewer,
                record.expires_at,
            )
            self._cache.move_to_end(key_hash)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return viewer


def _usable(expires_at: datetime | None, revoked_at: datetime | None) -> bool:
    return revoked_at is None and (expires_at is None or expires_at > datetime.now(UTC))
