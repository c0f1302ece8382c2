"""Property-based fuzzing of ``POST /graphql`` through the real app, on SQLite and PostgreSQL.

Documents come from hypothesis-graphql over the checked-in ``schema.graphql``: valid ones (with
some arguments swapped for real demo values, so that they reach the data and the URL signing)
and invalid ones (one schema violation each, random text, truncated or mutated documents, deep
nesting, many aliases). Hostile variables go through fixed operations, malformed envelopes
through the request body. Whatever arrives, the app must answer as designed: a status below
500, a JSON body, no INTERNAL error and no traceback.

Runs are deterministic (``derandomize``) and keep no example database. Each test tries
``FOOTAGE_FUZZ_EXAMPLES`` cases per backend (150 unless set); for a longer run by hand:
``FOOTAGE_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest -q tests/test_fuzz.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, queries
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import TEST_UUID
from tests.conftest import Backend, ClientFactory
from tests.support.recording_signer import RecordingSigner

SCHEMA_SDL = (Path(__file__).resolve().parents[1] / "schema.graphql").read_text()
SCHEMA = graphql.build_schema(SCHEMA_SDL)
JSON_TYPES = ("application/json", "application/graphql-response+json")
JSON_BODY = {"content-type": "application/json"}
# Errors GraphQL itself reports for documents the server does not accept as they are.
DOCUMENT_ERROR_CODES = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}


def _examples() -> int:
    raw = os.environ.get("FOOTAGE_FUZZ_EXAMPLES", "150")
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"FOOTAGE_FUZZ_EXAMPLES must be a positive integer, got {raw!r}")
    return int(raw)


FUZZ = settings(
    max_examples=_examples(),
    deadline=None,  # one request through the app and the database: no per-example deadline
    derandomize=True,  # the same cases on every run, so CI is deterministic
    database=None,  # no example database under the work tree
    # One app and client serve every example of a test: the examples only read (each runs in a
    # savepoint that is rolled back), so nothing leaks from one to the next.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=False,
)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
async def fuzz_client(
    client_factory: ClientFactory, backend: Backend, signer: RecordingSigner
) -> AsyncIterator[httpx.AsyncClient]:
    """The ``client`` of conftest (the app on the test's transaction, with the demo key),
    without the rate limit: the fuzz sends hundreds of requests a second on one key, and the
    limiter has tests of its own. Every other limit stays as configured."""
    unlimited = dataclasses.replace(backend.settings, rate_limit_per_minute=0)
    async with client_factory(settings=unlimited, signer=signer) as http:
        yield http


@dataclass(frozen=True, repr=False)
class DemoValues:
    """Real arguments from the demo workspace, sorted so that derandomized runs repeat."""

    uuids: tuple[str, ...]
    result_uuids: tuple[str, ...]
    ids: tuple[str, ...]
    cursors: tuple[str, ...]

    def __repr__(self) -> str:
        return f"DemoValues({len(self.result_uuids)} results, {len(self.ids)} ids)"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        # Hypothesis prints the fixtures of a failing case; the values drawn are printed anyway.
        printer.text(repr(self))


DEMO_VALUES_QUERY = """
query DemoValues($uuid: String!) {
  userTest(uuid: $uuid) {
    id uuid
    results(first: 6) {
      edges {
        cursor
        node {
          id responseUUID
          recordings {
            download { id attachedMedia { media { id } } }
            screen { id }
            audio { id }
          }
        }
      }
    }
  }
}
"""


@pytest.fixture
async def demo(fuzz_client: httpx.AsyncClient) -> DemoValues:
    response = await fuzz_client.post(
        "/graphql", json={"query": DEMO_VALUES_QUERY, "variables": {"uuid": TEST_UUID}}
    )
    body = response.json()
    assert "errors" not in body, body
    user_test = body["data"]["userTest"]
    edges = user_test["results"]["edges"]
    ids = {user_test["id"]}
    for edge in edges:
        node = edge["node"]
        ids.add(node["id"])
        for recording in node["recordings"].values():
            if recording is not None:
                ids.add(recording["id"])
                for language in recording.get("attachedMedia", []):
                    ids.update(item["id"] for item in language["media"])
    return DemoValues(
        uuids=(user_test["uuid"],),
        result_uuids=tuple(sorted(edge["node"]["responseUUID"] for edge in edges)),
        ids=tuple(sorted(ids)),
        cursors=tuple(sorted(edge["cursor"] for edge in edges)),
    )


# -- sending and judging -------------------------------------------------------------------------


async def send(
    http: httpx.AsyncClient, connection: AsyncConnection, payload: object
) -> httpx.Response:
    """POST ``payload`` as JSON (``None`` too: the body ``null``) inside a savepoint that is
    rolled back: a statement that fails on PostgreSQL would otherwise abort the test's
    transaction for every later example."""
    content = json.dumps(payload).encode()
    savepoint = await connection.begin_nested()
    try:
        return await http.post("/graphql", content=content, headers=JSON_BODY)
    except Exception as error:
        # httpx's ASGI transport re-raises what escaped the app; a real server answers 500.
        raise AssertionError(f"the app raised {error!r}: a server answers 500") from error
    finally:
        await savepoint.rollback()


def answered_as_designed(response: httpx.Response) -> dict[str, Any]:
    """The body, once checked: below 500, JSON, every error coded, none INTERNAL, no traceback.
    One assertion per property, so Hypothesis reports each kind of failure on its own."""
    note(f"HTTP {response.status_code} {response.headers.get('content-type')}: {response.text}")
    assert response.status_code < 500, "a server error"
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert content_type in JSON_TYPES, f"not a JSON response: {content_type!r}"
    body = json.loads(response.content)
    assert isinstance(body, dict), "the body is not a JSON object"
    errors = body.get("errors", [])
    assert isinstance(errors, list), "errors is not a list"
    assert "data" in body or errors, "neither data nor errors"
    assert all(isinstance(error.get("message"), str) for error in errors), "an error without text"
    codes = codes_of(body)
    assert all(codes), "an error without extensions.code"
    assert "INTERNAL" not in codes, "an unexpected error escaped a resolver"
    assert "Traceback" not in response.text, "a traceback in the response"
    return body


def codes_of(body: dict[str, Any]) -> list[str | None]:
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors", [])]


# -- strategies: valid documents -----------------------------------------------------------------

SMALL_INTS = st.sampled_from([0, 1, 2, 5, 20, 99, 100, 101, -1])
EXPIRIES = st.sampled_from([1, 60, 899, 900, 3_600, 604_800, 604_801, 0, -1])


@st.composite
def with_demo_values(draw: st.DrawFn, document: str, demo: DemoValues) -> str:
    """``document`` with some arguments replaced by real demo values, so that a share of the
    generated queries finds data instead of null (random strings never name a real result)."""
    strings = {
        "uuid": demo.uuids,
        "resultUuid": demo.result_uuids,
        "id": demo.ids,
        "after": demo.cursors,
        "before": demo.cursors,
    }
    ints = {"first": SMALL_INTS, "last": SMALL_INTS, "expiresIn": EXPIRIES}

    class Substitute(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: object) -> object:
            name = node.name.value
            if name in strings and draw(st.booleans()):
                value: graphql.ValueNode = graphql.StringValueNode(
                    value=draw(st.sampled_from(strings[name]))
                )
            elif name in ints and draw(st.booleans()):
                value = graphql.IntValueNode(value=str(draw(ints[name])))
            else:
                return None  # keep the generated argument
            return graphql.ArgumentNode(name=node.name, value=value)

    return graphql.print_ast(graphql.visit(graphql.parse(document), Substitute()))


# -- strategies: invalid documents ---------------------------------------------------------------

VALID_DOCUMENTS: st.SearchStrategy[str] = queries(SCHEMA_SDL)
SYNTAX = '{}()[]:$@!.=|&,"\\#\n\t \x00…'


@st.composite
def truncated(draw: st.DrawFn) -> str:
    document = draw(VALID_DOCUMENTS)
    return document[: draw(st.integers(0, max(len(document) - 1, 0)))]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid document with one character deleted, inserted or replaced, or a slice doubled."""
    document = draw(VALID_DOCUMENTS)
    at = draw(st.integers(0, len(document)))
    char = draw(st.sampled_from(SYNTAX) | st.characters(exclude_categories=["Cs"]))
    operation = draw(st.sampled_from(["delete", "insert", "replace", "double"]))
    if operation == "delete":
        return document[:at] + document[at + 1 :]
    if operation == "insert":
        return document[:at] + char + document[at:]
    if operation == "replace":
        return document[:at] + char + document[at + 1 :]
    end = draw(st.integers(at, len(document)))
    return document[:end] + document[at:end] + document[end:]


@st.composite
def deeply_nested(draw: st.DrawFn) -> str:
    """Nesting past the parser's and the depth rule's limits, in selections and in values."""
    depth = draw(st.integers(1, 2_000))
    kind = draw(st.sampled_from(["fields", "schema fields", "lists", "objects", "fragments"]))
    if kind == "fields":
        return "{" + " a {" * depth + " b " + "}" * depth + "}"
    if kind == "schema fields":
        rounds = depth % 40 + 1
        opening = "results { edges { node { userTest { " * rounds
        closing = "} } } } " * rounds
        return f'{{ userTest(uuid: "{TEST_UUID}") {{ {opening}id {closing}}} }}'
    if kind == "lists":
        return "{ userTest(uuid: " + "[" * depth + '"x"' + "]" * depth + ") { id } }"
    if kind == "objects":
        return "{ userTest(uuid: " + "{a: " * depth + "1" + "}" * depth + ") { id } }"
    # A chain of fragments, each spreading the next. Not a fan-out (each spreading the next
    # twice): what that tests is time, not answers, and the suite has no timed tests.
    chain = depth % 200 + 1
    fragments = (
        "\n".join(f"fragment F{i} on UserTest {{ id ...F{i + 1} }}" for i in range(chain))
        + f"\nfragment F{chain} on UserTest {{ name }}"
    )
    return f'{{ userTest(uuid: "{TEST_UUID}") {{ ...F0 }} }}\n{fragments}'


@st.composite
def many_aliases(draw: st.DrawFn) -> str:
    count = draw(st.integers(1, 3_000))
    field = draw(
        st.sampled_from(
            ["__typename", f'userTest(uuid: "{TEST_UUID}") {{ name }}', "node(id: 1) { id }"]
        )
    )
    return "{ " + " ".join(f"a{i}: {field}" for i in range(count)) + " }"


HUGE_INTS = st.integers(min_value=2**31).map(str) | st.integers(max_value=-(2**31) - 1).map(str)


@st.composite
def huge_literals(draw: st.DrawFn) -> str:
    number = draw(HUGE_INTS | st.sampled_from(["1e400", "-0", "0x10", "1_000", "9" * 400]))
    argument = draw(st.sampled_from(["first", "last"]))
    return (
        f'{{ userTest(uuid: "{TEST_UUID}") {{ results({argument}: {number}) {{ totalCount }} }} }}'
    )


INVALID_DOCUMENTS: st.SearchStrategy[tuple[str, str]] = st.one_of(
    queries(SCHEMA_SDL, mode=Mode.NEGATIVE).map(lambda doc: ("schema violation", doc)),
    st.text(max_size=300).map(lambda doc: ("random text", doc)),
    truncated().map(lambda doc: ("truncated", doc)),
    mutated().map(lambda doc: ("mutated", doc)),
    deeply_nested().map(lambda doc: ("deeply nested", doc)),
    many_aliases().map(lambda doc: ("many aliases", doc)),
    huge_literals().map(lambda doc: ("huge literal", doc)),
)


# -- strategies: variables and envelopes ---------------------------------------------------------

# Fixed operations whose variables are fuzzed; checked against schema.graphql below, so that a
# schema change cannot quietly turn them into validation errors that test nothing.
URL_ARGS = "(expiresIn: $expiresIn, disposition: $disposition, filename: $filename)"
URL_VARIABLES = "$expiresIn: Int, $disposition: MediaDisposition, $filename: String"


def page_operation(name: str, *arguments: str) -> str:
    types = {"first": "Int", "last": "Int", "after": "String", "before": "String"}
    variables = ", ".join(f"${argument}: {types[argument]}" for argument in arguments)
    passed = ", ".join(f"{argument}: ${argument}" for argument in arguments)
    return f"""
        query {name}($uuid: String!, {variables}) {{
          userTest(uuid: $uuid) {{
            results({passed}) {{
              totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
              edges {{ cursor node {{ pk status }} }}
            }}
          }}
        }}"""


OPERATIONS = {
    # Paging one way, as clients do (a size and a cursor), and with all four arguments at once.
    "forward": page_operation("Forward", "first", "after"),
    "backward": page_operation("Backward", "last", "before"),
    "page": page_operation("Page", "first", "after", "last", "before"),
    "media": f"""
        query Media($resultUuid: String!, {URL_VARIABLES},
                    $languages: [String!], $types: [MediaType!], $statuses: [MediaStatus!]) {{
          userTestResult(resultUuid: $resultUuid) {{
            recordings {{
              download {{
                mediaUrl{URL_ARGS} signedMediaUrl{URL_ARGS} {{ url expiresAt expiresIn }}
                attachedMedia(languages: $languages, types: $types, statuses: $statuses) {{
                  language media {{ type status url{URL_ARGS} }}
                }}
              }}
            }}
          }}
        }}""",
    "node": f"""
        query Node($id: ID!, {URL_VARIABLES}) {{
          node(id: $id) {{
            id
            ... on TestSessionRecording {{ mediaUrl{URL_ARGS} }}
            ... on AttachedMedia {{ signedUrl{URL_ARGS} {{ url expiresIn }} }}
            ... on UserTest {{ results(first: 2) {{ edges {{ cursor }} }} }}
          }}
        }}""",
}

# Text with what breaks naive code: NUL and control characters, Unicode digits, long runs.
HOSTILE_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(categories=["Cc", "Nd", "No", "Zs", "Mn"])),
    st.sampled_from(["", " ", "\x00", "../../etc/passwd", "%00", "null", "ut_", "ut_response_"]),
    st.integers(0, 20_000).map(lambda n: "x" * n),
)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


TYPE_NAMES = st.sampled_from(
    ["UserTest", "UserTestResult", "TestSessionRecording", "AttachedMedia", "Query", "Node", ""]
)
# What passes for a number in a key: the edges of 32 and 64 bits and past them, and every digit
# str.isdigit() accepts (of the Basic Multilingual Plane), int() refusing some ("²").
ISDIGIT = "".join(char for char in map(chr, range(0x10000)) if char.isdigit())
DIGITS = st.one_of(
    st.integers(min_value=-1, max_value=10**25).map(str),
    st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 10**19 - 1, 10**19]).map(str),
    st.text(alphabet=ISDIGIT, min_size=1, max_size=20),
)
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_TEXT,
)
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four, ``other`` the fourth."""
    return st.integers(0, 3).flatmap(lambda n: other if n == 0 else usual)


def variable_strategies(demo: DemoValues) -> dict[str, st.SearchStrategy[Any]]:
    """Per variable: real values and well-typed hostile ones."""

    def enum_values(enum: str) -> st.SearchStrategy[Any]:
        enum_type = SCHEMA.type_map[enum]
        assert isinstance(enum_type, graphql.GraphQLEnumType), enum
        return st.sampled_from(sorted(enum_type.values)) | HOSTILE_TEXT

    ids = st.one_of(
        st.sampled_from(demo.ids),
        st.builds(lambda name, key: b64(f"{name}:{key}"), TYPE_NAMES, HOSTILE_TEXT | DIGITS),
        st.binary(max_size=64).map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
        HOSTILE_TEXT,
    )
    cursors = st.one_of(
        st.sampled_from(demo.cursors),
        DIGITS.map(lambda key: b64(f"v1:{key}")),
        HOSTILE_TEXT.map(lambda key: b64(f"v1:{key}")),
        HOSTILE_TEXT,
    )
    ints = st.one_of(SMALL_INTS, EXPIRIES, st.integers(), st.sampled_from([2**31 - 1, 2**53]))
    specific: dict[str, st.SearchStrategy[Any]] = {
        # Mostly real: the cursor, page-size and URL arguments are only read once one is found.
        "uuid": mostly(st.sampled_from(demo.uuids), HOSTILE_TEXT),
        "resultUuid": mostly(st.sampled_from(demo.result_uuids), HOSTILE_TEXT),
        "id": ids,
        "after": cursors,
        "before": cursors,
        "first": mostly(st.integers(1, 100), ints),  # a size in bounds lets the cursor be read
        "last": mostly(st.integers(1, 100), ints),
        "expiresIn": ints,
        "filename": HOSTILE_TEXT,
        "disposition": enum_values("MediaDisposition"),
        "languages": st.lists(HOSTILE_TEXT | st.sampled_from(["en", "fr"]), max_size=5),
        "types": st.lists(enum_values("MediaType"), max_size=6),
        "statuses": st.lists(enum_values("MediaStatus"), max_size=8),
    }
    return specific


def declared_variables(operation: str) -> list[str]:
    [definition] = graphql.parse(operation).definitions
    assert isinstance(definition, graphql.OperationDefinitionNode)
    return [variable.variable.name.value for variable in definition.variable_definitions or ()]


@st.composite
def hostile_request(draw: st.DrawFn, demo: DemoValues) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(OPERATIONS)))
    strategies = variable_strategies(demo)
    variables = {}
    for variable in declared_variables(OPERATIONS[name]):
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # now and then leave one out, required or not
        # Mostly of the declared type, so that most requests get past coercion to the resolvers.
        variables[variable] = draw(ANY_JSON if choice <= 2 else strategies[variable])
    if draw(st.booleans()):
        variables.update(draw(st.dictionaries(st.text(max_size=10), ANY_JSON, max_size=2)))
    return {"query": OPERATIONS[name], "variables": variables}


ENVELOPES: st.SearchStrategy[Any] = st.one_of(
    ANY_JSON,  # not an object at all
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.sampled_from(["{ __typename }", "query A { __typename }"]) | ANY_JSON,
            "variables": ANY_JSON,
            "operationName": st.sampled_from(["A", "B", ""]) | ANY_JSON,
            "extensions": ANY_JSON,
        },
    ),
)


# -- tests ---------------------------------------------------------------------------------------


def test_fuzz_operations_are_valid_for_the_checked_in_schema() -> None:
    """The fixed operations whose variables are fuzzed validate against ``schema.graphql``:
    otherwise every hostile-variable case would stop at validation and test nothing."""
    for name, operation in OPERATIONS.items():
        assert graphql.validate(SCHEMA, graphql.parse(operation)) == [], name
    assert graphql.validate(SCHEMA, graphql.parse(DEMO_VALUES_QUERY)) == []


@FUZZ
@given(generated=VALID_DOCUMENTS, data=st.data())
async def test_fuzz_valid_documents_are_answered_without_internal_errors(
    fuzz_client: httpx.AsyncClient,
    connection: AsyncConnection,
    demo: DemoValues,
    generated: str,
    data: st.DataObject,
) -> None:
    """Any document valid against ``schema.graphql``, with random or real arguments, is
    executed: the server accepts what the published schema accepts, and errors are only those
    raised on purpose (bad input, limits), never INTERNAL."""
    document = data.draw(with_demo_values(generated, demo))  # printed with a failing case

    body = answered_as_designed(await send(fuzz_client, connection, {"query": document}))

    rejected = DOCUMENT_ERROR_CODES.intersection(codes_of(body))
    assert not rejected, "the server rejects a document the published schema accepts"


@FUZZ
@given(case=INVALID_DOCUMENTS)
async def test_fuzz_invalid_documents_are_refused_without_internal_errors(
    fuzz_client: httpx.AsyncClient, connection: AsyncConnection, case: tuple[str, str]
) -> None:
    """Broken documents (schema violations, random text, truncation, mutation, deep nesting,
    many aliases, out-of-range literals) get a coded client error, never a 500 or INTERNAL;
    a document with a schema violation is never executed."""
    kind, document = case
    note(f"{kind}: {document!r}")

    body = answered_as_designed(await send(fuzz_client, connection, {"query": document}))

    if kind == "schema violation":
        assert body.get("errors"), "an invalid document was accepted"
        assert body.get("data") is None, "an invalid document was executed"


@FUZZ
@given(data=st.data())
async def test_fuzz_hostile_variables_are_refused_without_internal_errors(
    fuzz_client: httpx.AsyncClient,
    connection: AsyncConnection,
    demo: DemoValues,
    data: st.DataObject,
) -> None:
    """Variables of any JSON shape (wrong types, huge ints, bad enum values, malformed ids,
    cursors and uuids, hostile filenames) next to real ones reach coercion and the resolvers
    and come back as coded errors or data, never INTERNAL."""
    request = data.draw(hostile_request(demo))  # Hypothesis prints the draws of a failure

    answered_as_designed(await send(fuzz_client, connection, request))


@FUZZ
@given(envelope=ENVELOPES)
async def test_fuzz_malformed_request_bodies_are_refused_as_json(
    fuzz_client: httpx.AsyncClient, connection: AsyncConnection, envelope: Any
) -> None:
    """A JSON body of any shape (not an object; ``query``, ``variables``, ``operationName`` or
    ``extensions`` of the wrong type) gets a JSON answer below 500, never INTERNAL."""
    note(json.dumps(envelope, ensure_ascii=False))

    answered_as_designed(await send(fuzz_client, connection, envelope))
