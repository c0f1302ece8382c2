"""Queries and mutations sent as JSON POSTs, answered without Strawberry's HTTP view and
schema extension runner.

In-process, a `{ __typename }` request cost about 530 us, of which graphql-core's execution
was 34 us: the rest was Strawberry's view (adapters, content negotiation, a sub-response) and
its ``Schema.execute`` (an extension runner with a context manager per hook, a middleware
manager and two result conversions per operation), on every request (BENCHMARKS.md). Nearly
all of Footage's traffic is a JSON POST of a query or a mutation; this answers those with the
same parts Strawberry's path is built from: the schema's ``RuleSet`` (parse and validate, with
their caches), ``build_context``, the view's admission checks (401, 429), the query timeout,
``FootageExecutionContext``, ``coded_errors`` (masking) and the view's response rules.

Everything else goes to Strawberry's view with the body replayed, before anything has run (no
context built, no rate limit counted), so the view answers it exactly as it always did: other
methods and content types, ``Accept`` headers asking for a stream (which the view refuses),
batches, a body that is not a JSON object with a string ``query``, documents that do not parse
or validate, an operation that cannot be chosen, subscriptions. A schema this path cannot run
as Strawberry would (other extensions, directives, incremental delivery) gets no such path
(``json_post_for``). ``tests/test_json_post.py`` sends the same requests down both
paths and compares status, headers and body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import lru_cache
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeGuard, cast

import orjson
from cross_web import HTTPException
from graphql import DocumentNode, GraphQLError, OperationType, execute, get_operation_ast
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.execution.is_awaitable import optimized_is_awaitable

from app.errors import LimitExceeded
from app.execution import FootageExecutionContext
from app.http_admission import (
    GRAPHQL_RESPONSE_JSON,
    admission,
    context_for,
    drop_unexecuted_data,
    request_error_response,
    unexecuted_status,
)
from app.limits import read_body
from app.operation_rules import CACHE_SIZE
from app.schema import EXTENSIONS, FootageSchema, coded_errors

if TYPE_CHECKING:
    from app.context import Context, Services

# Strawberry's check, as its path passes it (typed as graphql-core asks).
_is_awaitable = cast("Callable[[Any], TypeGuard[Awaitable[Any]]]", optimized_is_awaitable)
_RUNS_HERE = (OperationType.QUERY, OperationType.MUTATION)
_GRAPHQL_RESPONSE_JSON = GRAPHQL_RESPONSE_JSON.encode()
_STREAMING = ("multipart/mixed", "text/event-stream")


def _is_json(scope: Scope) -> tuple[bool, bytes]:
    """Whether the request is a JSON POST this path answers by its headers, and its Accept."""
    content_type: bytes | None = None
    accept: bytes | None = None
    for name, value in scope["headers"]:  # the first of each, as Starlette's headers.get
        if name == b"content-type":
            if content_type is None:
                content_type = value
        elif name == b"accept" and accept is None:
            accept = value
    content_type = content_type or b""
    accept = accept or b""
    if content_type.split(b";", 1)[0].strip().lower() != b"application/json":
        return False, accept
    text = accept.decode("latin-1")
    return not any(kind in text for kind in _STREAMING), accept


def json_post_for(schema: object) -> JsonPost | None:
    """The path for ``schema``, when it runs operations exactly as Strawberry's would: a
    FootageSchema from ``build_schema`` (its two extensions only: parsing and validation under
    the rule set, and error coding, both done here too), no schema directives, no incremental
    delivery. A schema with more gets Strawberry's path for every request."""
    if not isinstance(schema, FootageSchema) or getattr(schema, "rule_set", None) is None:
        return None
    if schema.directives or schema.config.enable_experimental_incremental_execution:
        return None
    if len(schema.extensions) != EXTENSIONS:
        return None
    return JsonPost(schema)


class JsonPost:
    """See the module docstring."""

    def __init__(self, schema: FootageSchema) -> None:
        self.schema = schema
        self.graphql_schema = schema._schema
        self.rule_set = schema.rule_set
        # By query text: a hit costs the text's hash (cached by Python) where the rule set's
        # validation cache hashes the whole document. Owned by this path, bounded alike.
        self._valid_document = lru_cache(maxsize=CACHE_SIZE)(self._check)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None once the request is answered; else a ``receive`` that hands Strawberry's view
        the request as it came (the body replayed)."""
        wanted, accept = _is_json(scope)
        if not wanted:
            return receive
        arrived, replay = await read_body(receive)
        if arrived[-1]["type"] != "http.request":
            return replay  # the client went away: the view deals with it
        body = b"".join(message.get("body", b"") for message in arrived)
        request = self._runnable(body)
        if request is None:
            return replay
        document, variables, operation_name, extensions = request
        graphql_response = _GRAPHQL_RESPONSE_JSON in accept
        http_request = Request(scope, replay)
        services: Services = scope["app"].state.services
        try:
            context = await context_for(services, http_request)
        except HTTPException as refused:  # the key could not be looked up: 503, as the view
            await request_error_response(http_request, refused)(scope, replay, send)
            return None
        try:
            status, headers, payload = await self._answer(
                services, context, document, variables, operation_name, extensions
            )
        finally:
            await context.close()
        if drop_unexecuted_data(payload) and graphql_response and status == 200:
            status = unexecuted_status(payload)
        content = orjson.dumps(payload)
        headers.append((b"content-length", str(len(content)).encode()))
        headers.append(
            (b"content-type", _GRAPHQL_RESPONSE_JSON if graphql_response else b"application/json")
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        return None

    def _check(self, query: str) -> DocumentNode | None:
        """The document, when it parses and validates under the rule set; else None."""
        try:
            document = self.rule_set.document(query)
        except GraphQLError:
            return None
        if self.rule_set.validate(self.graphql_schema, document):
            return None
        return document

    def _runnable(
        self, body: bytes
    ) -> tuple[Any, dict[str, Any] | None, str | None, dict[str, Any] | None] | None:
        """The request's document and parameters when this path runs it, else None."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict:
            return None
        query = data.get("query")
        variables = data.get("variables")
        operation_name = data.get("operationName")
        extensions = data.get("extensions")
        if (
            type(query) is not str
            or not (variables is None or type(variables) is dict)
            or not (operation_name is None or type(operation_name) is str)
            or not (extensions is None or type(extensions) is dict)
        ):
            return None
        document = self._valid_document(query)
        if document is None:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation not in _RUNS_HERE:
            return None
        return document, variables, operation_name, extensions

    async def _answer(
        self,
        services: Services,
        context: Context,
        document: Any,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
    ) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
        """Status, extra headers and the response's JSON object."""
        refusal = admission(services, context)
        if refusal is not None:
            status, fields, error = refusal
            headers = [(name.lower().encode(), value.encode()) for name, value in fields.items()]
            return status, headers, self._payload(None, [error], context)
        timeout = context.settings.query_timeout
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            outcome = execute(
                self.graphql_schema,
                document,
                root_value=None,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
                is_awaitable=_is_awaitable,
                executor_class=FootageExecutionContext,
                operation_extensions=extensions,
            )
            if isawaitable(outcome):
                # A timeout can only cancel at an await: the part before (all of an operation
                # that never awaits) runs as it would inside it, and counts against it.
                async with asyncio.timeout_at(deadline):
                    result = await outcome
            else:
                result = outcome
        except TimeoutError:
            late = LimitExceeded(
                f"The query did not finish within {timeout:g} s.", code="TIMEOUT", limit=timeout
            )
            return 504, [], self._payload(None, [late], context)
        except Exception as error:  # a fault outside the resolvers: masked, logged (coded_errors)
            failed = GraphQLError(str(error), original_error=error)
            return 200, [], self._payload(None, [failed], context)
        return 200, [], self._payload(result.data, result.errors, context)

    def _payload(
        self, data: Any, errors: list[GraphQLError] | None, context: Context
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"data": data}
        if errors:
            self.schema._process_errors(errors)
            coded = coded_errors(errors, context.request_id)
            payload["errors"] = [error.formatted for error in coded]
        return payload


class JsonPosts:
    """ASGI middleware, the app's innermost: JSON POSTs to ``path`` go to ``view``'s JsonPost
    before Starlette's exception middleware and router (which would only find the view again);
    what it passes on, and every other request, goes on as it came."""

    def __init__(self, app: ASGIApp, *, view: Any, path: str) -> None:
        self.app = app
        self.view = view
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        json_post: JsonPost | None = self.view.json_post
        if (
            json_post is not None
            and scope["type"] == "http"
            and scope["path"] == self.path
            and scope["method"] == "POST"
        ):
            passed = await json_post(scope, receive, send)
            if passed is None:
                return  # answered
            receive = passed
        await self.app(scope, receive, send)
