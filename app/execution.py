"""graphql-core's executor with a shorter path for leaf fields.

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

Object, list and abstract fields are graphql-core's entirely. Middleware (none in Footage today)
switches both shortcuts off, since it must see every resolver call. The table of leaf fields is
made once per schema, after its resolvers are installed (``install_leaf_fields``, called by
``app.schema.build_schema``); a schema without it executes as graphql-core does.
``tests/test_execution.py`` compares the answers and errors with graphql-core's executor case by
case.

Strawberry internals this relies on: a resolver-less field's graphql-core resolver is marked
``_is_default``, and the field's definition is in its extensions under
``GraphQLCoreConverter.DEFINITION_BACKREF``. Should either change, no field would take the plain
shortcut (answers stay right, only slower): ``tests/test_execution.py`` fails then.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    get_argument_values,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

_TYPENAME = "__typename"


class LeafField(NamedTuple):
    """How to answer one leaf field: by ``attribute`` of the source, or else by ``field``'s
    resolver."""

    attribute: str | None
    field: GraphQLField
    serialize: Any  # the leaf type's coerce_output_value
    non_null: bool


LeafFields = dict[str, dict[str, LeafField]]  # type name -> field name -> how

# Where the table lives: the graphql-core schema's own extensions (not printed in the SDL).
LEAF_FIELDS = "footage.leaf_fields"


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


def _enum_serializer(enum_type: CustomGraphQLEnumType) -> Any:
    """Strawberry's enum serialisation, by a dict: it scans the enum's values comparing
    ``.value`` (a descriptor) for every item, 2% of a page. Members of the enum's own class
    are looked up; anything else goes to Strawberry's method, which answers (or refuses) it."""
    wrapped = enum_type.wrapped_cls
    names: dict[Any, str] = {}
    members: list[Any] = list(wrapped)
    for member in members:
        for name, value in enum_type.values.items():
            if member.value == value.value:
                names[member] = name
                break
    slow = enum_type.coerce_output_value

    def serialize(output_value: Any) -> Any:
        if type(output_value) is wrapped:
            name = names.get(output_value)
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
        return LeafField(attribute, field, _enum_serializer(leaf), non_null)
    return LeafField(attribute, field, leaf.coerce_output_value, non_null)


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


def install_leaf_fields(schema: GraphQLSchema) -> None:
    """Give ``schema`` its table (once its resolvers are final)."""
    schema.extensions = {**(schema.extensions or {}), LEAF_FIELDS: leaf_fields(schema)}


def _probe(*_: Any, **__: Any) -> None:
    """A resolver that middleware would wrap."""


class FootageExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Strawberry always passes a manager; it wraps resolvers only when it has middleware.
        wraps = manager is not None and manager.get_field_resolver(_probe) is not _probe
        table: LeafFields = (self.schema.extensions or {}).get(LEAF_FIELDS, {})
        self._leaves = {} if wraps else table
        # Coerced arguments by (field node, field): one node can be executed for several
        # object types (a fragment on an interface), whose fields may differ in arguments.
        self._arguments: dict[tuple[int, int], tuple[Any, Any, dict[str, Any]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        leaves = self._leaves.get(parent_type.name)
        if leaves is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                field_name = field_details_list[0].node.name.value
                how = leaves.get(field_name)
                if how is not None:
                    attribute = how.attribute
                    if attribute is None:
                        result = self._resolve_leaf(
                            how, parent_type, source_value, field_details_list,
                            Path(path, response_name, parent_type.name), position_context,
                        )  # fmt: skip
                        results[response_name] = result
                        if is_awaitable(result):
                            awaitable_fields.append(response_name)
                        continue
                    try:
                        value = getattr(source_value, attribute)
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
                elif field_name == _TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
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

    def _resolve_leaf(
        self,
        how: LeafField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        field = how.field
        try:
            first = field_details_list[0]
            node = first.node
            args = self._arguments_of(field, first) if field.args or node.arguments else {}
            info = self.build_resolve_info(
                field, [details.node for details in field_details_list], parent_type, path
            )
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
                    name = f"{parent_type}.{node.name.value}"
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
