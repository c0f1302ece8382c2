"""Parsing and validating an operation: cached, under Footage's limits, as one extension.

Strawberry sets up every schema extension's hooks again for each operation (a context manager
per hook, built by ``contextlib`` and ``functools.update_wrapper``). With Strawberry's own
ParserCache, ValidationCache, MaxTokensLimiter, AddValidationRules and DisableIntrospection
that was a fifth of a `{ __typename }` request's time (BENCHMARKS.md). This extension does what
those five did, with caches owned by the schema that built it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from graphql import ASTValidationRule, GraphQLError, parse
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document

CACHE_SIZE = 1_000


class OperationCaches:
    """Parsed documents and validation results, by query text (and token ceiling) and by
    (schema, document, rules): bounded, so unique query texts cannot grow memory."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.parse: Callable[..., Any] = lru_cache(maxsize=size)(parse)
        self.validate: Callable[..., list[GraphQLError]] = lru_cache(maxsize=size)(
            validate_document
        )


class OperationRules(SchemaExtension):
    """``max_tokens``: the parser's ceiling (None: none); ``rules``: validation rules added to
    GraphQL's own (the tuple is made once, so the validation cache keeps hitting)."""

    def __init__(
        self,
        caches: OperationCaches,
        *,
        max_tokens: int | None = None,
        rules: tuple[type[ASTValidationRule], ...] = (),
    ) -> None:
        self.caches = caches
        self.max_tokens = max_tokens
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        if self.max_tokens is not None:
            context.parse_options["max_tokens"] = self.max_tokens
        if self.rules:
            context.validation_rules = context.validation_rules + self.rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self.caches.parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = self.caches.validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
