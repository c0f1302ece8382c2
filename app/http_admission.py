"""What every GraphQL request over HTTP goes through before its operation runs, on either path
(Strawberry's view, ``app.graphql_view``, and JSON POSTs, ``app.json_post``): the request's
context with its viewer, the 401 and 429 refusals, and the coded JSON answer to a request the
HTTP layer refuses."""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from app.context import Context, Services, build_context
from app.errors import LimitExceeded, Unauthenticated
from app.store.db_errors import is_busy

log = logging.getLogger("footage.http")

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


class RefusedWithHeaders(HTTPException):
    def __init__(self, status_code: int, reason: str, headers: dict[str, str]) -> None:
        super().__init__(status_code, reason)
        self.headers = headers


async def context_for(services: Services, request: HTTPConnection) -> Context:
    """The request's context, its viewer looked up (None for a missing or unknown key).
    ``RefusedWithHeaders`` (503) when the key could not be looked up at all."""
    try:
        return await build_context(services, request)
    except (DBAPIError, SQLAlchemyTimeoutError, ConnectionError) as failed:
        # The API key could not be looked up (the database is down, busy or out of
        # connections): nothing ran; the client may retry. Anything else (a broken query)
        # is a bug, answered as one.
        if isinstance(failed, DBAPIError) and not (
            isinstance(failed, OperationalError | InterfaceError) or is_busy(failed)
        ):
            raise
        log.warning("could not authenticate a request", exc_info=failed)
        raise RefusedWithHeaders(
            503,
            "The API key could not be checked just now; retry shortly.",
            {"Retry-After": "1"},
        ) from failed


def admission(
    services: Services, context: Context
) -> tuple[int, dict[str, str], GraphQLError] | None:
    """None when the operation may run; else the status, headers and error to answer with
    (no key: 401; over the key's rate: 429, counted here)."""
    if context.viewer_or_none is None:
        error = Unauthenticated("A valid API key is required: send `Authorization: Bearer <key>`.")
        return 401, {"WWW-Authenticate": 'Bearer realm="footage"'}, error
    wait = services.rate_limiter.retry_after(context.viewer.api_key_id)
    if wait > 0:
        seconds = math.ceil(wait)
        limited = LimitExceeded(
            f"Too many requests for this API key; retry in {seconds} s.",
            code="RATE_LIMITED",
            retryAfter=seconds,
        )
        return 429, {"Retry-After": str(seconds)}, limited
    return None


# Why a request was refused before any GraphQL ran, as an ``extensions.code``.
_REQUEST_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "SERVICE_UNAVAILABLE",
}


def request_error_response(request: Request, refused: HTTPException) -> Response:
    """A request refused by the HTTP layer (no query, a body that is not a JSON object, a GET
    mutation...) answers like any other GraphQL error: a JSON body with a coded error."""
    media_type = (
        GRAPHQL_RESPONSE_JSON
        if GRAPHQL_RESPONSE_JSON in request.headers.get("accept", "")
        else "application/json"
    )
    code = _REQUEST_ERROR_CODES.get(refused.status_code, "BAD_REQUEST")
    body = {"errors": [{"message": refused.reason, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body),
        status_code=refused.status_code,
        headers=refused.headers if isinstance(refused, RefusedWithHeaders) else None,
        media_type=media_type,
    )


def drop_unexecuted_data(payload: dict[str, Any]) -> bool:
    """GraphQL over HTTP: a response with no `data` and no error with a path (nothing was
    executed: a parse, validation or variable error, no access; or the operation failed as a
    whole) has no `data` entry. True when ``payload`` was one (under
    application/graphql-response+json such a response answers ``unexecuted_status``, unless
    it has a status of its own)."""
    errors = payload.get("errors")
    if payload.get("data") is None and errors and all("path" not in e for e in errors):
        payload.pop("data", None)
        return True
    return False


def unexecuted_status(payload: dict[str, Any]) -> int:
    """The status of such a response under application/graphql-response+json: 500 when the
    operation failed as a whole by a fault of the server's (an INTERNAL error, masked and
    logged), else 400 (the request itself could not run)."""
    for error in payload.get("errors") or ():
        if (error.get("extensions") or {}).get("code") == "INTERNAL":
            return 500
    return 400
