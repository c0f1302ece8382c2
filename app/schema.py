"""The schema object and the rules every operation runs under. ``schema.graphql`` is exported
from the module-level ``schema`` (``make schema``); a test fails when the two drift apart. The
app builds its own with its settings' limits (``build_schema(settings)``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from app.errors import code_for_graphql_error
from app.graphql_limits import alias_limit_rule, depth_limit_rule
from app.settings import Settings
from resolvers.query import Query
from resolvers.scalars import SCALARS

log = logging.getLogger("footage.errors")


class ErrorPolicy(MaskErrors):
    """Every error leaves with an ``extensions.code``. Errors raised on purpose keep their
    message and code; GraphQL's own parse, validation and variable errors get theirs; anything
    else is masked as INTERNAL with the request id, and logged with its traceback."""

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        request_id = getattr(self.execution_context.context, "request_id", None)
        return [self._coded(error, request_id) for error in errors]

    def _coded(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        if original is not None and not isinstance(original, GraphQLError):
            log.error(
                "unexpected error at %s (request %s)", error.path, request_id, exc_info=original
            )
            return self._with(error, "Internal server error", code="INTERNAL", requestId=request_id)
        if (error.extensions or {}).get("code"):
            return error
        code = code_for_graphql_error(
            error.message,
            syntax=isinstance(error, GraphQLSyntaxError),
            executed=error.path is not None,
        )
        return self._with(error, error.message, code=code)

    @staticmethod
    def _with(error: GraphQLError, message: str, **extensions: object) -> GraphQLError:
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**(error.extensions or {}), **extensions},
        )


class FootageSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Client errors are not the server's to log; ErrorPolicy logs the unexpected ones."""


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with ``settings``' limits; without settings, the contract as exported."""
    # Factories: Strawberry builds fresh extensions per operation. The parse and validation
    # caches live at module level, keyed by size; the rule classes are made once here so the
    # validation cache (keyed by schema, document and rules) keeps hitting.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=1_000),
        lambda: ValidationCache(maxsize=1_000),
        lambda: ErrorPolicy(),
    ]
    if settings is not None:
        rules: list[type[ASTValidationRule]] = [
            depth_limit_rule(settings.max_depth),
            alias_limit_rule(settings.max_aliases),
        ]
        max_tokens = settings.max_tokens
        extensions += [
            lambda: MaxTokensLimiter(max_token_count=max_tokens),
            lambda: AddValidationRules(rules),
        ]
        if settings.is_production:
            extensions.append(DisableIntrospection)
    return FootageSchema(
        query=Query,
        extensions=extensions,
        config=StrawberryConfig(
            scalar_map=SCALARS,
            disable_field_suggestions=settings is not None and settings.is_production,
        ),
    )


schema = build_schema()
