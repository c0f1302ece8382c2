"""The websocket side of the GraphQL view: graphql-transport-ws with Footage's rules.

- Origins (checked before the upgrade is accepted; refused with HTTP 403): a request without
  ``Origin`` is not from a browser and carries no ambient credentials, so it may connect; an
  origin in ``FOOTAGE_CORS_ORIGINS`` may connect; in development, without that list any page
  may, and with it the API's own pages (GraphiQL) may too; in production nothing else may.
- Frames must be JSON objects of the protocol's shapes; anything else closes the socket with
  4400 rather than reaching Strawberry's handler (which would fail on them).
- ``connection_init`` whose key cannot be looked up (the database fails) closes with 1013
  (Try Again Later, which graphql-ws clients retry): the key is not known to be invalid, so
  not 4403.
- ``subscribe``: the key is checked again (revoked or expired: 4403), the connection's
  subscription bound (``SUBSCRIPTION_LIMIT``) and the key's rate limit (``RATE_LIMITED``) apply,
  and a key that cannot be checked just now is ``SERVICE_UNAVAILABLE``: each answered as an
  ``error`` message for that id while the other subscriptions go on. The next message is
  handled once the new subscription listens, so a ``pong`` after a ``subscribe`` means the
  subscription is live.
- Anything else that fails while a message is handled closes the socket with 1011 (and is
  logged), rather than dropping it without a close frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, Mapping
from typing import Any, cast

import orjson
from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from starlette.websockets import WebSocketDisconnected as StarletteDisconnected
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.http.websocket_origin import is_same_origin, normalize_origin
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)

from app.errors import LimitExceeded, ServiceUnavailable
from app.live import FORBIDDEN, KeyCheckFailed, LiveConnection
from app.settings import Settings

log = logging.getLogger("footage.websocket")

_MAX_ID = 100
# RFC 6455: the server met a condition that kept it from fulfilling the request.
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


def origin_allowed(headers: Mapping[str, str], settings: Settings) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return True
    allowed = {normalize_origin(o) or o for o in settings.cors_origins}
    if "*" in allowed or normalize_origin(origin) in allowed:
        return True
    if settings.is_production:
        return False
    return not allowed or is_same_origin(origin, headers.get("host"))


class FootageWebSocketAdapter(ASGIWebSocketAdapter):
    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        # orjson bounds nesting: a deeply nested frame is bad JSON here, not a RecursionError.
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                try:
                    yield orjson.loads(text)
                except orjson.JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:  # a binary frame has no "text"
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await super().send_json(message)
        except StarletteDisconnected as error:  # the socket closed under a running operation
            raise WebSocketDisconnected from error


class FootageTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    @property
    def live(self) -> LiveConnection:
        return cast("LiveConnection", self.context)

    async def handle_message(self, message: Message) -> None:
        problem = _malformed(cast("object", message))
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        try:
            await super().handle_message(message)
        except WebSocketDisconnected:
            raise
        except Exception:
            log.exception("closing a websocket after a %r message failed", message["type"])
            await self.live.close(INTERNAL_ERROR, "Internal server error")

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except KeyCheckFailed as failed:
            log.warning("closing a websocket whose key could not be checked: %s", failed)
            await self.live.close(
                TRY_AGAIN_LATER, "Service unavailable: the API key could not be checked; retry"
            )

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self.connection_acknowledged or message["id"] in self.operations:
            await super().handle_subscribe(message)  # the protocol's own closes: 4401, 4409
            return
        live = self.live
        try:
            valid = await live.key_still_valid()
        except KeyCheckFailed as failed:
            log.warning("refusing a subscribe whose key could not be checked: %s", failed)
            await self._refuse(
                message["id"],
                ServiceUnavailable("The API key could not be checked just now; subscribe again."),
            )
            return
        if not valid:
            await self.websocket.close(FORBIDDEN, "Forbidden: the API key was revoked or expired")
            return
        limit = live.settings.max_subscriptions_per_connection
        if len(self.operations) >= limit:
            await self._refuse(
                message["id"],
                LimitExceeded(
                    f"This connection already has {limit} subscriptions; complete one first or "
                    "open another connection.",
                    code="SUBSCRIPTION_LIMIT",
                    limit=limit,
                ),
            )
            return
        wait = live.retry_after()
        if wait > 0:
            seconds = math.ceil(wait)
            await self._refuse(
                message["id"],
                LimitExceeded(
                    f"Too many requests for this API key; retry in {seconds} s.",
                    code="RATE_LIMITED",
                    retryAfter=seconds,
                ),
            )
            return
        live.expect_listening()
        await super().handle_subscribe(message)
        operation = self.operations.get(message["id"])
        if operation is not None and operation.task is not None:
            await live.until_listening(operation.task)

    async def _refuse(self, operation_id: str, error: GraphQLError) -> None:
        await self.send_message({"id": operation_id, "type": "error", "payload": [error.formatted]})

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            return  # the socket closed while an event was on its way: nothing to report
        await super().handle_task_exception(error)


def _malformed(message: object) -> str | None:
    """Why ``message`` is not a protocol message Strawberry can take, or None."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "Messages must be JSON objects with a string `type`."
    kind = message["type"]
    if kind in ("subscribe", "complete"):
        operation_id = message.get("id")
        if not isinstance(operation_id, str) or not 0 < len(operation_id) <= _MAX_ID:
            return f"`id` must be a string of 1 to {_MAX_ID} characters."
    if kind == "subscribe":
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "`payload` must be an object with a string `query`."
        for name, expected in (
            ("variables", dict),
            ("operationName", str),
            ("extensions", dict),
        ):
            value = payload.get(name)
            if value is not None and not isinstance(value, expected):
                return f"`payload.{name}` has the wrong type."
    return None
