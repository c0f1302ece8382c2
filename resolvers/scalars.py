from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import IntValueNode, ValueNode

from app.errors import BadUserInput

_MAX_SAFE = 2**53 - 1

SafeInt = NewType("SafeInt", int)


def _parse_safe_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _MAX_SAFE:
        raise BadUserInput("SafeInt must be a whole number between -(2^53-1) and 2^53-1")
    return value


def _parse_safe_int_literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise BadUserInput("SafeInt must be a whole number")
    return _parse_safe_int(int(node.value))


SCALARS: dict[object, Any] = {
    SafeInt: strawberry.scalar(
        name="SafeInt",
        description=(
            "A whole number up to 2^53-1 (exact in JSON), for values beyond GraphQL Int's 32 bits "
            "such as file sizes in bytes."
        ),
        serialize=int,
        parse_value=_parse_safe_int,
        parse_literal=_parse_safe_int_literal,
    )
}
