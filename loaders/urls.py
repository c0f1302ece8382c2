from __future__ import annotations

import logging
from collections.abc import Sequence

from aiodataloader import DataLoader

from app.media.signer import SignedUrl, SignRequest, UrlMinter
from app.turns import Turn

log = logging.getLogger(__name__)

SignRequests = tuple[SignRequest, ...]


class SignedUrlsBySignRequestsLoader(DataLoader[SignRequests, list[SignedUrl]]):
    """Key: the ``SignRequest``s of one parent (a recording and its media, say). Result: their
    signed URLs, in order. Every parent of a page asks in the same tick, so the page's URLs are
    minted in one batch, off the event loop, through the process-wide cache; one key per parent
    rather than per URL keeps the loader's futures to one per parent.

    Not cached per request: the minter's cache already answers repeats, and tuples of requests
    rarely repeat. ``turn``: the request's (app.turns), handed on while signing processes work."""

    def __init__(self, minter: UrlMinter, turn: Turn | None = None) -> None:
        super().__init__(cache=False)
        self.minter = minter
        self.turn = turn

    async def batch_load_fn(self, keys: Sequence[SignRequests]) -> list[list[SignedUrl]]:
        flat = [request for key in keys for request in key]
        try:
            urls = await self.minter.mint(flat, turn=self.turn)
        except Exception:
            # Logged once here; each URL field then answers SIGNING_FAILED.
            log.exception("signing %d URLs failed", len(flat))
            raise
        found: list[list[SignedUrl]] = []
        start = 0
        for key in keys:
            found.append(urls[start : start + len(key)])
            start += len(key)
        return found
