"""The schema object and the rules every operation runs under. ``schema.graphql`` is exported
from the module-level ``schema`` (``make schema``); a test fails when the two drift apart. The
app builds its own with its settings' limits (``build_schema(settings)``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.schema import StreamResult
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

from app.context import Context
from app.errors import code_for_graphql_error
from app.execution import FootageExecutionContext, install_leaf_fields
from app.graphql_limits import alias_limit_rule, depth_limit_rule
from app.live import LiveConnection
from app.operation_rules import OperationCaches, OperationRules, RuleSet
from app.settings import Settings
from resolvers.direct import install_direct_resolvers
from resolvers.mutation import Mutation
from resolvers.query import Query
from resolvers.scalars import SCALARS
from resolvers.subscription import Subscription

log = logging.getLogger("footage.errors")


class ErrorPolicy(MaskErrors):
    """Every error leaves with an ``extensions.code`` (``coded_errors``), on Strawberry's path;
    ``app.json_post`` calls ``coded_errors`` itself."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        request_id = getattr(self.execution_context.context, "request_id", None)
        return coded_errors(errors, request_id)

    def _process_result(self, result: object) -> None:
        # MaskErrors asks isinstance() of a runtime-checkable Protocol, which inspects the
        # object's attributes on every operation (4% of a `{ __typename }` request).
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def coded_errors(errors: list[GraphQLError], request_id: str | None) -> list[GraphQLError]:
    """Errors raised on purpose keep their message and code; GraphQL's own parse, validation and
    variable errors get theirs; anything else is masked as INTERNAL with the request id, and
    logged with its traceback."""
    return [_coded(error, request_id) for error in errors]


def _coded(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        return _with(
            error,
            "Only subscriptions run over the websocket; send queries and mutations over HTTP.",
            code="OPERATION_NOT_ALLOWED",
        )
    if original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error at %s (request %s)", error.path, request_id, exc_info=original)
        return _with(error, "Internal server error", code="INTERNAL", requestId=request_id)
    if (error.extensions or {}).get("code"):
        return error
    code = code_for_graphql_error(
        error.message,
        syntax=isinstance(error, GraphQLSyntaxError),
        executed=error.path is not None,
    )
    return _with(error, error.message, code=code)


def _with(error: GraphQLError, message: str, **extensions: object) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), **extensions},
    )


# How many extensions build_schema gives a schema (app.json_post checks it).
EXTENSIONS = 2


class FootageSchema(strawberry.Schema):
    # What its operations are parsed and validated under (set by build_schema).
    rule_set: RuleSet

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Client errors are not the server's to log; ``coded_errors`` logs the unexpected ones."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Never a subscription: they run over the websocket (``stream``). Executed once, a
        subscription's resolver would start listening for a stream nobody reads."""
        allowed = set(allowed_operation_types or OperationType) - {OperationType.SUBSCRIPTION}
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )
        if result.errors:
            # An exception raised outside the resolvers (by the executor itself) leaves through
            # ErrorPolicy's hook before it codes anything: coded (masked, logged) here. Errors
            # that carry a code already are left as they are.
            result.errors = coded_errors(result.errors, getattr(context_value, "request_id", None))
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """On a websocket (the context is the socket's ``LiveConnection``) every operation runs
        with a ``Context`` of its own, closed when the operation ends; and only subscriptions
        run there (queries and mutations go over HTTP, with its limits)."""
        if not isinstance(context_value, LiveConnection):
            return await super().stream(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
        context = context_value.operation_context()
        results = await super().stream(
            query,
            variable_values,
            context,
            root_value,
            operation_name,
            operation_extensions,
            (OperationType.SUBSCRIPTION,),
        )
        return _closing(results, context)


async def _closing(results: StreamResult, context: Context) -> StreamResult:
    try:
        async with aclosing(results):
            try:
                async for result in results:
                    # The event is executed: its connection goes back to the pool before the
                    # result is sent, so a client slow to read holds none.
                    await context.release()
                    yield result
            except GraphQLSyntaxError as error:
                # Strawberry's stream lets a parse error (from the parser cache) escape instead
                # of answering it: answer it as HTTP does, with its code, and keep the socket.
                code = code_for_graphql_error(error.message, syntax=True, executed=False)
                coded = GraphQLError(
                    error.message,
                    source=error.source,
                    positions=error.positions,
                    extensions={"code": code},
                )
                yield PreExecutionError(data=None, errors=[coded])
    finally:
        await context.close()


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with ``settings``' limits; without settings, the contract as exported."""
    # Factories: Strawberry builds fresh extensions per operation. The caches belong to this
    # schema; the rule tuple is made once here, so the validation cache (keyed by schema,
    # document and rules) keeps hitting. One extension for parsing and validation
    # (app.operation_rules): each extension costs every operation its hooks' set-up.
    rules: tuple[type[ASTValidationRule], ...] = ()
    max_tokens: int | None = None
    if settings is not None:
        rules = (depth_limit_rule(settings.max_depth), alias_limit_rule(settings.max_aliases))
        if settings.is_production:
            rules += (NoSchemaIntrospectionCustomRule,)
        max_tokens = settings.max_tokens
    rule_set = RuleSet(OperationCaches(), max_tokens=max_tokens, rules=rules)
    # app.json_post does what these do, and runs only while they are all there is (EXTENSIONS).
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: OperationRules(rule_set),
        lambda: ErrorPolicy(),
    ]
    assert len(extensions) == EXTENSIONS
    built = FootageSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=FootageExecutionContext,
        config=StrawberryConfig(
            scalar_map=SCALARS,
            disable_field_suggestions=settings is not None and settings.is_production,
        ),
    )
    built.rule_set = rule_set
    install_direct_resolvers(built)
    install_leaf_fields(built._schema)
    return built


schema = build_schema()
