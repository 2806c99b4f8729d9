"""Running GraphQL for the simulated Stash without graphql-core's per-field interpretive cost.

Stash serves GraphQL with gqlgen, which generates Go code per field: reading a plain column of a scene
costs it next to nothing. graphql-core interprets every field (a path entry, resolve info, the default
resolver, awaitable checks, null and list handling), several µs each in CPython, and a findScenes page of
500 scenes with PlexSync's fragment has some 17,000 fields: the simulated Stash, not PlexSync, then
dominated any benchmark that lists a large library.

`execute` gives the same answers as graphql-core's `execute_sync`, which it calls: every resolver here
is synchronous, so no value is checked for awaitability; and on graphql-core 3.3, a field that is a
plain key of a stored record (no resolver of its own, no arguments, a scalar or enum type) is read and
coerced directly, as graphql-core's default resolver and leaf completion would, and a list of stored
records typed [Object!] has each item's fields executed without the generic completion levels in
between. Anything else (a resolver, arguments, other lists and objects, a null on a non-null field, a
value the type rejects) goes graphql-core's ordinary way, so errors, their messages and paths are
graphql-core's own.
"""
from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    execute_sync,
)
from graphql.pyutils import Path

try:  # graphql-core 3.3; 3.2 (also allowed by requirements-dev.txt) runs without the shortcut
    from graphql.execution.incremental.incremental_executor import IncrementalExecutor
except ImportError:  # pragma: no cover - depends on the installed graphql-core
    IncrementalExecutor = None  # type: ignore[assignment,misc]

_NOT_PLAIN = object()
# Attribute of a GraphQLObjectType: {field name: (leaf type, non-null) or _NOT_PLAIN}. A type never
# changes once its schema is built, and each simulated Stash builds its own schema.
_PLANS = "_sandbox_plain_fields"
# Attribute of a GraphQLList: its item object type when the items can be completed directly, else
# _NOT_PLAIN.
_ITEMS = "_sandbox_object_items"


def _plain_leaf(parent_type: GraphQLObjectType, name: str) -> Any:
    """(leaf type, non-null) when the field is read straight from a dict source, else _NOT_PLAIN."""
    field = parent_type.fields.get(name)
    if field is None or field.resolve is not None or field.args:
        return _NOT_PLAIN
    gql_type, non_null = field.type, False
    if isinstance(gql_type, GraphQLNonNull):
        gql_type, non_null = gql_type.of_type, True
    if not isinstance(gql_type, (GraphQLScalarType, GraphQLEnumType)):
        return _NOT_PLAIN
    return gql_type, non_null


def _object_items(schema: GraphQLSchema, list_type: GraphQLList) -> Any:
    """The object type of a [Object!] list whose items need no more than their fields executed (no
    is_type_of check, no @stream in the schema), else _NOT_PLAIN."""
    item = list_type.of_type
    if (isinstance(item, GraphQLNonNull) and isinstance(item.of_type, GraphQLObjectType)
            and item.of_type.is_type_of is None and schema.get_directive("stream") is None):
        return item.of_type
    return _NOT_PLAIN


def _plain_value(plan: Any, source: dict, name: str) -> Any:
    """The completed value of a plain field, or _NOT_PLAIN when graphql-core must handle it (it then
    raises the error it always raises, e.g. a null on a non-null field)."""
    value = source.get(name)
    if value is None:
        return _NOT_PLAIN if plan[1] else None
    if callable(value):  # the default resolver would call it
        return _NOT_PLAIN
    try:
        coerced = plan[0].coerce_output_value(value)
    except Exception:  # noqa: BLE001 - graphql-core reports it
        return _NOT_PLAIN
    return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced


if IncrementalExecutor is not None:
    class _PlainFieldExecutor(IncrementalExecutor):  # type: ignore[misc,valid-type]
        """graphql-core's executor; plain scalar keys of dict sources skip its per-field machinery."""

        def execute_fields(self, parent_type: Any, source_value: Any, path: Any, grouped_field_set: Any,
                           position_context: Any) -> Any:
            if type(source_value) is not dict or self.middleware_manager is not None:
                return super().execute_fields(parent_type, source_value, path, grouped_field_set,
                                              position_context)
            plans = parent_type.__dict__.get(_PLANS)
            if plans is None:
                plans = {}
                setattr(parent_type, _PLANS, plans)
            results: dict[str, Any] = {}
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                name = node.name.value
                plan = plans.get(name)
                if plan is None:
                    plan = plans[name] = _plain_leaf(parent_type, name)
                if plan is not _NOT_PLAIN and not node.arguments:
                    value = _plain_value(plan, source_value, name)
                    if value is not _NOT_PLAIN:
                        results[response_name] = value
                        continue
                result = self.execute_field(parent_type, source_value, field_details_list,
                                            Path(path, response_name, parent_type.name), position_context)
                if result is not Undefined:
                    if self.is_awaitable(result):  # never: execute() runs synchronous resolvers only
                        raise TypeError(f"asynchronous resolver for {parent_type.name}.{name} in the sandbox")
                    results[response_name] = result
            return results

        def complete_value(self, return_type: Any, field_details_list: Any, info: Any, path: Any, result: Any,
                           position_context: Any) -> Any:
            # A list of stored records as [Object!]: each item's fields are executed directly, with the
            # error handling of graphql-core's complete_list_item_value, instead of three more levels
            # of completion per item.
            if type(result) is list and type(return_type) is GraphQLList:
                item_type = return_type.__dict__.get(_ITEMS)
                if item_type is None:
                    item_type = _object_items(self.schema, return_type)
                    setattr(return_type, _ITEMS, item_type)
                if item_type is not _NOT_PLAIN and all(type(item) is dict for item in result):
                    completed: list[Any] = []
                    for index, item in enumerate(result):
                        item_path = path.add_key(index, None)
                        try:
                            completed.append(self.collect_and_execute_subfields(
                                item_type, field_details_list, item_path, item, position_context))
                        except Exception as raw_error:  # noqa: BLE001 - as complete_list_item_value
                            self.handle_field_error(raw_error, return_type.of_type, field_details_list,
                                                    item_path)
                            completed.append(None)
                    return completed
            return super().complete_value(return_type, field_details_list, info, path, result,
                                          position_context)
else:  # pragma: no cover
    _PlainFieldExecutor = None  # type: ignore[assignment,misc]


def execute(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any],
            operation_name: str | None, context: Any, root_value: Any = None) -> ExecutionResult:
    """Run one validated document; every resolver is synchronous."""
    extra = {"executor_class": _PlainFieldExecutor} if _PlainFieldExecutor is not None else {}
    return execute_sync(schema, document, root_value=root_value, variable_values=variables,
                        operation_name=operation_name, context_value=context, **extra)
