"""Validation rules that keep any one document from taking the server down, each with its own
``extensions.code``. Introspection fields are not counted: GraphiQL's own schema query is deep."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    class QueryDepth(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _depth(self.context, node.selection_set, set())
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"Query depth {depth} exceeds the limit of {max_depth}.",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP", "limit": max_depth},
                    )
                )

    return QueryDepth


def _depth(context: ValidationContext, selections: SelectionSetNode | None, seen: set[str]) -> int:
    if selections is None:
        return 0
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            deepest = max(deepest, 1 + _depth(context, selection.selection_set, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(context, selection.selection_set, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in seen:  # unknown or cyclic: other rules report it
                continue
            deepest = max(deepest, _depth(context, fragment.selection_set, seen | {name}))
    return deepest


def alias_limit_rule(max_aliases: int) -> type[ValidationRule]:
    class AliasCount(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0
            self.reported = False

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is None:
                return
            self.count += 1
            if self.count > max_aliases and not self.reported:
                self.reported = True
                self.report_error(
                    GraphQLError(
                        f"The document uses more than {max_aliases} aliases.",
                        node,
                        extensions={"code": "TOO_MANY_ALIASES", "limit": max_aliases},
                    )
                )

    return AliasCount
