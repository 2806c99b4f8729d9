"""Running GraphQL for the simulated Stash without graphql-core's per-field interpretive cost.

Stash serves GraphQL with gqlgen, which generates Go code per field: reading a plain column of a scene
costs it next to nothing. graphql-core interprets every field (a path entry, resolve info, the default
resolver, awaitable checks, null and list handling), several µs each in CPython, and a findScenes page of
500 scenes with PlexSync's fragment has some 17,000 fields: the simulated Stash, not PlexSync, then
dominated any benchmark that lists a large library.

`execute` gives the same answers as graphql-core's `execute_sync`, which it calls: every resolver here
is synchronous, so no value is checked for awaitability; and on graphql-core 3.3, a field that is a
plain key of a stored record (no resolver of its own, no arguments, a scalar or enum type) is read and
coerced directly, as graphql-core's default resolver and leaf completion would. Anything else (a
resolver, arguments, an object or a list, a null on a non-null field, a value the type rejects) goes
graphql-core's ordinary way, so errors, their messages and paths are graphql-core's own.
"""
from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLEnumType,
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
else:  # pragma: no cover
    _PlainFieldExecutor = None  # type: ignore[assignment,misc]


def execute(schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any],
            operation_name: str | None, context: Any, root_value: Any = None) -> ExecutionResult:
    """Run one validated document; every resolver is synchronous."""
    extra = {"executor_class": _PlainFieldExecutor} if _PlainFieldExecutor is not None else {}
    return execute_sync(schema, document, root_value=root_value, variable_values=variables,
                        operation_name=operation_name, context_value=context, **extra)
