"""Strawberry's ASGI view, fitted to Footage: typed context, orjson, 401 for a missing key, the
store released after every operation, and a GraphiQL that opens on seed 000's queries."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from app.context import Context, Services, build_context
from app.demo.queries import NAMES, document
from app.errors import Unauthenticated

if TYPE_CHECKING:  # Strawberry's own HTTP adapter type, from its dependency
    from cross_web import AsyncHTTPRequestAdapter

_CONTEXT_KEY = "footage_context"


class FootageGraphQL(GraphQL[Context, None]):
    """Per-process services come from ``app.state`` (built in the lifespan), never from here."""

    def __init__(self, schema: BaseSchema, *, graphiql: bool) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql else None)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        services: Services = request.app.state.services
        context = await build_context(services, request)
        request.state.footage_context = context
        return context

    async def run(
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Any:
        try:
            return await super().run(request, context, root_value)
        finally:
            built: Context | None = getattr(request.state, _CONTEXT_KEY, None)
            if built is not None:
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
        if context.viewer_or_none is None:
            sub_response.status_code = 401
            sub_response.headers["WWW-Authenticate"] = 'Bearer realm="footage"'
            error = Unauthenticated(
                "A valid API key is required: send `Authorization: Bearer <key>`."
            )
            return ExecutionResult(data=None, errors=[error])
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

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
        for name in NAMES
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
const fetcher = GraphiQL.createFetcher({url, headers: config.headers});
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
