from __future__ import annotations

from collections.abc import Sequence

from aiodataloader import DataLoader

from app.media.signer import SignedUrl, SignRequest, UrlMinter


class SignedUrlBySignRequestLoader(DataLoader[SignRequest, SignedUrl]):
    """Key: a ``SignRequest``. Result: its signed URL. Every URL a request selects is minted in
    one batch, off the event loop, through the process-wide cache."""

    def __init__(self, minter: UrlMinter) -> None:
        super().__init__()
        self.minter = minter

    async def batch_load_fn(self, keys: Sequence[SignRequest]) -> list[SignedUrl]:
        return await self.minter.mint(keys)
