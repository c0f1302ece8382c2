"""HTTP route of the local backend: signed, expiring, Range-capable file serving.

Starlette's ``FileResponse`` streams from disk in chunks and answers ``Range`` (206, multipart
for several ranges, 416 when unsatisfiable), ``If-Range``, ``HEAD``, ``ETag`` and
``Last-Modified``; this route adds the signature check, path confinement and
``If-None-Match`` (304).
"""

from __future__ import annotations

import mimetypes
import time

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from app.media.local import DISPOSITION_PARAM, LocalSigner

_TYPES = {".vtt": "text/vtt", ".ogg": "audio/ogg", ".json": "application/json"}


async def serve_local_media(request: Request) -> Response:
    signer: LocalSigner | None = request.app.state.local_signer
    if signer is None:
        return PlainTextResponse("Not found.", 404)
    storage_key = request.path_params["key"]
    expires = request.query_params.get("expires", "")
    signature = request.query_params.get("signature", "")
    disposition = request.query_params.get(DISPOSITION_PARAM, "")
    now = time.time()
    if not signer.verify(storage_key, expires, signature, now=now, disposition=disposition):
        return PlainTextResponse("Forbidden: the link is expired or invalid.", 403)
    path = signer.path_of(storage_key)
    if path is None or not path.is_file():
        return PlainTextResponse("Not found.", 404)
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    # The URL is valid until `expires`, so caches may keep the bytes that long and no longer.
    max_age = max(0, int(expires) - int(now))
    response = FileResponse(
        path,
        media_type=media_type or "application/octet-stream",
        headers={"Cache-Control": f"private, max-age={max_age}"},
        content_disposition_type="inline",
        filename=path.name,
        stat_result=path.stat(),
    )
    if disposition:
        # Signed by us, built by app.media.disposition: safe to send as it is.
        response.headers["content-disposition"] = disposition
    etag = response.headers["etag"]
    if etag in _entity_tags(request.headers.get("if-none-match", "")):
        return Response(
            status_code=304,
            headers={"ETag": etag, "Cache-Control": response.headers["cache-control"]},
        )
    return response


def _entity_tags(header: str) -> set[str]:
    """The tags of an If-None-Match header, weak ones compared weakly (RFC 9110 13.1.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
