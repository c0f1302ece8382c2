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
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.depths = _Depths(context)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = self.depths.of(node.selection_set)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"Query depth {depth} exceeds the limit of {max_depth}.",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP", "limit": max_depth},
                    )
                )

    return QueryDepth


class _Depths:
    """Selection depth, each fragment measured once per document: a fragment's depth does not
    depend on where it is spread, and re-walking it at every spread would let a few lines of
    nested spreads cost exponential time."""

    def __init__(self, context: ValidationContext) -> None:
        self._context = context
        self._fragments: dict[str, int] = {}
        self._walking: set[str] = set()

    def of(self, selections: SelectionSetNode | None) -> int:
        if selections is None:
            return 0
        deepest = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    deepest = max(deepest, 1 + self.of(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.of(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(selection.name.value))
        return deepest

    def _fragment(self, name: str) -> int:
        known = self._fragments.get(name)
        if known is not None:
            return known
        fragment = self._context.get_fragment(name)
        if fragment is None or name in self._walking:  # unknown or cyclic: other rules report it
            return 0
        self._walking.add(name)
        depth = self.of(fragment.selection_set)
        self._walking.discard(name)
        self._fragments[name] = depth
        return depth


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
