"""Strawberry's ASGI view, fitted to Footage: typed context, orjson, 401 for a missing key, the
store released after every operation, and a GraphiQL that opens on seed 000's queries.
Websockets (graphql-transport-ws) are set up here and ruled in ``app.graphql_ws``. Queries
and mutations sent as JSON POSTs take a shorter path (``app.json_post``); everything else is
this view's."""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from cross_web import HTTPException, StarletteRequestAdapter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from app.context import Context, Services
from app.demo.queries import LIVE_NAMES, NAMES, document
from app.errors import LimitExceeded, code_for_graphql_error
from app.graphql_ws import FootageTransportWSHandler, FootageWebSocketAdapter, origin_allowed
from app.http_admission import (
    GRAPHQL_RESPONSE_JSON,
    RefusedWithHeaders,
    admission,
    context_for,
    drop_unexecuted_data,
    request_error_response,
    unexecuted_status,
)
from app.json_post import json_post_for
from app.live import LiveConnection

if TYPE_CHECKING:  # Strawberry's own HTTP adapter type, from its dependency
    from cross_web import AsyncHTTPRequestAdapter

log = logging.getLogger("footage.websocket")

_CONTEXT_KEY = "footage_context"
# graphql-transport-ws: a socket that has not sent `connection_init` by then is closed (4408).
CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)


class FootageRequestAdapter(StarletteRequestAdapter):
    """Media types are case-insensitive (RFC 9110); Strawberry compares them as written."""

    @property
    def content_type(self) -> str | None:
        value = super().content_type
        if value is None:
            return None
        media_type, separator, parameters = value.partition(";")
        return media_type.strip().lower() + separator + parameters


class FootageGraphQL(GraphQL[Context, None]):
    """Per-process services come from ``app.state`` (built in the lifespan), never from here."""

    request_adapter_class = FootageRequestAdapter
    graphql_transport_ws_handler_class = FootageTransportWSHandler
    websocket_adapter_class = FootageWebSocketAdapter

    def __init__(self, schema: BaseSchema, *, graphiql: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            # Only the maintained protocol; no subscriptions over HTTP (SSE, multipart).
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
            # Both are Footage's own, with codes and settings (app.graphql_ws): Strawberry's
            # origin check would refuse what the development policy allows.
            max_subscriptions_per_connection=None,
            allowed_origins=("*",),
        )
        # Run by app.json_post.JsonPosts, in front of Starlette's router; None: none.
        self.json_post = json_post_for(schema)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Any:
        services: Services = request.app.state.services
        if isinstance(request, WebSocket):
            # Authenticated at `connection_init` (on_ws_connect); no database work before.
            return LiveConnection(services, request, request_id=uuid.uuid4().hex)
        context = await context_for(services, request)
        setattr(request.state, _CONTEXT_KEY, context)
        return context

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        live: LiveConnection = context
        if not await live.authenticate():
            raise ConnectionRejectionError  # 4403
        return UnsetType()  # a plain connection_ack

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        if isinstance(request, WebSocket):
            settings = request.app.state.services.settings
            if not origin_allowed(request.headers, settings):
                log.info("refused a websocket from origin %r", request.headers.get("origin"))
                return await self.reject_websocket(request)  # HTTP 403, before accepting
        try:
            return await super().run(request, context, root_value)
        except HTTPException as refused:
            if isinstance(request, WebSocket):
                raise
            return request_error_response(request, refused)
        finally:
            built: Context | None = getattr(request.state, _CONTEXT_KEY, None)
            if built is not None:
                # The request and its context refer to each other: unlinked here, the page's
                # objects are freed at once instead of by the next garbage collection.
                delattr(request.state, _CONTEXT_KEY)
                await built.close()

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        services: Services = request.app.state.services
        refusal = admission(services, context)
        if refusal is not None:
            status, headers, error = refusal
            sub_response.status_code = status
            sub_response.headers.update(headers)
            return ExecutionResult(data=None, errors=[error])
        timeout = context.settings.query_timeout
        try:
            async with asyncio.timeout(timeout):
                result = await super().execute_operation(
                    request, request_adapter, request_data, context, root_value, sub_response
                )
        except HTTPException as refused:
            cause = refused.__cause__
            if isinstance(cause, InvalidOperationTypeError):
                if cause.operation_type is OperationType.SUBSCRIPTION:
                    # Refused by FootageSchema.execute before any resolver ran.
                    raise HTTPException(
                        400,
                        "Subscriptions run over a websocket: connect to /graphql with the "
                        "graphql-transport-ws protocol.",
                    ) from refused
                # GraphQL over HTTP: a mutation sent with GET is 405, and it does not run.
                raise RefusedWithHeaders(
                    405, "Mutations must be sent with POST.", {"Allow": "POST"}
                ) from refused
            raise
        except TimeoutError:
            sub_response.status_code = 504
            late = LimitExceeded(
                f"The query did not finish within {timeout:g} s.", code="TIMEOUT", limit=timeout
            )
            return ExecutionResult(data=None, errors=[late])
        return result

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        # Only JSON bodies: form and multipart bodies are what a cross-site form can send
        # without a CORS preflight (GraphQL over HTTP: 415 for them).
        if request.method == "POST":
            content_type = (request.content_type or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise HTTPException(415, "POST bodies must be application/json.")
        return await super().parse_http_body(request)

    def decode_json(self, data: str | bytes) -> object:
        # orjson: faster, and its nesting limit fails as a JSONDecodeError (400), where
        # json.loads would overflow the stack on a deeply nested body.
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        if GRAPHQL_RESPONSE_JSON in request.headers.get("accept", ""):
            sub_response.media_type = GRAPHQL_RESPONSE_JSON
        request.state.sub_response = sub_response
        return sub_response

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        body: dict[str, Any] = dict(await super().process_result(request, result))
        # Strawberry skips extensions' error hooks when parsing fails: code what is left here.
        errors: list[dict[str, Any]] = body.get("errors") or []
        for error in errors:
            extensions = error.setdefault("extensions", {})
            if "code" not in extensions:
                extensions["code"] = code_for_graphql_error(
                    error["message"], syntax=False, executed="path" in error
                )
        if drop_unexecuted_data(body):
            sub_response: Response = request.state.sub_response
            if sub_response.media_type == GRAPHQL_RESPONSE_JSON and not sub_response.status_code:
                sub_response.status_code = unexecuted_status(body)
        return body

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type == GRAPHQL_RESPONSE_JSON:
            response.headers["content-type"] = GRAPHQL_RESPONSE_JSON
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_page(request.app.state.demo_key))


def graphiql_page(demo_key: str | None) -> str:
    headers = {"Authorization": f"Bearer {demo_key}"} if demo_key else {}
    tabs = [
        {
            "query": document(name),
            "headers": orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode(),
        }
        for name in (*NAMES, *LIVE_NAMES)
    ]
    config = orjson.dumps({"tabs": tabs, "headers": headers}).decode()
    # </script> cannot appear inside a JSON string literal once "<" is escaped.
    config = config.replace("<", "\\u003c")
    return _PAGE.replace("__CONFIG__", config).replace("__TITLE__", html.escape("Footage"))


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>__TITLE__ GraphiQL</title>
<style>body{margin:0;height:100vh}#graphiql{height:100vh}</style>
<link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css" crossorigin>
<script src="https://unpkg.com/react@18.2.0/umd/react.production.min.js" crossorigin></script>
<script src="https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js"
  crossorigin></script>
<script src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js" crossorigin></script>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script>
const config = __CONFIG__;
const url = window.location.href.split("?")[0];
const subscriptionUrl = url.replace(/^http/, "ws");
// Subscriptions go over a websocket and authenticate in connection_init, with the headers
// editor's Authorization: one fetcher (and websocket client) per set of headers.
const fetchers = new Map();
function fetcher(params, options) {
  const headers = (options && options.headers) || config.headers;
  const id = JSON.stringify(headers);
  if (!fetchers.has(id)) {
    fetchers.set(id, GraphiQL.createFetcher(
      {url, subscriptionUrl, headers, wsConnectionParams: headers}));
  }
  return fetchers.get(id)(params, options);
}
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultTabs: config.tabs,
    defaultHeaders: JSON.stringify(config.headers, null, 2),
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    defaultEditorToolsVisibility: "headers",
  })
);
</script>
</body>
</html>
"""
