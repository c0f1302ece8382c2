"""graphql-core's executor with shorter paths for leaf fields and for objects.

For every field it executes, graphql-core builds a response path and a ``GraphQLResolveInfo``
(14 values), coerces the field's arguments from the document again, calls the resolver, and
walks the return type's wrappers (exception? non-null? list? leaf? abstract?) before it
serialises a scalar. A 100-result page with every URL has about 2,500 such fields, most of them
leaves: plain attributes of a record (``status``, ``type``, ``pk``) and URL fields whose
arguments are the same for all 550 items.

Two shortcuts, both for fields whose type is a scalar or an enum (possibly non-null):

- **Plain fields** (a Strawberry field with no resolver, no arguments and no extensions, which
  reads the source's attribute): read and serialised directly, with no path, info or resolver
  call. A value that is not plain (null in a non-null field, a value the scalar refuses, an
  attribute that raises) falls back to graphql-core's path for that one field, which then
  answers exactly as it always did. ``__typename`` is answered from the parent type.
- **Resolved leaf fields** (any other resolver, ``resolvers.direct``'s URL fields among them):
  the resolver is called with a real info, as graphql-core calls it, but the arguments are
  coerced once per field node and operation (they depend only on the node and the operation's
  variables), and a synchronous result is serialised without the type walk. Awaitable results,
  errors and nulls go through graphql-core's own methods (``complete_awaitable_value``,
  ``handle_field_error``).

And three for objects (a page has about 1,000 of them: edges, results, recordings, language
groups, media items):

- **Objects of a known class**: a value whose class is exactly the Strawberry class of the
  expected object type (and not cast to another type) has its sub-fields executed at once
  (``complete_value``), without the walk over the type's wrappers and kinds, ``is_type_of`` and
  the incremental-delivery layers. Strawberry's own ``is_type_of`` accepts such a value; types
  with any other ``is_type_of``, generic types and anything under ``@defer`` are graphql-core's.
- **Plain object fields** (a resolver-less attribute of such a type, or a list of them): read
  and executed directly, no info or resolver call. A null in a non-null field, an attribute that
  raises or a value of another class (a list: any item of another class) falls back to
  graphql-core's path for that field.
- **Resolvers that ignore the path** (marked by ``ignores_path``; ``resolvers.direct`` marks its
  own): the items of one field node share one info (the path is the only part of an info that
  differs between them), and arguments are coerced once, as for leaves.

And two for lists (``complete_list_value``): items of a known class have their sub-fields
executed by the list itself, and a paced list (``app.pacing.PacedList``, a page's edges) is
completed in one coroutine that pauses between items when the pacer says so, rather than a
coroutine and a task per item past the pacer's budget. Any other item is completed by
graphql-core's per-item methods; a streamed list (``@stream``) is graphql-core's.

And one across requests: a resolver may answer with a ``Kept`` value, an answer the process
keeps for later requests (``app.answers``: a recording's attached media, about 650 objects and
1,650 fields of a page). Its completed form is kept beside it, by a token naming what else the
form is made of: the operation (the same parsed object: ``app.operation_rules`` parses a query
text once), its variables (frozen) and the field's nodes. A later request with the same token
gets the form without executing the fields again. A form is kept only when every field under
it is stable (a plain attribute, ``__typename`` or a resolver marked ``stable``: not one whose
answer moves with the clock or the request), the selection has at most KEPT_FIELDS fields,
nothing under it is deferred or streamed, no field error was handled while it was completed
and it was complete at once (no awaitable), or, for an answer made with ``awaits`` (a results
page, whose edges pause between items: resolvers.page_answers), once its awaiting completion is
done. A form is shared by the responses that carry it, which only serialise it; it refers to
its operation weakly.

How each field of a group is answered (which shortcut, with what) is worked out once per
operation, field group and parent type (``FootageExecutionContext._plan``), not once per object:
a page executes the same few groups for hundreds of objects. A plan also keeps what a leaf's
items share (their arguments, info and resolver), and is dropped with the response.

Abstract types are otherwise graphql-core's. Middleware (none in Footage today)
switches every shortcut off, since it must see every resolver call. The tables are made once
per schema, after its resolvers are installed (``install_leaf_fields``, called by
``app.schema.build_schema``); a schema without them executes as graphql-core does.
``tests/test_execution.py`` compares the answers and errors with graphql-core's executor case by
case.

Strawberry internals this relies on: a resolver-less field's graphql-core resolver is marked
``_is_default``, and the field's definition is in its extensions under
``GraphQLCoreConverter.DEFINITION_BACKREF``. Should either change, no field would take the plain
shortcut (answers stay right, only slower): ``tests/test_execution.py`` fails then.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    get_argument_values,
    get_named_type,
    is_leaf_type,
)
from graphql.execution import ExperimentalIncrementalExecutionResults
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition

# get_strawberry_type_cast(value) is getattr(value, TYPE_CAST_ATTRIBUTE, None), read here
# without the call (tests/test_execution.py's cast cases fail should that change).
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

from app.pacing import PacedList

_TYPENAME = "__typename"


class LeafField(NamedTuple):
    """How to answer one leaf field: by ``attribute`` of the source, or else by ``field``'s
    resolver."""

    attribute: str | None
    field: GraphQLField
    serialize: Any  # the leaf type's coerce_output_value
    non_null: bool
    keeps_str: bool = False  # String or ID: a str is its own serialisation
    # The Python type of the values answered without the serialisation call: the value itself
    # (a str for String and ID, a bool for Boolean), or for an enum (its class) the member's
    # name in ``names``, by the member's id.
    plain: type | None = None
    names: dict[int, str] | None = None


LeafFields = dict[str, dict[str, LeafField]]  # type name -> field name -> how


class ObjectField(NamedTuple):
    """A plain attribute field whose type is an object type, or a list of it (either possibly
    non-null, the list's items too)."""

    attribute: str
    field: GraphQLField
    object_type: GraphQLObjectType
    listed: bool = False


ObjectFields = dict[str, dict[str, ObjectField]]  # type name -> field name -> how
# Object types whose values are completed without graphql-core's type walk: the Python class
# whose instances (exactly, not cast) are values of the type.
ObjectOrigins = dict[GraphQLObjectType, type]

# Where the tables live: the graphql-core schema's own extensions (not printed in the SDL).
LEAF_FIELDS = "footage.leaf_fields"
OBJECT_FIELDS = "footage.object_fields"
OBJECT_ORIGINS = "footage.object_origins"
# A resolver marked so (``ignores_path``) never reads ``info.path``, the one part of an info
# that differs between the items of a list: every item of a field node gets the same info.
IGNORES_PATH = "_footage_ignores_path"


def ignores_path(resolve: Any) -> Any:
    """Mark ``resolve`` as never reading ``info.path`` (see IGNORES_PATH)."""
    setattr(resolve, IGNORES_PATH, True)
    return resolve


# A resolver marked so (``stable``) answers, when it answers synchronously and without an
# error, from its source and arguments alone: not from the request, its context or the clock.
STABLE = "_footage_stable"
# The completed forms a kept answer holds at most (one per operation and variables asking it).
KEPT_FORMS = 4
# The most fields (at every depth, aliases each counted) a kept form's selection may have: a
# form is as large as the answer times its selection, and aliases could make it many times the
# answer (while a request's response is only sent, a form stays).
KEPT_FIELDS = 48


def stable(resolve: Any) -> Any:
    """Mark ``resolve`` as stable (see STABLE): its field may be part of a kept completion."""
    setattr(resolve, STABLE, True)
    return resolve


class Kept:
    """A resolver's answer that outlives its request: built once, then handed to later
    requests, which only read it (``app.answers``). The executor keeps the completed form of
    the answer beside it, by the selection that asked for it, and a later request asking with
    the same selection gets that form without executing its fields again
    (``FootageExecutionContext._complete_kept``)."""

    __slots__ = ("awaits", "forms", "on_kept", "value")

    def __init__(
        self,
        value: Any,
        *,
        awaits: bool = False,
        on_kept: Callable[[Kept], None] | None = None,
    ) -> None:
        self.value = value
        # Whether a completion that awaits is kept too, once done (a page's edges pause between
        # items, app.pacing): the answer's resolvers then answer from its value alone even when
        # they await (a page's key names what they read, resolvers.page_answers).
        self.awaits = awaits
        # Called once, when the first form is kept (to keep the answer only then).
        self.on_kept = on_kept
        # Completed forms by selection token: (operation, weakly: a form does not keep a parsed
        # document alive after the parser's cache dropped it; return type; completed).
        self.forms: dict[tuple[Any, ...], tuple[weakref.ref[Any], Any, Any]] = {}

    def release(self) -> None:
        """Drop the value, keeping the forms: for an answer only ever handed out to the one
        selection whose form it holds (a kept page, resolvers.page_answers)."""
        self.value = _RELEASED

    def refilled(self, fill: Callable[[Any], Any]) -> Kept:
        """A released answer holding ``fill(form)`` in place of each of these forms (a kept
        page's forms with another signing window's URLs, resolvers.page_answers)."""
        kept = Kept(_RELEASED, awaits=self.awaits)
        kept.forms = {
            token: (operation, return_type, fill(form))
            for token, (operation, return_type, form) in self.forms.items()
        }
        return kept

    def form(self, token: tuple[Any, ...], operation: Any, return_type: Any) -> Any:
        """The form kept for ``token``, if the same operation and type asked for it; else None."""
        known = self.forms.get(token)
        if known is None or known[0]() is not operation or known[1] is not return_type:
            return None
        return known[2]

    def keep(self, token: tuple[Any, ...], operation: Any, return_type: Any, form: Any) -> None:
        forms = self.forms
        if token not in forms and len(forms) >= KEPT_FORMS:
            del forms[next(iter(forms))]  # the oldest
        forms[token] = (weakref.ref(operation), return_type, form)
        on_kept, self.on_kept = self.on_kept, None
        if on_kept is not None:
            on_kept(self)


def frozen(value: Any) -> Hashable:
    """A coerced variable value as a hashable token (its type beside each value, so that
    ``1``, ``1.0`` and ``True`` differ); TypeError for a value that has none."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple(sorted(((k, frozen(v)) for k, v in value.items()), key=_first)))
    if kind is list:
        return (list, tuple(frozen(item) for item in value))
    hash(value)
    return (kind, value)


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def _path(prev: Path | None, key: str | int, typename: str | None) -> Path:
    """``Path(prev, key, typename)``, made by ``tuple.__new__`` directly: a named tuple's own
    ``__new__`` is a Python function, and a page makes about 2,000 paths (the two most made,
    an object field's and a list item's, call ``_new_tuple`` in place)."""
    path: Path = _new_tuple(Path, (prev, key, typename))
    return path


_new_tuple: Any = tuple.__new__
_FALLBACK: Any = object()  # a shortcut declined: graphql-core's own path answers
# What a completion answers when it is done (an object's fields, a list, a null): never
# awaitable, so not asked (strawberry's is_awaitable is a Python call).
_COMPLETED = frozenset({dict, list, type(None)})
_RELEASED: Any = object()  # a released Kept's value (Kept.release)
_NONE: dict[str, Any] = {}
# What a leaf answers when it is done (a serialised value, a null): never awaitable.
_SERIALISED = frozenset({str, int, float, bool, type(None)})
# One field of a group, as ``FootageExecutionContext._plan`` found it: (response name, field
# group, the leaf's LeafField or None, the source attribute of a plain leaf or None, a part by
# kind, and what the step keeps). By kind:
# - a plain leaf: the Python type of the values it answers without its serialisation call (the
#   value itself; for an enum, the member's name, which the step keeps by the member's id);
# - a resolved leaf: a cell for the arguments, info and resolver its items share;
# - ``__typename``: ``_TYPENAME``;
# - any other field: its ObjectField, if it has one, and a cell for its collected sub-fields.
_Step = tuple[str, Any, Any, "str | None", Any, Any]
_Plan = tuple[Any, GraphQLObjectType, list[_Step]]  # the group, its parent type, its steps


def _attribute(field: GraphQLField) -> str | None:
    """The source attribute a plain Strawberry field reads, else None."""
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False) or field.args:
        return None
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    if definition.default_resolver is not getattr:
        return None
    return definition.python_name


def _enum_names(enum_type: CustomGraphQLEnumType) -> dict[int, str]:
    """The GraphQL name of each member of the enum's class, by the member's id (an enum
    member's ``__hash__`` is a Python function; members live as long as their class)."""
    names: dict[int, str] = {}
    members: list[Any] = list(enum_type.wrapped_cls)
    for member in members:
        for name, value in enum_type.values.items():
            if member.value == value.value:
                names[id(member)] = name
                break
    return names


def _enum_serializer(enum_type: CustomGraphQLEnumType, names: dict[int, str]) -> Any:
    """Strawberry's enum serialisation, by a dict: it scans the enum's values comparing
    ``.value`` (a descriptor) for every item, 2% of a page. Members of the enum's own class
    are looked up by identity (``names``); anything else goes to Strawberry's method, which
    answers (or refuses) it."""
    wrapped = enum_type.wrapped_cls
    slow = enum_type.coerce_output_value

    def serialize(output_value: Any) -> Any:
        if type(output_value) is wrapped:
            name = names.get(id(output_value))
            if name is not None:
                return name
        return slow(output_value)

    return serialize


def _leaf_field(field: GraphQLField) -> LeafField | None:
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if not is_leaf_type(leaf):
        return None
    assert isinstance(leaf, GraphQLLeafType)
    attribute = _attribute(field)
    if attribute is None and field.resolve is None:
        return None  # graphql-core's default resolver (dicts, callables): left to it
    if isinstance(leaf, CustomGraphQLEnumType):
        names = _enum_names(leaf)
        serialize = _enum_serializer(leaf, names)
        return LeafField(attribute, field, serialize, non_null, False, leaf.wrapped_cls, names)
    keeps_str = leaf is GraphQLString or leaf is GraphQLID
    # graphql-core's own scalars, by identity: their serialisations answer such values as
    # they are (a schema that maps String to a scalar of its own gets no shortcut).
    plain = str if keeps_str else bool if leaf is GraphQLBoolean else None
    return LeafField(attribute, field, leaf.coerce_output_value, non_null, keeps_str, plain)


def leaf_fields(schema: GraphQLSchema) -> LeafFields:
    """The shortcuts' table for ``schema``: its object types' leaf fields and how to answer
    them, from the resolvers installed now."""
    return {
        name: {
            field_name: how
            for field_name, field in named_type.fields.items()
            if (how := _leaf_field(field)) is not None
        }
        for name, named_type in schema.type_map.items()
        if isinstance(named_type, GraphQLObjectType) and not name.startswith("__")
    }


def object_origins(schema: GraphQLSchema) -> ObjectOrigins:
    """The schema's Strawberry object types whose values can be recognised by their exact
    class: no ``is_type_of``, or Strawberry's own (which accepts an instance of the type's
    class that is not cast to another type). Generic types are left out."""
    found: ObjectOrigins = {}
    for name, named_type in schema.type_map.items():
        if not isinstance(named_type, GraphQLObjectType) or name.startswith("__"):
            continue
        definition = (named_type.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(definition, StrawberryObjectDefinition) or definition.concrete_of:
            continue
        if definition.is_graphql_generic:
            continue
        is_type_of = named_type.is_type_of
        if is_type_of is not None and is_type_of.__module__ != GraphQLCoreConverter.__module__:
            continue
        found[named_type] = definition.origin
    return found


def _nullable(field_type: Any) -> Any:
    return field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type


def object_fields(schema: GraphQLSchema, origins: ObjectOrigins) -> ObjectFields:
    """Plain attribute fields whose type is one of ``origins``' object types, or a list of
    one (not a list of lists)."""
    table: ObjectFields = {}
    for name, named_type in schema.type_map.items():
        if not isinstance(named_type, GraphQLObjectType) or name.startswith("__"):
            continue
        for field_name, field in named_type.fields.items():
            inner = _nullable(field.type)
            listed = isinstance(inner, GraphQLList)
            if listed:
                inner = _nullable(inner.of_type)
            attribute = _attribute(field)
            if attribute is not None and isinstance(inner, GraphQLObjectType) and inner in origins:
                table.setdefault(name, {})[field_name] = ObjectField(
                    attribute, field, inner, listed
                )
    return table


def install_leaf_fields(schema: GraphQLSchema) -> None:
    """Give ``schema`` its tables (once its resolvers are final)."""
    origins = object_origins(schema)
    schema.extensions = {
        **(schema.extensions or {}),
        LEAF_FIELDS: leaf_fields(schema),
        OBJECT_FIELDS: object_fields(schema, origins),
        OBJECT_ORIGINS: origins,
    }


def _weak_helpers(executor: Any) -> GraphQLResolveInfoHelpers:
    """``executor``'s async helpers, calling it through weak references (``build_response``).
    Whoever calls them runs code of the executor, and so keeps it alive."""
    gather = weakref.WeakMethod(executor.gather_async_work)
    track = weakref.WeakMethod(executor.track_async_work)

    def live(method: weakref.WeakMethod[Any]) -> Any:
        bound = method()
        if bound is None:  # pragma: no cover - a caller keeps the executor alive
            raise RuntimeError("the operation's executor is gone")
        return bound

    return GraphQLResolveInfoHelpers(
        gather=lambda values: live(gather)(values),
        track=lambda values: live(track)(values),
    )


class _ListItems:
    """A list being completed by ``FootageExecutionContext.complete_list_value``: the items,
    how far it got, and, when the items are objects of a known class (``object_origins``),
    that class and the item type's grouped sub-fields (the same for every item)."""

    __slots__ = (
        "awaiting",
        "checked",
        "completed",
        "field_details_list",
        "fields",
        "index",
        "info",
        "item_type",
        "items",
        "object_type",
        "origin",
        "path",
    )

    def __init__(
        self,
        items: list[Any],
        item_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        origins: ObjectOrigins,
    ) -> None:
        self.items = items
        self.item_type = item_type
        self.field_details_list = field_details_list
        self.info = info
        self.path = path
        self.index = 0  # the next item to complete
        self.completed: list[Any] = []
        self.awaiting: list[int] = []  # indices of completed items still awaitable
        self.object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        self.origin: type | None = origins.get(self.object_type)
        self.fields: Any = None  # collected with the first item of the known class
        self.checked = False  # every item is known to be of the class, and not cast

    def awaitables(self) -> list[Any]:
        return [self.completed[index] for index in self.awaiting]


def _cancel_all(tasks: list[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()


def _probe(*_: Any, **__: Any) -> None:
    """A resolver that middleware would wrap."""


class FootageExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Strawberry always passes a manager; it wraps resolvers only when it has middleware.
        wraps = manager is not None and manager.get_field_resolver(_probe) is not _probe
        extensions = self.schema.extensions or {}
        table: LeafFields = extensions.get(LEAF_FIELDS, {})
        self._leaves = {} if wraps else table
        self._objects: ObjectFields = {} if wraps else extensions.get(OBJECT_FIELDS, {})
        self._origins: ObjectOrigins = {} if wraps else extensions.get(OBJECT_ORIGINS, {})
        # Infos shared by the items of a field node, for IGNORES_PATH resolvers.
        self._infos: dict[tuple[int, int], tuple[Any, Any, Any]] = {}
        # Coerced arguments by (field node, field): one node can be executed for several
        # object types (a fragment on an interface), whose fields may differ in arguments.
        self._arguments: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}
        # How each field of a group is answered, by the group's id (``_plan``).
        self._plans: dict[int, _Plan] = {}
        # Field groups known not to be streamed (``get_stream_usage``), by id, kept with it.
        self._unstreamed: dict[int, Any] = {}
        # Selection tokens of kept answers (``_kept_token``), by field group id, kept with it.
        self._kept_tokens: dict[int, tuple[Any, tuple[Any, ...] | None]] = {}
        self._variables_token: Hashable = _FALLBACK  # not frozen yet
        # Field errors handled so far: a completion that added none may be kept.
        self._field_errors = 0

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plans.get(id(grouped_field_set))
        if plan is None or plan[0] is not grouped_field_set or plan[1] is not parent_type:
            plan = self._plan(parent_type, grouped_field_set)
            if plan is None:
                return super().execute_fields(
                    parent_type, source_value, path, grouped_field_set, position_context
                )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, how, attribute, plain, kept in plan[2]:
                if attribute is not None:
                    try:
                        value = getattr(source_value, attribute)
                        if type(value) is plain:
                            if kept is None:
                                results[response_name] = value
                                continue
                            name = kept.get(id(value))
                            if name is not None:
                                results[response_name] = name
                                continue
                        if value is None:
                            if not how.non_null:
                                results[response_name] = None
                                continue
                        else:
                            coerced = how.serialize(value)
                            if coerced is not None and coerced is not Undefined:
                                results[response_name] = coerced
                                continue
                    except Exception:  # noqa: S110 graphql-core's path below reports it, located
                        pass
                elif how is not None:
                    call = plain[0]  # what the group's items share; None until it is set
                    if call is None:
                        result = self._resolve_leaf(
                            how, parent_type, source_value, field_details_list, path,
                            response_name, position_context, plain,
                        )  # fmt: skip
                    else:
                        args, info, resolve = call
                        try:
                            # Without arguments, a plain call: ``**{}`` builds a dict per call.
                            result = (
                                resolve(source_value, info, **args)
                                if args
                                else resolve(source_value, info)
                            )
                        except Exception as raw_error:
                            self.handle_field_error(
                                raw_error, how.field.type, field_details_list,
                                _path(path, response_name, parent_type.name),
                            )  # fmt: skip
                            results[response_name] = None
                            continue
                        if type(result) is not str or not how.keeps_str:
                            result = self._complete_leaf(
                                how, source_value, info, args, field_details_list,
                                _path(path, response_name, parent_type.name), position_context,
                                result,
                            )  # fmt: skip
                    results[response_name] = result
                    if type(result) not in _SERIALISED and is_awaitable(result):
                        awaitable_fields.append(response_name)
                    continue
                elif plain is _TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                elif position_context is None:
                    result = self._shortcut_field(
                        parent_type, source_value, field_details_list, path, response_name, plain,
                        kept,
                    )  # fmt: skip
                    if result is not _FALLBACK:
                        results[response_name] = result
                        if type(result) not in _COMPLETED and is_awaitable(result):
                            awaitable_fields.append(response_name)
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    _path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._gather_fields(results, awaitable_fields)

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Plan | None:
        """How each field of ``grouped_field_set`` on ``parent_type`` is answered (see
        ``_Step``), worked out once per field group and type and kept with the group (whose
        id is the key: graphql-core keeps its collected groups for the whole operation, and the
        group kept here keeps its id from being reused). None for a type without leaf table:
        graphql-core's."""
        leaves = self._leaves.get(parent_type.name)
        if leaves is None:
            return None
        objects = self._objects.get(parent_type.name, _NONE)
        steps: list[_Step] = []
        for response_name, field_details_list in grouped_field_set.items():
            field_name = field_details_list[0].node.name.value
            how = leaves.get(field_name)
            if field_name == _TYPENAME and how is None:
                steps.append((response_name, field_details_list, None, None, _TYPENAME, None))
            elif how is None:
                plain_field = objects.get(field_name)
                cell = None if plain_field is None else [None]  # _plain_object, _plain_list
                steps.append((response_name, field_details_list, None, None, plain_field, cell))
            elif how.attribute is None:
                call: list[Any] = [None]  # _resolve_leaf
                steps.append((response_name, field_details_list, how, None, call, None))
            else:
                steps.append(
                    (response_name, field_details_list, how, how.attribute, how.plain, how.names)
                )
        plan = (grouped_field_set, parent_type, steps)
        self._plans[id(grouped_field_set)] = plan
        return plan

    def get_stream_usage(self, field_details_list: Any, path: Path) -> Any:
        """graphql-core's, remembering which field groups are not streamed: that depends only
        on the group's nodes and the operation's variables, and graphql-core works it out again
        for every list it completes (a page completes about 300). A stream, or an error in the
        directive, is graphql-core's every time."""
        if isinstance(path.key, int):
            return None  # an inner list of a list: never streamed
        key = id(field_details_list)
        if self._unstreamed.get(key) is field_details_list:
            return None
        usage = super().get_stream_usage(field_details_list, path)
        if usage is None:
            self._unstreamed[key] = field_details_list
        return usage

    def _shortcut_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path | None,
        response_name: str,
        plain: ObjectField | None,
        cell: list[Any] | None,
    ) -> Any:
        """A non-leaf field answered as graphql-core's ``execute_field`` would, with less of
        its work: a plain attribute holding an object of the field's type (``plain``, from
        the object table) has its sub-fields executed directly (no info, no resolver call, no
        type walk); a resolver that ignores the path gets the info its field node's other items
        got. ``_FALLBACK`` otherwise."""
        field_path = _new_tuple(Path, (path, response_name, parent_type.name))
        if plain is not None:
            assert cell is not None
            if plain.listed:
                return self._plain_list(plain, source, field_details_list, field_path, cell)
            return self._plain_object(plain, source, field_details_list, field_path, cell)
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        if field is None or not getattr(field.resolve, IGNORES_PATH, False):
            return _FALLBACK
        return_type = field.type
        try:
            first = field_details_list[0]
            args = self._arguments_of(field, first) if field.args or first.node.arguments else {}
            info = self._shared_info(field, field_details_list, parent_type, field_path)
            assert field.resolve is not None
            result = field.resolve(source, info, **args)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, field_path, result, None
                )
            completed = self.complete_value(
                return_type, field_details_list, info, field_path, result, None
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None
        if type(completed) not in _COMPLETED and self.is_awaitable(completed):
            return self._awaited(completed, return_type, field_details_list, field_path)
        return completed

    def _plain_object(
        self,
        plain: ObjectField,
        source: Any,
        field_details_list: Any,
        field_path: Path,
        cell: list[Any],
    ) -> Any:
        """``cell``: the plan step's, keeping the sub-fields collected for its first item."""
        try:
            value = getattr(source, plain.attribute)
        except Exception:
            return _FALLBACK  # graphql-core's path reports it, located
        if value is None:
            return _FALLBACK if isinstance(plain.field.type, GraphQLNonNull) else None
        object_type = plain.object_type
        if type(value) is not self._origins[object_type] or (
            getattr(value, TYPE_CAST_ATTRIBUTE, None) is not None  # get_strawberry_type_cast
        ):
            return _FALLBACK
        grouped_field_set = cell[0]
        if grouped_field_set is None:
            grouped_field_set, defer_usages, _ = self.collect_subfields(
                object_type, field_details_list
            )
            if defer_usages:
                return _FALLBACK
            cell[0] = grouped_field_set
        try:
            completed = self.execute_fields(object_type, value, field_path, grouped_field_set, None)
        except Exception as raw_error:
            self.handle_field_error(raw_error, plain.field.type, field_details_list, field_path)
            return None
        if type(completed) not in _COMPLETED and self.is_awaitable(completed):
            return self._awaited(completed, plain.field.type, field_details_list, field_path)
        return completed

    def _plain_list(
        self,
        plain: ObjectField,
        source: Any,
        field_details_list: Any,
        field_path: Path,
        cell: list[Any],
    ) -> Any:
        """A plain attribute holding a list whose items are all of the item type's known class:
        completed as ``complete_list_value`` completes such a list, with no info or resolver
        call. Anything else (a null in a non-null field, not a list, another item, a stream)
        falls back to graphql-core's path for the field."""
        try:
            value = getattr(source, plain.attribute)
        except Exception:
            return _FALLBACK  # graphql-core's path reports it, located
        return_type = plain.field.type
        if value is None:
            return _FALLBACK if isinstance(return_type, GraphQLNonNull) else None
        origin = self._origins[plain.object_type]
        if type(value) is not list or self.abort_signal is not None:
            return _FALLBACK
        try:
            if self.get_stream_usage(field_details_list, field_path) is not None:
                return _FALLBACK
        except Exception:
            return _FALLBACK  # a bad @stream: graphql-core's path reports it at the field
        for item in value:
            if type(item) is not origin or getattr(item, TYPE_CAST_ATTRIBUTE, None) is not None:
                return _FALLBACK
        items = _ListItems(
            value, _nullable(return_type).of_type, field_details_list, None, field_path,
            self._origins,
        )  # fmt: skip
        items.checked = True
        items.fields = cell[0]  # the sub-fields, once collected for the step
        if items.fields is None:
            if self._item_fields(items) is None:  # deferred sub-fields: graphql-core's path
                return _FALLBACK
            cell[0] = items.fields
        try:
            completed = self._complete_listed(items)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, field_path)
            return None
        if type(completed) not in _COMPLETED and self.is_awaitable(completed):
            return self._awaited(completed, return_type, field_details_list, field_path)
        return completed

    async def _awaited(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        # As execute_field awaits a completion that returned an awaitable.
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def build_response(self, data: dict[str, Any] | None) -> Any:
        """graphql-core's, once the data is complete; then the executor stops keeping itself.

        graphql-core's executor is a reference cycle: it keeps its own bound methods (in
        ``async_helpers``, which every info it builds also holds), and through them whatever
        it refers to, the request's context included. A cycle is freed only by a garbage
        collection: the executors of finished requests piled up, were promoted to older
        generations by the young collections they survived, and made the collections that
        finally freed them long pauses (BENCHMARKS.md). With a complete response built, the
        shared infos are dropped and the helpers call the executor through a weak reference:
        the executor goes by reference counting with the response, while work still running in
        the background (siblings graphql-core settles after an error) holds it, and its infos,
        as long as it runs. An incremental response keeps everything as it was."""
        result = super().build_response(data)
        if not isinstance(result, ExperimentalIncrementalExecutionResults):
            self._infos.clear()
            self._plans.clear()  # their cells hold infos
            self._kept_tokens.clear()
            self.async_helpers = _weak_helpers(self)
        return result

    def build_per_event_executor(self, payload: Any) -> Any:
        """A subscription's events run on copies of this executor: each gets infos of its own
        (an info carries the event as its root value)."""
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, FootageExecutionContext)
        executor._infos = {}
        executor._plans = {}
        executor._unstreamed = {}
        executor._kept_tokens = {}
        executor._field_errors = 0
        return executor

    def _shared_info(
        self, field: GraphQLField, field_details_list: Any, parent_type: Any, path: Path
    ) -> Any:
        """One info per field node group and parent type (the first item's path), for
        resolvers that ignore the path. The group is kept with it, so its id stays unique."""
        key = (id(field_details_list), id(parent_type))
        known = self._infos.get(key)
        if known is not None and known[0] is field_details_list and known[1] is parent_type:
            return known[2]
        info = self.build_resolve_info(
            field, [details.node for details in field_details_list], parent_type, path
        )
        self._infos[key] = (field_details_list, parent_type, info)
        return info

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, but an object of a known class (``object_origins``) has its
        sub-fields executed at once, without the walk over the type's wrappers and kinds, and a
        list (a plain or paced one) goes to ``complete_list_value`` at once: graphql-core would
        get there through a second call for a non-null list, and a list is never null."""
        if type(result) is Kept:
            return self._complete_kept(
                return_type, field_details_list, info, path, result, position_context
            )
        if position_context is None and result is not None:
            object_type = (
                return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
            )
            if type(object_type) is GraphQLList:
                kind = type(result)
                if kind is list or kind is PacedList:
                    return self.complete_list_value(
                        object_type, field_details_list, info, path, result, None
                    )
            origin = self._origins.get(object_type)
            if (
                origin is not None
                and type(result) is origin
                and getattr(result, TYPE_CAST_ATTRIBUTE, None) is None  # ...type_cast(result)
            ):
                grouped_field_set, defer_usages, _ = self.collect_subfields(
                    object_type, field_details_list
                )
                if not defer_usages:
                    return self.execute_fields(object_type, result, path, grouped_field_set, None)
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def handle_field_error(
        self, raw_error: Exception, return_type: Any, field_details_list: Any, path: Path
    ) -> None:
        self._field_errors += 1
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def _complete_kept(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        kept: Kept,
        position_context: Any,
    ) -> Any:
        """A kept answer (``Kept``): the completed form a former request made of it with the
        same selection, or completed now, and the form kept when the selection is stable
        (``_kept_token``) and the completion ended at once, without a field error."""
        token = (
            self._kept_token(return_type, field_details_list) if position_context is None else None
        )
        if token is not None:
            form = kept.form(token, self.operation, return_type)
            if form is not None:
                return form
        if kept.value is _RELEASED:
            raise RuntimeError("A released kept answer was asked for a form it does not hold.")
        errors = self._field_errors
        completed = self.complete_value(
            return_type, field_details_list, info, path, kept.value, position_context
        )
        if token is not None and self._field_errors == errors:
            if type(completed) in _COMPLETED:
                kept.keep(token, self.operation, return_type, completed)
            elif kept.awaits and self.is_awaitable(completed):
                return self._keep_when_done(kept, token, return_type, completed, errors)
        return completed

    async def _keep_when_done(
        self, kept: Kept, token: tuple[Any, ...], return_type: Any, completing: Any, errors: int
    ) -> Any:
        """An awaiting completion of a ``Kept(awaits=True)``, kept once done when no field
        error was handled in the meantime (anywhere in the request: an error of this answer
        cannot be told from another's, so none is risked)."""
        completed = await completing
        if self._field_errors == errors and type(completed) in _COMPLETED:
            kept.keep(token, self.operation, return_type, completed)
        return completed

    def _kept_token(self, return_type: Any, field_details_list: Any) -> tuple[Any, ...] | None:
        """What a completed form of a kept answer is made from besides the answer itself: the
        operation (by identity: the same parsed document), its variables and the field's
        nodes. None when the selection is not stable or too wide (``_stable_width``) or the
        variables have no token. Worked out once per field group."""
        key = id(field_details_list)
        known = self._kept_tokens.get(key)
        if known is not None and known[0] is field_details_list:
            return known[1]
        token: tuple[Any, ...] | None = None
        width = self._stable_width(return_type, field_details_list) if self._leaves else None
        if width is not None and width <= KEPT_FIELDS:
            variables = self._variables_token
            if variables is _FALLBACK:
                try:
                    variables = frozen(self.variable_values.coerced)
                except TypeError:
                    variables = None
                self._variables_token = variables
            if variables is not None:
                nodes = tuple(id(details.node) for details in field_details_list)
                token = (id(self.operation), id(return_type), variables, nodes)
        self._kept_tokens[key] = (field_details_list, token)
        return token

    def _stable_width(self, return_type: Any, field_details_list: Any) -> int | None:
        """How many fields this selection executes, at every depth, when every one of them is
        stable: a plain leaf or object field (an attribute of the source), ``__typename``, or a
        resolver marked ``stable``; of object types only (an abstract type's resolution is not
        checked), with nothing deferred or streamed and no fragment arguments. None otherwise."""
        named = get_named_type(return_type)
        if is_leaf_type(named):
            return 0
        if type(named) is not GraphQLObjectType:
            return None
        for details in field_details_list:
            if details.fragment_variable_values is not None or any(
                directive.name.value == "stream" for directive in details.node.directives or ()
            ):
                return None
        grouped_field_set, defer_usages, _ = self.collect_subfields(named, field_details_list)
        if defer_usages:
            return None
        leaves = self._leaves.get(named.name, _NONE)
        objects = self._objects.get(named.name, _NONE)
        width = len(grouped_field_set)
        for sub_fields in grouped_field_set.values():
            name = sub_fields[0].node.name.value
            if name == _TYPENAME:
                continue
            field = named.fields.get(name)
            if field is None:
                return None
            leaf = leaves.get(name)
            plain = (leaf is not None and leaf.attribute is not None) or name in objects
            if not plain and not getattr(field.resolve, STABLE, False):
                return None
            below = self._stable_width(field.type, sub_fields)
            if below is None or width + below > KEPT_FIELDS:
                return None
            width += below
        return width

    def complete_list_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, with two shortcuts; each item still completes by graphql-core's
        rules (nulls, errors at the item's path, awaitable items and fields).

        - A list of objects of a known class (``object_origins``: a page's language groups
          and media items) has each such item's sub-fields executed at once, without
          graphql-core's per-item layers (``complete_list_item_value``, ``complete_value``,
          collecting the same sub-fields again).
        - A paced list (``app.pacing.PacedList``, a page's edges) is completed here, its items
          one after another while the pacer's budget lasts and the rest in one coroutine that
          pauses whenever the pacer says so. graphql-core, iterating it, gets an awaitable for
          every item past the budget and makes a coroutine and a task of each (about 90 of a
          100-result page's edges, 4-7 ms of its CPU).

        One difference that the specification leaves open: the asynchronous fields of a paced
        list's items completed before its first pause are awaited after the rest of the list,
        so their errors can come after a later item's synchronous ones in ``errors``."""
        kind = type(result)
        if (
            (kind is not list and kind is not PacedList)
            or position_context is not None
            or self.abort_signal is not None
            or self.get_stream_usage(field_details_list, path) is not None
        ):
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        item_type = return_type.of_type
        if kind is list and _nullable(item_type) not in self._origins:
            return super().complete_list_value(
                return_type, field_details_list, info, path, result, position_context
            )
        items = _ListItems(result, item_type, field_details_list, info, path, self._origins)
        return self._complete_listed(items)

    def _complete_listed(self, items: _ListItems) -> Any:
        """Every item of a plain list, or of a paced list the items while the pacer's budget
        lasts; the rest (``_complete_rest``) when some are left or awaitable."""
        listed = items.items
        count = len(listed)
        try:
            if type(listed) is PacedList:
                pacer = listed.pacer
                while items.index < count and not pacer.due():
                    self._complete_item(items)
            elif items.checked:
                self._complete_checked(items)
            else:
                while items.index < count:
                    self._complete_item(items)
        except BaseException:
            self._abandon(items)
            raise
        if items.index == count and not items.awaiting:
            return items.completed
        return self._complete_rest(items)

    async def _complete_rest(self, items: _ListItems) -> list[Any]:
        """A paced list's items past the budget, pausing when the pacer says so; then the
        items whose completion awaits, gathered as graphql-core gathers them."""
        listed, completed, awaiting = items.items, items.completed, items.awaiting
        try:
            if items.index < len(listed):
                pacer = cast("PacedList[Any]", listed).pacer
                while items.index < len(listed):
                    if pacer.due():
                        await pacer.pause()
                    self._complete_item(items)
        except BaseException:
            # graphql-core gathers the items past the budget with ``gather_with_cancel``: an
            # error or a cancellation there cancels the others, it does not run them.
            self._cancel_started(items.awaitables())
            raise
        if len(awaiting) == 1:
            (only,) = awaiting
            completed[only] = await completed[only]
        elif awaiting:
            done = await gather_with_cancel(*items.awaitables())
            for index, value in zip(awaiting, done, strict=True):
                completed[index] = value
        return completed

    def _cancel_started(self, awaitables: list[Any]) -> None:
        """Cancel completions that have not started: each becomes a task, cancelled once it
        has taken its first step (cancelled before it, a coroutine would leave the coroutines
        it holds un-awaited), and settled in the background like graphql-core's own."""
        if not awaitables:
            return
        tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
        asyncio.get_running_loop().call_soon(_cancel_all, tasks)
        self.settle_in_background(tasks)

    def _abandon(self, items: _ListItems) -> None:
        """The list stopped before its first pause (an item's error): items whose completion
        is under way are settled in the background, as graphql-core settles a failed list's
        items. No further item starts."""
        pending = items.awaitables()
        if pending:
            self.settle_in_background(pending)

    def _complete_checked(self, items: _ListItems) -> None:
        """The rest of a list whose items are all of the known class (``checked``), their
        sub-fields collected: each completed as ``_complete_item`` completes such an item, in
        one loop (a page has about 650 such items)."""
        execute = self.execute_fields
        is_awaitable = self.is_awaitable
        listed, completed, awaiting = items.items, items.completed, items.awaiting
        object_type, fields, path = items.object_type, items.fields, items.path
        for index in range(items.index, len(listed)):
            item_path = _new_tuple(Path, (path, index, None))
            items.index = index + 1
            try:
                value = execute(object_type, listed[index], item_path, fields, None)
            except Exception as raw_error:
                self.handle_field_error(
                    raw_error, items.item_type, items.field_details_list, item_path
                )
                value = None
            else:
                if type(value) is not dict and is_awaitable(value):
                    value = self._awaited(
                        value, items.item_type, items.field_details_list, item_path
                    )
                    awaiting.append(index)
            completed.append(value)

    def _complete_item(self, items: _ListItems) -> None:
        # As graphql-core's complete_iterable_value does with each item.
        index = items.index
        item = items.items[index]
        item_path = _new_tuple(Path, (items.path, index, None))
        items.index = index + 1
        if (
            items.checked
            or (type(item) is items.origin and getattr(item, TYPE_CAST_ATTRIBUTE, None) is None)
        ) and self._item_fields(items) is not None:
            try:
                value = self.execute_fields(items.object_type, item, item_path, items.fields, None)
            except Exception as raw_error:
                self.handle_field_error(
                    raw_error, items.item_type, items.field_details_list, item_path
                )
                value = None
            else:
                if type(value) is not dict and self.is_awaitable(value):
                    value = self._awaited(
                        value, items.item_type, items.field_details_list, item_path
                    )
                    items.awaiting.append(index)
            items.completed.append(value)
        elif self.is_awaitable(item):
            items.completed.append(
                self.complete_awaitable_list_item_value(
                    item, items.item_type, items.field_details_list, items.info, item_path, None
                )
            )
            items.awaiting.append(index)
        elif self.complete_list_item_value(
            item, items.completed, items.item_type, items.field_details_list, items.info,
            item_path, None,
        ):  # fmt: skip
            items.awaiting.append(index)

    def _item_fields(self, items: _ListItems) -> Any:
        """The grouped sub-fields of a list's object items (collected once per list), or None
        when they are deferred (graphql-core's path then completes every item)."""
        if items.fields is None:
            grouped_field_set, defer_usages, _ = self.collect_subfields(
                items.object_type, items.field_details_list
            )
            if defer_usages:
                items.origin = None
                return None
            items.fields = grouped_field_set
        return items.fields

    def _resolve_leaf(
        self,
        how: LeafField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        parent_path: Path | None,
        response_name: str,
        position_context: Any,
        cell: list[Any],
    ) -> Any:
        """A resolved leaf whose call its group does not share (yet): its arguments coerced
        and its info built, the resolver called, its result completed. For a resolver that
        ignores the path, the first item's arguments, info and resolver are kept in the plan's
        ``cell``: the group's other items share them (``execute_fields`` calls the resolver
        directly, and makes an item's path only to report an error or complete a result that
        is not plain). Any other resolver comes here for every item, with an info of its own."""
        field = how.field
        path = _path(parent_path, response_name, parent_type.name)
        try:
            first = field_details_list[0]
            args = self._arguments_of(field, first) if field.args or first.node.arguments else {}
            if getattr(field.resolve, IGNORES_PATH, False):
                info = self._shared_info(field, field_details_list, parent_type, path)
                if first.fragment_variable_values is None:
                    cell[0] = (args, info, field.resolve)
            else:
                info = self.build_resolve_info(
                    field, [details.node for details in field_details_list], parent_type, path
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        return self._complete_leaf(
            how, source, info, args, field_details_list, path, position_context
        )

    def _complete_leaf(
        self,
        how: LeafField,
        source: Any,
        info: Any,
        args: dict[str, Any],
        field_details_list: Any,
        path: Path,
        position_context: Any,
        result: Any = _FALLBACK,
    ) -> Any:
        field = how.field
        try:
            if result is _FALLBACK:
                assert field.resolve is not None
                result = field.resolve(source, info, **args)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    field.type, field_details_list, info, path, result, position_context
                )
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                if how.non_null:
                    name = f"{info.parent_type}.{field_details_list[0].node.name.value}"
                    raise TypeError(f"Cannot return null for non-nullable field {name}.")
                return None
            coerced = how.serialize(result)
            if coerced is None or coerced is Undefined:
                # graphql-core's own check, with its own message.
                return self.complete_value(
                    field.type, field_details_list, info, path, result, position_context
                )
            return coerced
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None

    def _arguments_of(self, field: GraphQLField, details: Any) -> dict[str, Any]:
        """The field's coerced arguments: the same for every item that shares the field node,
        within one operation (same variables), so coerced once. Errors are not kept: each
        item reports its own, as graphql-core does."""
        node = details.node
        fragment_variables = details.fragment_variable_values
        if fragment_variables is not None:
            return get_argument_values(
                field, node, self.variable_values, fragment_variables, self.hide_suggestions
            )
        key = (id(node), id(field))
        known = self._arguments.get(key)
        if known is not None and known[0] is node and known[1] is field:
            return known[2]
        args = get_argument_values(field, node, self.variable_values, None, self.hide_suggestions)
        self._arguments[key] = (node, field, args)
        return args

    async def _gather_fields(
        self, results: dict[str, Any], awaitable_fields: list[str]
    ) -> dict[str, Any]:
        # As graphql-core's execute_fields ends: one field awaited alone, several gathered
        # (the rest cancelled when one fails).
        if len(awaitable_fields) == 1:
            field = awaitable_fields[0]
            results[field] = await results[field]
            return results
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
        return results
