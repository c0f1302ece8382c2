"""Parsing and validating an operation: cached, under Footage's limits, as one extension.

Strawberry sets up every schema extension's hooks again for each operation (a context manager
per hook, built by ``contextlib`` and ``functools.update_wrapper``). With Strawberry's own
ParserCache, ValidationCache, MaxTokensLimiter, AddValidationRules and DisableIntrospection
that was a fifth of a `{ __typename }` request's time (BENCHMARKS.md). This extension does what
those five did, with caches owned by the schema that built it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import specified_rules
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


@dataclass(frozen=True)
class RuleSet:
    """What every operation is parsed and validated under, with the caches: used by the
    extension below (Strawberry's path) and by ``app.json_post`` alike, so both parse, validate
    and cache one document the same way. ``max_tokens``: the parser's ceiling (None: none);
    ``rules``: validation rules added to GraphQL's own (the tuple is made once, so the
    validation cache keeps hitting)."""

    caches: OperationCaches = field(default_factory=OperationCaches)
    max_tokens: int | None = None
    rules: tuple[type[ASTValidationRule], ...] = ()

    @property
    def parse_options(self) -> dict[str, int]:
        return {} if self.max_tokens is None else {"max_tokens": self.max_tokens}

    def document(self, query: str) -> DocumentNode:
        """The parsed document (cached); a GraphQLError when it does not parse."""
        document: DocumentNode = self.caches.parse(query, **self.parse_options)
        return document

    @cached_property
    def validation_rules(self) -> tuple[type[ASTValidationRule], ...]:
        return (*specified_rules, *self.rules)

    def validate(self, schema: GraphQLSchema, document: DocumentNode) -> list[GraphQLError]:
        """The document's validation errors (cached, by schema, document and rules)."""
        return self.caches.validate(schema, document, self.validation_rules)


class OperationRules(SchemaExtension):
    """The rule set, applied on Strawberry's path."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options.update(self.rule_set.parse_options)  # type: ignore[typeddict-item]
        if self.rule_set.rules:
            context.validation_rules = context.validation_rules + self.rule_set.rules
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self.rule_set.caches.parse(
            context.query, **context.parse_options
        )
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = self.rule_set.caches.validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
