"""Stable media links: ``GET /media/{global id}`` with the API key answers 302 to a fresh signed
URL, for server-side consumers and for records that must outlive any one URL.

Query parameters mirror the GraphQL URL arguments: ``expiresIn``, ``disposition``
(``inline``/``attachment``) and ``filename``. Another workspace's id answers 404, exactly like an
unknown one.
"""

from __future__ import annotations

import logging
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.auth import MEDIA_SIGN
from app.context import Context, Services, build_context
from app.errors import FootageError
from app.ids import from_global_id
from app.media.options import sign_request

log = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="footage"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


async def stable_media_link(request: Request) -> Response:
    services: Services = request.app.state.services
    context = await build_context(services, request)
    try:
        if context.viewer_or_none is None:
            return _error(401, "UNAUTHENTICATED", "A valid API key is required.")
        return await _redirect(context, request)
    except FootageError as error:
        code = (error.extensions or {}).get("code", "BAD_USER_INPUT")
        return _error(400, str(code), error.message)
    except Exception:
        log.exception("stable media link failed")
        return _error(500, "INTERNAL", "Internal server error")
    finally:
        await context.close()


async def _redirect(context: Context, request: Request) -> Response:
    wait = request.app.state.services.rate_limiter.retry_after(context.viewer.api_key_id)
    if wait > 0:
        limited = _error(429, "RATE_LIMITED", "Too many requests for this API key.")
        limited.headers["Retry-After"] = str(math.ceil(wait))
        return limited
    if MEDIA_SIGN not in context.viewer.scopes:
        return _error(403, "FORBIDDEN", f"This API key lacks the `{MEDIA_SIGN}` scope.")
    type_name, key = from_global_id(request.path_params["id"])
    loaders = context.loaders
    storage_key: str | None = None
    parts: tuple[str | None, ...] = ()
    if type_name == "TestSessionRecording":
        recording = await loaders.recording_by_uuid.load(key)
        if recording is not None:
            storage_key = recording.storage_key
            parts = (recording.user_test_name, recording.participant_label, "recording")
    elif type_name == "AttachedMedia":
        media = await loaders.attached_media_by_uuid.load(key)
        if media is not None and media.status == "SUCCESS":
            storage_key = media.storage_key
            parts = (media.user_test_name, media.participant_label, media.type, media.language)
    if storage_key is None:
        return _error(404, "NOT_FOUND", "No media file with this id.")
    query = request.query_params
    expires_in = query.get("expiresIn")
    if expires_in is not None and not (
        expires_in.isascii() and expires_in.isdigit() and len(expires_in) <= 9
    ):
        return _error(400, "BAD_USER_INPUT", "`expiresIn` must be a whole number of seconds.")
    sign = sign_request(
        context.settings,
        storage_key,
        expires_in=None if expires_in is None else int(expires_in),
        disposition=query.get("disposition", "").lower() or None,
        filename=query.get("filename"),
        name_parts=parts,
    )
    [signed] = await context.minter.mint([sign])
    # The target changes with every signing window: never let a cache keep the redirect.
    return RedirectResponse(signed.url, 302, headers={"Cache-Control": "no-store"})
