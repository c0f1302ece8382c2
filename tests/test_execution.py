"""The executor's shortcut for plain leaf fields answers exactly as graphql-core does: same data,
same errors at the same paths, nulls propagated the same way."""

from __future__ import annotations

import dataclasses
import enum
import gc
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NewType

import httpx
import pytest
import strawberry
from graphql import parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app import execution
from app.answers import AnswerCache
from app.demo.queries import document
from app.execution import FootageExecutionContext, install_leaf_fields, leaf_fields
from tests.support.graphql import same_signing_window


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Row:
    name: Any = "row"
    count: Any = 1
    colour: Any = Colour.RED
    at: Any = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    note: Any = None
    flag: Any = True


@strawberry.type
class Item:
    name: str
    count: int
    colour: Colour
    at: datetime
    note: str | None
    flag: bool

    @strawberry.field
    def shout(self) -> str:
        return str(self.name).upper()

    @strawberry.field
    def repeat(self, times: int = 2, sep: str | None = None) -> str:
        return (sep or "").join([str(self.name)] * times)

    @strawberry.field
    def strict(self, answer: str) -> int:
        return ANSWERS[answer]()  # type: ignore[no-any-return]

    @strawberry.field
    def loose(self, answer: str) -> int | None:
        return ANSWERS[answer]()  # type: ignore[no-any-return]

    @strawberry.field
    async def later_count(self, answer: str) -> int:
        return ANSWERS[answer]()  # type: ignore[no-any-return]


def _raise() -> Any:
    raise ValueError("resolver failed")


ANSWERS: dict[str, Any] = {
    "one": lambda: 1,
    "none": lambda: None,
    "huge": lambda: 2**40,
    "text": lambda: "seven",
    "raise": _raise,
    "exception": lambda: ValueError("returned, not raised"),
}


@strawberry.type
class Holder:
    item: Item | None
    items: list[Item]


ROWS: dict[str, Any] = {}


@strawberry.type
class Query:
    @strawberry.field
    def holder(self, case: str) -> Holder:
        return Holder(item=ROWS[case], items=[Row(), ROWS[case], Row(name="last")])  # type: ignore[list-item]

    @strawberry.field
    async def later(self, case: str) -> Item | None:
        return ROWS[case]  # type: ignore[no-any-return]


class _Shade(enum.Enum):
    """Another enum with a member named and valued as Colour's."""

    RED = "red"


class _Text(str):
    """A str of another class: not a plain value of a String field."""


class _NoName:
    count = 2
    colour = Colour.BLUE
    at = datetime(2026, 1, 2, tzinfo=UTC)
    note = "n"
    flag = False


class _Raises:
    name = "raises"
    colour = Colour.RED
    at = datetime(2026, 1, 2, tzinfo=UTC)
    note = None
    flag = True

    @property
    def count(self) -> Any:
        raise RuntimeError("broken property")


ROWS.update(
    plain=Row(),
    null_in_non_null=Row(name=None),
    int_too_big=Row(count=2**40),
    int_from_string=Row(count="12"),
    bad_int=Row(count="twelve"),
    bad_enum=Row(colour="GREEN"),
    enum_value_not_member=Row(colour="red"),
    other_enum_member=Row(colour=_Shade.RED),
    naive_datetime=Row(at=datetime(2026, 1, 2)),
    not_a_datetime=Row(at="yesterday"),
    missing_attribute=_NoName(),
    raising_property=_Raises(),
    note_set=Row(note="hello"),
    note_not_a_string=Row(note=12),
    string_from_bool=Row(note=True),
    string_subclass=Row(name=_Text("sub")),
    flag_false=Row(flag=False),
    flag_from_int=Row(flag=0),
    bad_flag=Row(flag="yes"),
)

DOCUMENT = """
query ($case: String!, $skip: Boolean!, $answer: String!, $times: Int) {
  __typename
  holder(case: $case) {
    t: __typename
    item { ...fields }
    items { ...fields n2: name @skip(if: $skip) }
  }
  later(case: $case) { ...fields __typename }
}
fragment fields on Item {
  name count colour at note flag shout alias: name again: count @include(if: $skip)
  repeat r3: repeat(times: 3, sep: "-") rv: repeat(times: $times)
  strict(answer: $answer) loose(answer: $answer) laterCount(answer: $answer)
}
"""


def _schema(context_class: type, **kwargs: Any) -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, execution_context_class=context_class, **kwargs)
    install_leaf_fields(schema._schema)
    return schema


async def _answers(
    schema: strawberry.Schema, case: str, skip: bool, answer: str = "one"
) -> tuple[Any, Any]:
    variables = {"case": case, "skip": skip, "answer": answer, "times": 4}
    return _outcome(await schema.execute(DOCUMENT, variable_values=variables))


def _outcome(result: Any) -> tuple[Any, Any]:
    """The data, and each error's message, path and locations (in the order raised)."""
    errors = (
        [(error.message, tuple(error.path or ()), str(error.locations)) for error in result.errors]
        if result.errors
        else None
    )
    return result.data, errors


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("case", sorted(ROWS))
async def test_shortcut_answers_as_graphql_core(case: str, skip: bool) -> None:
    expected = await _answers(_schema(StrawberryGraphQLCoreExecutionContext), case, skip)
    got = await _answers(_schema(FootageExecutionContext), case, skip)
    assert got == expected


@pytest.mark.parametrize("answer", sorted(ANSWERS))
async def test_resolved_leaves_answer_as_graphql_core(answer: str) -> None:
    expected = await _answers(
        _schema(StrawberryGraphQLCoreExecutionContext), "plain", False, answer
    )
    got = await _answers(_schema(FootageExecutionContext), "plain", False, answer)
    assert got == expected


@pytest.mark.parametrize("answer", sorted(ANSWERS))
async def test_resolved_leaves_sharing_their_call_answer_as_graphql_core(answer: str) -> None:
    """Leaf resolvers marked as ignoring the path: from the field node's second item on, the
    first item's arguments and info are reused and the item's path is made only to report an
    error or complete a result that is not plain. Errors still name each item's own path."""
    schema = _schema(FootageExecutionContext)
    item = schema._schema.type_map["Item"]
    for name in ("shout", "repeat", "strict", "loose", "laterCount"):
        field = item.fields[name]  # type: ignore[union-attr]
        field.resolve = execution.ignores_path(field.resolve)
    install_leaf_fields(schema._schema)
    expected = await _answers(
        _schema(StrawberryGraphQLCoreExecutionContext), "plain", False, answer
    )
    got = await _answers(schema, "plain", False, answer)
    assert got == expected


def test_only_leaf_fields_take_the_shortcuts() -> None:
    schema = _schema(FootageExecutionContext)
    table = leaf_fields(schema._schema)
    plain = sorted(name for name, how in table["Item"].items() if how.attribute)
    resolved = sorted(name for name, how in table["Item"].items() if not how.attribute)
    assert plain == ["at", "colour", "count", "flag", "name", "note"]
    assert resolved == ["laterCount", "loose", "repeat", "shout", "strict"]
    assert table["Holder"] == {}  # object and list fields go through graphql-core
    assert table["Query"] == {}


class _CountingMiddleware(SchemaExtension):
    calls = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        type(self).calls += 1
        return _next(root, info, *args, **kwargs)


async def test_middleware_sees_every_field() -> None:
    schema = _schema(FootageExecutionContext, extensions=[_CountingMiddleware])
    _CountingMiddleware.calls = 0
    result = await schema.execute('{ later(case: "plain") { name count colour at note } }')
    assert result.errors is None
    assert _CountingMiddleware.calls == 6  # later + its five plain fields


@pytest.mark.parametrize("name", ["specificResult", "listResults", "GetAllResults"])
async def test_seed_queries_answer_the_same_without_the_shortcut(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    body = {"query": document(name)}
    same_signing_window(client)
    with_shortcut = (await client.post("/graphql", json=body)).json()
    # Again: what the first request kept (app.answers, and their completed forms) answers now.
    again = (await client.post("/graphql", json=body)).json()
    # graphql-core's own executor, over a page built again: a kept page is handed out only as
    # its completed form (resolvers.page_answers), which graphql-core does not know.
    state = client._transport.app.state  # type: ignore[attr-defined]
    monkeypatch.setattr(
        state, "services", dataclasses.replace(state.services, pages=AnswerCache(0))
    )
    monkeypatch.setattr(FootageExecutionContext, "execute_fields", _graphql_core_execute_fields)
    monkeypatch.setattr(FootageExecutionContext, "complete_value", _graphql_core_complete_value)
    without = (await client.post("/graphql", json=body)).json()
    assert "errors" not in with_shortcut
    assert with_shortcut == again == without


_graphql_core_execute_fields = StrawberryGraphQLCoreExecutionContext.execute_fields


def _graphql_core_complete_value(
    self: Any,
    return_type: Any,
    field_details_list: Any,
    info: Any,
    path: Any,
    result: Any,
    position_context: Any,
) -> Any:
    """graphql-core's, given the value a kept answer holds (``execution.Kept``)."""
    if type(result) is execution.Kept:
        result = result.value
    return StrawberryGraphQLCoreExecutionContext.complete_value(
        self, return_type, field_details_list, info, path, result, position_context
    )


assert execution.FootageExecutionContext.execute_fields is not _graphql_core_execute_fields


# -- one field node, several object types (a fragment on an interface) --------------------------


@strawberry.interface
class Medium:
    @strawberry.field
    def url(self, expires_in: int = 60) -> str:
        return f"{type(self).__name__} {expires_in}"


@strawberry.type
class Audio(Medium):
    @strawberry.field
    def url(self, expires_in: int = 60, disposition: str = "inline") -> str:
        return f"audio {expires_in} {disposition}"


@strawberry.type
class Video(Medium):
    @strawberry.field
    def url(self, expires_in: int = 60, disposition: str = "attachment") -> str:
        return f"video {expires_in} {disposition}"


@strawberry.type
class MediaQuery:
    @strawberry.field
    def media(self) -> list[Medium]:
        return [Audio(), Video(), Audio()]


async def test_arguments_are_coerced_per_field_not_only_per_node() -> None:
    """One ``url`` node runs for Audio and for Video, whose fields differ in arguments and
    defaults: each gets its own."""
    document = "{ media { __typename ... on Medium { url(expiresIn: 5) } } }"
    answers = []
    for context_class in (StrawberryGraphQLCoreExecutionContext, FootageExecutionContext):
        schema = strawberry.Schema(
            query=MediaQuery, types=[Audio, Video], execution_context_class=context_class
        )
        install_leaf_fields(schema._schema)
        result = await schema.execute(document)
        assert result.errors is None
        answers.append(result.data)
    assert answers[0] == answers[1]
    assert answers[1] == {
        "media": [
            {"__typename": "Audio", "url": "audio 5 inline"},
            {"__typename": "Video", "url": "video 5 attachment"},
            {"__typename": "Audio", "url": "audio 5 inline"},
        ]
    }


async def test_a_schema_without_the_table_executes_as_graphql_core() -> None:
    schema = strawberry.Schema(query=Query, execution_context_class=FootageExecutionContext)
    assert await _answers(schema, "plain", False) == await _answers(
        _schema(StrawberryGraphQLCoreExecutionContext), "plain", False
    )


# -- object fields and list items of Strawberry types: sub-fields executed directly ----------


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):  # an interface's implementation has an is_type_of, checked
    name: str
    size: int

    @strawberry.field
    async def later_size(self) -> int:
        return self.size


@strawberry.type
class Bare:  # no interface: graphql-core checks nothing
    size: int


@strawberry.type
class Branch:
    leaf: Leaf | None
    must: Leaf
    bare: Bare | None
    leaves: list[Leaf]
    maybe_leaves: list[Leaf | None] | None
    child: Branch | None = None

    @strawberry.field
    async def later_leaf(self) -> Leaf | None:
        return self.leaf

    @strawberry.field
    def shared(self, info: strawberry.Info) -> list[Leaf]:
        return self.leaves


class _LeafLike:
    name = "duck"
    size = 3


class _RaisingBranch:
    leaf = None
    bare = None
    leaves = ()
    maybe_leaves = None
    child = None

    @property
    def must(self) -> Any:
        raise RuntimeError("broken attribute")


def _branch(**changes: Any) -> Branch:
    values: dict[str, Any] = {
        "leaf": Leaf(name="a", size=1),
        "must": Leaf(name="b", size=2),
        "bare": Bare(size=5),
        "leaves": [Leaf(name="c", size=3), Leaf(name="d", size=4)],
        "maybe_leaves": [Leaf(name="e", size=5), None],
        "child": Branch(
            leaf=None, must=Leaf(name="f", size=6), bare=None, leaves=[], maybe_leaves=None
        ),
    }
    return Branch(**{**values, **changes})


BRANCHES: dict[str, Any] = {
    "plain": _branch(),
    "null_non_null_object": _branch(must=None),
    "null_item_in_non_null_list": _branch(leaves=[Leaf(name="c", size=3), None]),
    "duck_typed_leaf": _branch(leaf=_LeafLike()),
    "duck_typed_bare": _branch(bare=_LeafLike()),
    "cast_to_another_type": _branch(leaf=strawberry.cast(Bare, Leaf(name="x", size=1))),
    "error_deep_in_non_null": _branch(must=Leaf(name="b", size="big")),  # type: ignore[arg-type]
    "error_in_list_item": _branch(leaves=[Leaf(name=None, size=1)]),  # type: ignore[arg-type]
    "error_in_nullable_list_item": _branch(
        maybe_leaves=[Leaf(name="e", size=5), Leaf(name=None, size=1)]  # type: ignore[arg-type]
    ),
    "error_in_later_list_item": _branch(
        leaves=[Leaf(name="c", size=3), Leaf(name="d", size="big")]  # type: ignore[arg-type]
    ),
    "raising_attribute": _RaisingBranch(),
    "not_a_list": _branch(leaves=Leaf(name="c", size=3)),
    "tuple_not_list": _branch(leaves=(Leaf(name="c", size=3),)),
    "duck_typed_list_item": _branch(leaves=[Leaf(name="c", size=3), _LeafLike()]),
    "cast_list_item": _branch(leaves=[strawberry.cast(Bare, Leaf(name="x", size=1))]),
    "null_list": _branch(leaves=None, maybe_leaves=None),
}


@strawberry.type
class BranchQuery:
    @strawberry.field
    def branch(self, case: str) -> Branch | None:
        return BRANCHES[case]  # type: ignore[no-any-return]


BRANCH_DOCUMENT = """
query ($case: String!) {
  branch(case: $case) {
    leaf { ...named size }
    must { name size __typename }
    bare { size }
    leaves { ...named laterSize }
    maybeLeaves { name laterSize }
    laterLeaf { name }
    shared { name size }
    child { must { name } leaf { name } leaves { size } }
  }
}
fragment named on Named { name ... on Leaf { size } }
"""


def _branch_schema(context_class: type, *, share_info: bool = False) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=BranchQuery, types=[Leaf], execution_context_class=context_class
    )
    if share_info:
        field = schema._schema.type_map["Branch"].fields["shared"]  # type: ignore[union-attr]
        field.resolve = execution.ignores_path(field.resolve)
    install_leaf_fields(schema._schema)
    return schema


async def _branch_answers(schema: strawberry.Schema, case: str) -> tuple[Any, Any]:
    data, errors = _outcome(await schema.execute(BRANCH_DOCUMENT, variable_values={"case": case}))
    return data, None if errors is None else sorted(errors)


@pytest.mark.parametrize("share_info", [False, True])
@pytest.mark.parametrize("case", sorted(BRANCHES))
async def test_object_shortcuts_answer_as_graphql_core(case: str, share_info: bool) -> None:
    expected = await _branch_answers(
        _branch_schema(StrawberryGraphQLCoreExecutionContext, share_info=share_info), case
    )
    got = await _branch_answers(
        _branch_schema(FootageExecutionContext, share_info=share_info), case
    )
    assert got == expected
    if case == "plain":
        assert expected[1] is None


STREAM_DOCUMENT = """
query ($count: Int!, $on: Boolean!) {
  branch(case: "plain") {
    leaves @stream(initialCount: $count, if: $on) { name }
    again: leaves { size }
    shared @stream(initialCount: 1) { name }
    child { leaves @stream(initialCount: 0) { size } }
  }
}
"""


async def _streamed(context_class: type, count: int, on: bool) -> list[Any]:
    import inspect

    from graphql import experimental_execute_incrementally
    from strawberry.schema.config import StrawberryConfig

    schema = strawberry.Schema(
        query=BranchQuery,
        types=[Leaf],
        execution_context_class=context_class,
        config=StrawberryConfig(enable_experimental_incremental_execution=True),
    )
    install_leaf_fields(schema._schema)
    result: Any = experimental_execute_incrementally(
        schema._schema,
        parse(STREAM_DOCUMENT),
        variable_values={"count": count, "on": on},
        executor_class=context_class,
    )
    if inspect.isawaitable(result):
        result = await result
    if not hasattr(result, "initial_result"):
        return [result.formatted]
    payloads = [result.initial_result.formatted]
    payloads += [payload.formatted async for payload in result.subsequent_results]
    return payloads


@pytest.mark.parametrize(("count", "on"), [(1, True), (0, True), (-1, True), (-1, False)])
async def test_streamed_lists_answer_as_graphql_core(count: int, on: bool) -> None:
    """@stream is graphql-core's, wherever a list is: a streamed plain list, the same list
    again unstreamed (whether a group streams is remembered per group), a bad initialCount
    reported at the list's own path."""
    expected = await _streamed(StrawberryGraphQLCoreExecutionContext, count, on)
    assert await _streamed(FootageExecutionContext, count, on) == expected
    if count < 0 and on:
        assert expected[0]["errors"][0]["path"] == ["branch", "leaves"]


def test_object_shortcut_tables() -> None:
    schema = _branch_schema(FootageExecutionContext)._schema
    origins = execution.object_origins(schema)
    assert origins[schema.type_map["Leaf"]] is Leaf  # type: ignore[index]
    assert origins[schema.type_map["Bare"]] is Bare  # type: ignore[index]
    fields = execution.object_fields(schema, origins)
    # Plain attributes whose type is one object type or a list of one; resolvers are not in it.
    assert sorted(fields["Branch"]) == ["bare", "child", "leaf", "leaves", "maybeLeaves", "must"]
    assert [name for name, how in sorted(fields["Branch"].items()) if how.listed] == [
        "leaves",
        "maybeLeaves",
    ]


async def test_object_shortcuts_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only lists and fields with resolvers of their own go through execute_field (a resolver
    that ignores the path not even those), and no object value takes the type walk."""
    executed: list[str] = []
    walked: list[str] = []
    execute_field = FootageExecutionContext.execute_field
    complete_object_value = FootageExecutionContext.complete_object_value

    def spy_execute(self: Any, parent_type: Any, source: Any, details: Any, *rest: Any) -> Any:
        executed.append(details[0].node.name.value)
        return execute_field(self, parent_type, source, details, *rest)

    def spy_walk(self: Any, return_type: Any, *rest: Any) -> Any:
        walked.append(return_type.name)
        return complete_object_value(self, return_type, *rest)

    listed: list[Any] = []
    complete_list_item_value = FootageExecutionContext.complete_list_item_value

    def spy_item(self: Any, item: Any, *rest: Any) -> Any:
        listed.append(item)
        return complete_list_item_value(self, item, *rest)

    monkeypatch.setattr(FootageExecutionContext, "execute_field", spy_execute)
    monkeypatch.setattr(FootageExecutionContext, "complete_object_value", spy_walk)
    monkeypatch.setattr(FootageExecutionContext, "complete_list_item_value", spy_item)
    data, errors = await _branch_answers(_branch_schema(FootageExecutionContext), "plain")
    assert errors is None
    assert data["branch"]["shared"] == [{"name": "c", "size": 3}, {"name": "d", "size": 4}]
    # maybeLeaves holds a null item: graphql-core's path, for that field only.
    assert sorted(set(executed)) == ["branch", "laterLeaf", "maybeLeaves", "shared"]
    assert walked == []
    # List items of a known class have their fields executed by the list itself: only the
    # null item of maybeLeaves takes graphql-core's per-item path.
    assert listed == [None]
    executed.clear()
    await _branch_answers(_branch_schema(FootageExecutionContext, share_info=True), "plain")
    assert "shared" not in executed


async def test_leaf_shortcuts_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each field group is planned once, its plain String, Boolean and enum leaves answered
    without their serialisation call, and a resolved leaf that ignores the path is set up
    (``_resolve_leaf``) for the group's first item only."""
    plans: list[Any] = []
    first_items: list[str] = []
    plan = FootageExecutionContext._plan
    resolve_leaf = FootageExecutionContext._resolve_leaf

    def spy_plan(self: Any, parent_type: Any, grouped_field_set: Any) -> Any:
        found = plan(self, parent_type, grouped_field_set)
        plans.append(found)
        return found

    def spy_leaf(
        self: Any, how: Any, parent_type: Any, source: Any, details: Any, *rest: Any
    ) -> Any:
        first_items.append(details[0].node.name.value)
        return resolve_leaf(self, how, parent_type, source, details, *rest)

    monkeypatch.setattr(FootageExecutionContext, "_plan", spy_plan)
    monkeypatch.setattr(FootageExecutionContext, "_resolve_leaf", spy_leaf)
    schema = _schema(FootageExecutionContext)
    item = schema._schema.type_map["Item"]
    field = item.fields["shout"]  # type: ignore[union-attr]
    field.resolve = execution.ignores_path(field.resolve)
    install_leaf_fields(schema._schema)
    result = await schema.execute('{ holder(case: "plain") { items { name flag colour shout } } }')
    assert result.errors is None
    assert result.data == {
        "holder": {
            "items": [
                {"name": "row", "flag": True, "colour": "RED", "shout": "ROW"},
                {"name": "row", "flag": True, "colour": "RED", "shout": "ROW"},
                {"name": "last", "flag": True, "colour": "RED", "shout": "LAST"},
            ]
        }
    }
    items = [found for found in plans if found[1].name == "Item"]
    assert len(items) == 1  # three items, one plan
    steps = {step[0]: step for step in items[0][2]}
    assert steps["name"][4] is str
    assert steps["flag"][4] is bool
    assert steps["colour"][4] is Colour
    assert steps["colour"][5] == {id(Colour.RED): "RED", id(Colour.BLUE): "BLUE"}
    assert first_items == ["shout"]  # the other two items called the resolver directly


@dataclass
class _Upper:
    """A scalar's serialiser that is a callable object, unhashable (a dataclass with ``eq``)."""

    def __call__(self, value: Any) -> str:
        return str(value).upper()


_Shout = NewType("_Shout", str)


@strawberry.type
class _ShoutRow:
    word: _Shout


@strawberry.type
class _ShoutQuery:
    @strawberry.field
    def rows(self) -> list[_ShoutRow]:
        return [_ShoutRow(word=_Shout("a")), _ShoutRow(word=_Shout("b"))]


async def test_a_scalar_with_an_unhashable_serialiser_answers_as_graphql_core() -> None:
    shout = strawberry.scalar(name="Shout", serialize=_Upper(), parse_value=str)

    def build(context_class: type) -> strawberry.Schema:
        schema = strawberry.Schema(
            query=_ShoutQuery,
            execution_context_class=context_class,
            config=StrawberryConfig(scalar_map={_Shout: shout}),
        )
        install_leaf_fields(schema._schema)
        return schema

    expected = await build(StrawberryGraphQLCoreExecutionContext).execute("{ rows { word } }")
    got = await build(FootageExecutionContext).execute("{ rows { word } }")
    assert (got.data, got.errors) == (expected.data, expected.errors)
    assert got.data == {"rows": [{"word": "A"}, {"word": "B"}]}


def test_each_subscription_event_gets_infos_of_its_own() -> None:
    """An info carries the root value, which is the event for a subscription's events."""
    schema = _branch_schema(FootageExecutionContext)._schema
    executor = FootageExecutionContext.build(
        schema, parse('{ branch(case: "plain") { leaf { name } } }')
    )
    assert isinstance(executor, FootageExecutionContext)
    executor._infos[(1, 2)] = ("group", "type", "info")
    executor._unstreamed[1] = "group"
    executor._plans[1] = ("group", "type", [])  # a step's cell can hold an info
    event = executor.build_per_event_executor({"branch": None})
    assert isinstance(event, FootageExecutionContext)
    assert event._infos == {}
    assert event._plans == {}
    assert event._unstreamed == {}  # an event's field groups are its own
    assert event.root_value == {"branch": None}
    assert executor._infos  # the subscription's own executor keeps its infos


async def test_a_finished_operation_is_freed_without_a_garbage_collection() -> None:
    """graphql-core's executor keeps its own bound methods (and every shared info keeps them
    too): unless they are dropped with the response, the executor and the context it refers
    to wait for a garbage collection, and pile up in the older generations."""

    class Context:
        pass

    schema = _branch_schema(FootageExecutionContext, share_info=True)
    context = Context()
    alive = weakref.ref(context)
    gc.disable()
    try:
        result = await schema.execute(
            '{ branch(case: "plain") { shared { name } leaf { name } } }', context_value=context
        )
        assert result.errors is None
        del context, result
        assert alive() is None
    finally:
        gc.enable()


async def test_an_operation_whose_leaves_share_their_call_is_freed_at_once() -> None:
    """The plans keep each leaf group's shared info (which holds the context) for the
    operation: they are dropped with the response, as the shared infos are."""

    class Context:
        pass

    schema = _schema(FootageExecutionContext)
    item = schema._schema.type_map["Item"]
    for name in ("shout", "repeat"):
        field = item.fields[name]  # type: ignore[union-attr]
        field.resolve = execution.ignores_path(field.resolve)
    install_leaf_fields(schema._schema)
    context = Context()
    alive = weakref.ref(context)
    gc.disable()
    try:
        result = await schema.execute(
            '{ holder(case: "plain") { items { name shout repeat(times: 3) } } }',
            context_value=context,
        )
        assert result.errors is None
        assert result.data is not None
        assert result.data["holder"]["items"][2] == {
            "name": "last",
            "shout": "LAST",
            "repeat": "lastlastlast",
        }
        del context, result
        assert alive() is None
    finally:
        gc.enable()


async def test_siblings_settled_after_the_response_still_run() -> None:
    """After a non-null field fails, graphql-core settles its siblings in the background,
    after the response is built: their fields still get infos (the executor's helpers are
    weak once the response is built, not gone)."""
    import asyncio
    import inspect

    from graphql import (
        GraphQLField,
        GraphQLNonNull,
        GraphQLObjectType,
        GraphQLSchema,
        GraphQLString,
        execute,
    )

    ran: list[str] = []

    async def slow(*_: Any) -> dict[str, str]:
        await asyncio.sleep(0)
        return {}

    def leaf(*_: Any) -> str:
        ran.append("x")
        return "x"

    def boom(*_: Any) -> str:
        raise ValueError("boom")

    child = GraphQLObjectType("Child", {"x": GraphQLField(GraphQLString, resolve=leaf)})
    schema = GraphQLSchema(
        GraphQLObjectType(
            "Query",
            {
                "slow": GraphQLField(child, resolve=slow),
                "boom": GraphQLField(GraphQLNonNull(GraphQLString), resolve=boom),
            },
        )
    )
    result: Any = execute(
        schema, parse("{ slow { x } boom }"), executor_class=FootageExecutionContext
    )
    if inspect.isawaitable(result):
        result = await result
    assert result.data is None
    for _ in range(5):
        await asyncio.sleep(0)
    assert ran == ["x"]


# -- paced lists (a page's edges): completed by the executor in one coroutine ----------------


FINISHED: list[str] = []  # PacedItem.slow fields that ran to their end


@strawberry.type
class PacedItem:
    name: str

    @strawberry.field
    async def later(self) -> str:
        return self.name

    @strawberry.field
    async def slow(self) -> str:
        import asyncio

        await asyncio.sleep(0.05)
        FINISHED.append(self.name)
        return self.name


def _items(case: str) -> list[Any]:
    items: list[Any] = [PacedItem(name=f"p{i}") for i in range(10)]
    if case == "null_item":
        items[6] = None
    elif case == "error_in_item":
        items[7] = PacedItem(name=None)  # type: ignore[arg-type]
    elif case == "error_in_first_item":
        items[0] = PacedItem(name=None)  # type: ignore[arg-type]
    return items


def _pacer() -> Any:
    """A pacer whose clock moves a second each time it is read: with a budget of 2.5 s a list
    is cut into runs of one or two items."""
    from itertools import count

    from app.pacing import Pacer

    ticks = count()
    return Pacer(budget=2.5, clock=lambda: float(next(ticks)))


@strawberry.type
class PacedQuery:
    @strawberry.field
    def page(self, case: str) -> list[PacedItem]:
        from app.pacing import PacedList

        return PacedList(_items(case), _pacer())

    @strawberry.field
    def maybe_page(self, case: str) -> list[PacedItem | None] | None:
        from app.pacing import PacedList

        return PacedList(_items(case), _pacer())


PACED_DOCUMENT = """
query ($case: String!, $later: Boolean!) {
  page(case: $case) { name later @include(if: $later) }
  maybePage(case: $case) { name later @include(if: $later) }
}
"""


async def _paced_answers(context_class: type, case: str, later: bool) -> tuple[Any, Any]:
    schema = strawberry.Schema(query=PacedQuery, execution_context_class=context_class)
    install_leaf_fields(schema._schema)
    result = await schema.execute(PACED_DOCUMENT, variable_values={"case": case, "later": later})
    data, errors = _outcome(result)
    return data, None if errors is None else sorted(errors)


@pytest.mark.parametrize("later", [False, True])
@pytest.mark.parametrize("case", ["plain", "null_item", "error_in_item", "error_in_first_item"])
async def test_paced_lists_answer_as_graphql_core(case: str, later: bool) -> None:
    """graphql-core completes a paced list through its iterator (an awaitable per item past
    the budget); the executor completes the items itself: the same data and errors."""
    expected = await _paced_answers(StrawberryGraphQLCoreExecutionContext, case, later)
    got = await _paced_answers(FootageExecutionContext, case, later)
    assert got == expected
    if case == "plain":
        assert expected[1] is None


async def test_a_paced_list_takes_no_task_per_item_and_lets_the_loop_run() -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    created: list[Any] = []
    factory = loop.get_task_factory()

    def counting(loop: Any, coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    order: list[str] = []
    schema = strawberry.Schema(query=PacedQuery, execution_context_class=FootageExecutionContext)
    install_leaf_fields(schema._schema)
    loop.set_task_factory(counting)
    try:
        loop.call_soon(order.append, "loop")
        result = await schema.execute('{ page(case: "plain") { name } }')
        order.append("done")
        by_graphql_core = len(created)
        created.clear()
        plain = strawberry.Schema(
            query=PacedQuery, execution_context_class=StrawberryGraphQLCoreExecutionContext
        )
        await plain.execute('{ page(case: "plain") { name } }')
    finally:
        loop.set_task_factory(factory)
    assert result.errors is None
    assert [item["name"] for item in result.data["page"]] == [f"p{i}" for i in range(10)]
    assert order == ["loop", "done"]  # the list paused: other callbacks ran before it ended
    assert by_graphql_core == 0
    assert len(created) >= 5  # graphql-core: a task for each item past the budget


async def test_a_cancelled_paced_list_starts_no_more_items() -> None:
    """A request cancelled (its timeout) while its page waits for its turn: the cancellation
    goes through, no item's field runs on after it (graphql-core cancels the items it gathers;
    so does the executor, once each has started, so nothing is left un-awaited: the suite turns
    that warning into an error), and nothing is left running."""
    import asyncio

    schema = strawberry.Schema(query=PacedQuery, execution_context_class=FootageExecutionContext)
    install_leaf_fields(schema._schema)
    FINISHED.clear()
    # Other tests' background work (a timed-out request's loader batch) may still be running.
    before = asyncio.all_tasks()
    task = asyncio.ensure_future(schema.execute('{ page(case: "plain") { name slow } }'))
    for _ in range(3):
        await asyncio.sleep(0)  # past its first runs of items, waiting its turn
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.15)  # three times what a slow field takes
    gc.collect()
    assert FINISHED == []
    assert asyncio.all_tasks() - before == set()  # nothing of this operation's left running


def test_the_cast_mark_is_the_attribute_the_executor_reads() -> None:
    """The executor reads a value's cast as getattr(value, TYPE_CAST_ATTRIBUTE, None), which
    is what Strawberry's get_strawberry_type_cast answers."""
    from strawberry.types.cast import TYPE_CAST_ATTRIBUTE, get_strawberry_type_cast

    cast = strawberry.cast(Bare, Leaf(name="x", size=1))
    assert getattr(cast, TYPE_CAST_ATTRIBUTE, None) is get_strawberry_type_cast(cast) is Bare
    plain = Leaf(name="y", size=2)
    assert getattr(plain, TYPE_CAST_ATTRIBUTE, None) is get_strawberry_type_cast(plain) is None
