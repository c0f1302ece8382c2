"""The local backend: files under ``FOOTAGE_MEDIA_ROOT``, served by the app itself behind
HMAC-signed, expiring URLs (``/media/local/<key>?expires=<unix>&signature=<hmac>``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from app.media.signer import SignedUrl, SignRequest, expiry

ROUTE_PREFIX = "/media/local/"
# The same name GCS gives the parameter, so clients see one convention.
DISPOSITION_PARAM = "response-content-disposition"
# Unix seconds, ASCII digits only (str.isdigit would accept "²" and other digits int() rejects).
_EXPIRES = re.compile(r"[0-9]{1,12}")


class LocalSigner:
    name = "local"

    def __init__(self, *, secret: bytes, public_url: str, root: Path) -> None:
        self._secret = secret
        self._base = public_url.rstrip("/") + ROUTE_PREFIX
        self.root = root

    def signature(self, storage_key: str, expires: int, disposition: str = "") -> str:
        message = f"{storage_key}\n{expires}\n{disposition}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        urls = []
        for request in requests:
            expires_at = expiry(signed_at, window, request.expires_in)
            expires = int(expires_at.timestamp())
            disposition = request.content_disposition or ""
            signature = self.signature(request.storage_key, expires, disposition)
            url = f"{self._base}{quote(request.storage_key)}?expires={expires}"
            if disposition:
                url += f"&{DISPOSITION_PARAM}={quote(disposition, safe='')}"
            url += f"&signature={signature}"
            urls.append(SignedUrl(url=url, expires_at=expires_at))
        return urls

    def verify(
        self, storage_key: str, expires: str, signature: str, *, now: float, disposition: str = ""
    ) -> bool:
        """True when the signature is ours for this key, expiry and disposition, and it has not
        expired. Hostile input (non-ASCII digits, huge numbers, odd signatures) is not ours."""
        if not _EXPIRES.fullmatch(expires) or int(expires) < now:
            return False
        expected = self.signature(storage_key, int(expires), disposition).encode()
        return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))

    def path_of(self, storage_key: str) -> Path | None:
        """The file behind a key, or None when the key would leave the media root."""
        if not storage_key or "\x00" in storage_key or storage_key.startswith("/"):
            return None
        path = (self.root / storage_key).resolve()
        return path if path.is_relative_to(self.root.resolve()) else None
