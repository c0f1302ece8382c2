"""The schema object. ``schema.graphql`` is exported from it (``make schema``) and a test fails
when the two drift apart."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from resolvers.query import Query
from resolvers.scalars import SCALARS

log = logging.getLogger("footage.errors")


def _should_mask(error: GraphQLError) -> bool:
    """Mask what nobody raised on purpose. Errors of our own, and GraphQL's own parse and
    validation errors (which have no original error), keep their message and code."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error("unexpected error at %s", error.path, exc_info=original)
    return True


class _MaskUnexpected(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(
            message="Internal server error",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL"},
        )


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        extensions=[
            # Factories: Strawberry builds fresh extensions per operation; the parse and
            # validation caches live at module level, keyed by size, shared by all requests.
            lambda: ParserCache(maxsize=1_000),
            lambda: ValidationCache(maxsize=1_000),
            lambda: _MaskUnexpected(should_mask_error=_should_mask),
        ],
        config=StrawberryConfig(scalar_map=SCALARS),
    )


schema = build_schema()
