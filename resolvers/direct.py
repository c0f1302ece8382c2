"""graphql-core resolvers for the fields a page repeats hundreds of times.

Strawberry wraps every resolver: it builds an ``Info`` and converts each argument by its Python
name, about 27 µs for a field with three optional arguments, whether the client passed them or
not. On a 100-result page with every URL that was 17% of the server's time (BENCHMARKS.md). The
types still declare these fields through Strawberry (arguments, descriptions, the exported
schema, and a working resolver); here the graphql-core field gets a resolver that takes the
arguments as graphql-core coerced them and answers the same, synchronously when the parent
prefetched the value (resolvers.signed_url).
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLObjectType

from app.execution import ignores_path
from resolvers import attached_media, recording, user_test, user_test_result

DIRECT_RESOLVERS = {
    "UserTest": user_test.USER_TEST_DIRECT_RESOLVERS,
    "UserTestResultEdge": user_test.EDGE_DIRECT_RESOLVERS,
    "UserTestResult": user_test_result.RESULT_DIRECT_RESOLVERS,
    "UserTestResultRecordings": user_test_result.DIRECT_RESOLVERS,
    "TestSessionRecording": recording.DIRECT_RESOLVERS,
    "AttachedMedia": attached_media.DIRECT_RESOLVERS,
}


def install_direct_resolvers(schema: strawberry.Schema) -> None:
    for type_name, resolvers in DIRECT_RESOLVERS.items():
        found = schema._schema.get_type(type_name)
        assert isinstance(found, GraphQLObjectType), type_name
        for field_name, resolve in resolvers.items():
            # None of them reads info.path: the executor may share one info per field node.
            found.fields[field_name].resolve = ignores_path(resolve)
