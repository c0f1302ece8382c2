"""Errors raised on purpose. Each carries ``extensions.code`` and keeps its message; anything
else that escapes a resolver is masked as INTERNAL (see ``app.schema``)."""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError


class FootageError(GraphQLError):
    code = "INTERNAL"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": self.code, **extensions})


class BadUserInput(FootageError):
    code = "BAD_USER_INPUT"


class Unauthenticated(FootageError):
    code = "UNAUTHENTICATED"


class Forbidden(FootageError):
    code = "FORBIDDEN"


class LimitExceeded(FootageError):
    """A documented limit was passed; ``code`` names which one."""

    def __init__(self, message: str, *, code: str, **extensions: Any) -> None:
        self.code = code
        super().__init__(message, **extensions)


class NotFound(FootageError):
    code = "NOT_FOUND"


class SigningFailed(FootageError):
    code = "SIGNING_FAILED"


class ServiceUnavailable(FootageError):
    """Something the answer depends on (the database) failed just now; retrying may work."""

    code = "SERVICE_UNAVAILABLE"


def code_for_graphql_error(message: str, *, syntax: bool, executed: bool) -> str:
    """The code of an error GraphQL itself raised (parse, validation, variable coercion)."""
    if syntax or message.startswith("Syntax Error"):
        return "TOO_MANY_TOKENS" if "tokens" in message else "GRAPHQL_PARSE_FAILED"
    if executed or _VARIABLE_VALUE.match(message):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


# Variable coercion, the one pre-execution failure that is about the values sent rather than the
# document ("Variable '$a' is never used" is the document's: a validation failure).
_VARIABLE_VALUE = re.compile(
    r"Variable '\$[^']*' (has invalid value|has invalid default value|of required type|"
    r"of non-null type|got invalid value)"
)
