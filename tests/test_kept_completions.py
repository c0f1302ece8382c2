"""Kept answers' completed forms (app.execution.Kept): a later request asking a kept answer with
the same operation, variables and field gets the form an earlier one completed, and answers
exactly as if it had executed the fields; anything that could make two completions differ (a
field that is not stable, an error, an awaitable, middleware) completes every time."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType, parse
from strawberry.extensions import ParserCache, SchemaExtension

from app.execution import (
    KEPT_FIELDS,
    KEPT_FORMS,
    FootageExecutionContext,
    Kept,
    install_leaf_fields,
    stable,
)


@strawberry.type
class Part:
    name: str
    size: int

    # Resolvers replaced below by graphql-core ones (as resolvers.direct installs them).
    @strawberry.field
    def code(self) -> str:
        raise NotImplementedError

    @strawberry.field
    def checked(self) -> str | None:
        raise NotImplementedError

    @strawberry.field
    def counted(self) -> int:
        raise NotImplementedError

    @strawberry.field
    def later(self) -> str:
        raise NotImplementedError


@strawberry.type
class Group:
    title: str
    parts: list[Part]


KEPT: dict[str, Kept] = {}
CALLS: list[str] = []


@strawberry.type
class Query:
    @strawberry.field
    def groups(self, name: str) -> list[Group]:
        raise NotImplementedError

    @strawberry.field
    def echo(self, n: int = 0, names: list[str] | None = None) -> int:
        """Uses the variables that only name other forms."""
        return n + len(names or ())


def _code(source: Part, _info: Any) -> str:
    return source.name.upper()


def _checked(source: Part, _info: Any) -> str | None:
    if source.size < 0:
        raise ValueError("negative size")
    return "ok"


def _counted(source: Part, _info: Any) -> int:
    CALLS.append(source.name)
    return len(CALLS)


async def _later(source: Part, _info: Any) -> str:
    return source.name


def _schema(extensions: list[Any] | None = None) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query,
        execution_context_class=FootageExecutionContext,
        # The app parses each query text once (app.operation_rules): its operations are the same
        # objects from request to request, as a kept form's token requires.
        extensions=[ParserCache, *(extensions or [])],
    )
    query = schema._schema.query_type
    part = schema._schema.get_type("Part")
    assert query is not None
    assert isinstance(part, GraphQLObjectType)
    query.fields["groups"].resolve = lambda _root, _info, name: KEPT[name]
    part.fields["code"].resolve = stable(_code)
    part.fields["checked"].resolve = stable(_checked)
    part.fields["counted"].resolve = _counted  # not stable
    part.fields["later"].resolve = stable(_later)
    install_leaf_fields(schema._schema)
    return schema


@pytest.fixture
def kept() -> Kept:
    KEPT.clear()
    CALLS.clear()
    answer = Kept(
        [
            Group(title="a", parts=[Part(name="x", size=1), Part(name="y", size=2)]),
            Group(title="b", parts=[Part(name="z", size=3)]),
        ]
    )
    KEPT["k"] = answer
    return answer


EXPECTED = {
    "groups": [
        {"title": "a", "parts": [{"name": "x", "code": "X"}, {"name": "y", "code": "Y"}]},
        {"title": "b", "parts": [{"name": "z", "code": "Z"}]},
    ]
}
QUERY = "query($name: String!) { groups(name: $name) { title parts { name code } } }"


async def _run(schema: strawberry.Schema, query: str, **variables: Any) -> Any:
    return await schema.execute(query, variable_values={"name": "k", **variables})


async def test_the_same_selection_gets_the_completed_form(kept: Kept) -> None:
    schema = _schema()
    first = await _run(schema, QUERY)
    assert first.errors is None
    assert first.data == EXPECTED
    assert len(kept.forms) == 1
    # The second request's answer is the very form the first one completed.
    second = await _run(schema, QUERY)
    assert second.errors is None
    assert second.data == EXPECTED
    assert second.data["groups"] is first.data["groups"]


async def test_other_variables_get_forms_of_their_own(kept: Kept) -> None:
    query = """query($name: String!, $codes: Boolean!) {
      groups(name: $name) { title parts { name code @include(if: $codes) } } }"""
    schema = _schema()
    with_codes = await _run(schema, query, codes=True)
    without = await _run(schema, query, codes=False)
    assert with_codes.data == EXPECTED
    assert without.data == {
        "groups": [
            {"title": "a", "parts": [{"name": "x"}, {"name": "y"}]},
            {"title": "b", "parts": [{"name": "z"}]},
        ]
    }
    assert (await _run(schema, query, codes=True)).data == EXPECTED
    assert len(kept.forms) == 2


async def test_aliases_and_fragments_answer_their_own_shape(kept: Kept) -> None:
    query = """query($name: String!) { one: groups(name: $name) { ...g }
      two: groups(name: $name) { t: title parts { code } } }
      fragment g on Group { title parts { n: name } }"""
    schema = _schema()
    for _ in range(2):
        result = await _run(schema, query)
        assert result.errors is None
        assert result.data["one"][1] == {"title": "b", "parts": [{"n": "z"}]}
        assert result.data["two"][1] == {"t": "b", "parts": [{"code": "Z"}]}
    assert len(kept.forms) == 2


async def test_another_document_gets_its_own_form(kept: Kept) -> None:
    schema = _schema()
    await _run(schema, QUERY)
    other = await _run(schema, QUERY.replace("query(", "query Named("))
    assert other.data == EXPECTED
    assert len(kept.forms) == 2


async def test_a_field_that_is_not_stable_runs_every_time(kept: Kept) -> None:
    query = "query($name: String!) { groups(name: $name) { parts { counted } } }"
    schema = _schema()
    first = await _run(schema, query)
    second = await _run(schema, query)
    assert first.data == {
        "groups": [{"parts": [{"counted": 1}, {"counted": 2}]}, {"parts": [{"counted": 3}]}]
    }
    assert second.data == {
        "groups": [{"parts": [{"counted": 4}, {"counted": 5}]}, {"parts": [{"counted": 6}]}]
    }
    assert kept.forms == {}


async def test_a_completion_with_an_error_is_not_kept(kept: Kept) -> None:
    """Every request reports the error itself, at its path."""
    kept.value[1].parts[0].size = -1
    query = "query($name: String!) { groups(name: $name) { parts { name checked } } }"
    schema = _schema()
    for _ in range(2):
        result = await _run(schema, query)
        assert [(e.message, e.path) for e in result.errors or []] == [
            ("negative size", ["groups", 1, "parts", 0, "checked"])
        ]
        assert result.data["groups"][1] == {"parts": [{"name": "z", "checked": None}]}
    assert kept.forms == {}


async def test_an_awaitable_completion_is_not_kept(kept: Kept) -> None:
    query = "query($name: String!) { groups(name: $name) { parts { later } } }"
    schema = _schema()
    for _ in range(2):
        result = await _run(schema, query)
        assert result.data == {
            "groups": [{"parts": [{"later": "x"}, {"later": "y"}]}, {"parts": [{"later": "z"}]}]
        }
    assert kept.forms == {}


async def test_an_answer_that_awaits_is_kept_once_its_completion_is_done(kept: Kept) -> None:
    """``Kept(awaits=True)`` (a page whose edges pause, resolvers.page_answers): its awaiting
    completion is kept when done, ``on_kept`` hears of it once, and later requests get the form
    without awaiting anything."""
    heard: list[Kept] = []
    answer = KEPT["k"] = Kept(kept.value, awaits=True, on_kept=heard.append)
    query = "query($name: String!) { groups(name: $name) { parts { later } } }"
    schema = _schema()
    first = await _run(schema, query)
    assert first.errors is None
    assert first.data == {
        "groups": [{"parts": [{"later": "x"}, {"later": "y"}]}, {"parts": [{"later": "z"}]}]
    }
    assert heard == [answer]
    second = await _run(schema, query)
    assert second.data["groups"] is first.data["groups"]
    assert heard == [answer]


async def test_an_answer_that_awaits_is_not_kept_after_an_error(kept: Kept) -> None:
    heard: list[Kept] = []
    kept.value[1].parts[0].size = -1
    KEPT["k"] = Kept(kept.value, awaits=True, on_kept=heard.append)
    query = "query($name: String!) { groups(name: $name) { parts { later checked } } }"
    schema = _schema()
    for _ in range(2):
        result = await _run(schema, query)
        assert [(e.message, e.path) for e in result.errors or []] == [
            ("negative size", ["groups", 1, "parts", 0, "checked"])
        ]
    assert heard == []
    assert KEPT["k"].forms == {}


async def test_a_released_answer_still_hands_out_its_form(kept: Kept) -> None:
    """``release`` drops the value and keeps the forms; handed to a selection it has no form for,
    the field answers an error rather than a wrong answer."""
    schema = _schema()
    first = await _run(schema, QUERY)
    kept.release()
    again = await _run(schema, QUERY)
    assert again.errors is None
    assert again.data["groups"] is first.data["groups"]
    other = await _run(schema, "query($name: String!) { groups(name: $name) { title } }")
    assert other.data is None
    assert [e.path for e in other.errors or []] == [["groups"]]


async def test_a_kept_answer_holds_a_bounded_number_of_forms(kept: Kept) -> None:
    query = """query($name: String!, $n: Int!) {
      groups(name: $name) { title parts { name } } echo(n: $n) }"""
    schema = _schema()
    for n in range(KEPT_FORMS + 3):
        result = await _run(schema, query, n=n)
        assert result.errors is None
        assert result.data["groups"][1]["title"] == "b"
        assert len(kept.forms) == min(n + 1, KEPT_FORMS)


class _Counting(SchemaExtension):
    calls = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        type(self).calls += 1
        return _next(root, info, *args, **kwargs)


async def test_middleware_sees_every_field_every_time(kept: Kept) -> None:
    schema = _schema(extensions=[_Counting])
    _Counting.calls = 0
    for _ in range(2):
        assert (await _run(schema, QUERY)).data == EXPECTED
    # groups, 2 titles, 2 part lists, 3 names, 3 codes: 11 per request.
    assert _Counting.calls == 22
    assert kept.forms == {}


async def test_list_variables_are_part_of_the_token(kept: Kept) -> None:
    schema = _schema()
    query = """query($name: String!, $names: [String!]!) {
      groups(name: $name) { title parts { name } } echo(names: $names) }"""
    for names in (["a", "b"], ["b", "a"], ["a", "b"]):
        result = await _run(schema, query, names=names)
        assert result.errors is None
        assert result.data["groups"][0]["title"] == "a"
    assert len(kept.forms) == 2


async def test_a_selection_wider_than_the_bound_completes_every_time(kept: Kept) -> None:
    """Aliases would make a kept form many times the answer: past KEPT_FIELDS, none is kept."""
    aliases = " ".join(f"n{i}: name" for i in range(KEPT_FIELDS))
    query = "query($name: String!) { groups(name: $name) { parts { " + aliases + " } } }"
    schema = _schema()
    for _ in range(2):
        result = await _run(schema, query)
        assert result.errors is None
        assert result.data["groups"][1]["parts"][0][f"n{KEPT_FIELDS - 1}"] == "z"
    assert kept.forms == {}


def test_a_form_does_not_keep_its_document_alive() -> None:
    """The parser's cache bounds how many documents live; a kept form does not add to them."""
    kept = Kept([])
    operation = parse("query { a }").definitions[0]
    alive = weakref.ref(operation)
    kept.keep(("token",), operation, "type", ["form"])
    assert kept.form(("token",), operation, "type") == ["form"]
    assert kept.form(("token",), operation, "other type") is None
    del operation
    gc.collect()
    assert alive() is None
    assert kept.form(("token",), parse("query { a }").definitions[0], "type") is None
