"""The operation table: every route and handler in it, each exactly once (actions:
test_gateway_operation_actions.py)."""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
import typing
from collections import Counter
from collections.abc import Iterator
from types import ModuleType

import pytest
from aiohttp import web
from nimbus_storage.gateway import handlers
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.operation import (
    Access,
    Handler,
    HeaderPresent,
    MediaType,
    QueryEquals,
    S3Operation,
    Scope,
)
from nimbus_storage.gateway.operations import OPERATIONS
from nimbus_storage.gateway.routing import UNSUPPORTED_SUBRESOURCES, resolve_operation
from nimbus_storage.s3errors import MethodNotAllowed, NotImplementedError_

BY_NAME = {operation.name: operation for operation in OPERATIONS}
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH")
PATHS = {Scope.SERVICE: ("", ""), Scope.BUCKET: ("bucket", ""), Scope.OBJECT: ("bucket", "k")}


def test_names_are_unique() -> None:
    counts = Counter(operation.name for operation in OPERATIONS)
    assert [name for name, count in counts.items() if count > 1] == []


# --- handlers -------------------------------------------------------------------------------


def _handler_modules() -> Iterator[ModuleType]:
    for info in pkgutil.iter_modules(handlers.__path__):
        yield importlib.import_module(f"{handlers.__name__}.{info.name}")


def _is_handler(function: object) -> bool:
    """``async def name(request: S3Request) -> web.StreamResponse``, public: a handler."""
    if not inspect.iscoroutinefunction(function) or function.__name__.startswith("_"):
        return False
    if len(inspect.signature(function).parameters) != 1:
        return False
    hints = typing.get_type_hints(function)
    return hints == {"request": S3Request, "return": web.StreamResponse}


def _defined_handlers() -> list[Handler]:
    found: list[Handler] = []
    for module in _handler_modules():
        for _, function in inspect.getmembers(module, inspect.iscoroutinefunction):
            if function.__module__ == module.__name__ and _is_handler(function):
                found.append(function)
    return found


def test_every_handler_is_in_the_table_exactly_once() -> None:
    defined = _defined_handlers()
    assert len(defined) > 40
    in_table = Counter(operation.handler for operation in OPERATIONS)
    orphans = [handler.__qualname__ for handler in defined if handler not in in_table]
    assert orphans == []
    twice = [handler.__qualname__ for handler, count in in_table.items() if count > 1]
    assert twice == []


def test_every_operation_names_a_handler_from_the_handler_modules() -> None:
    defined = set(_defined_handlers())
    assert [op.name for op in OPERATIONS if op.handler not in defined] == []


# --- routes ---------------------------------------------------------------------------------


def _request_for(
    operation: S3Operation, scope: Scope
) -> tuple[str, str, str, dict[str, str], dict[str, str]]:
    """A request the operation's route describes."""
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    if operation.subresource is not None:
        query[operation.subresource] = ""
    if operation.parameter is not None:
        query[operation.parameter] = "u"
    if isinstance(operation.when, QueryEquals):
        query[operation.when.name] = operation.when.value
    elif isinstance(operation.when, HeaderPresent):
        headers[operation.when.name] = "/source/key"
    elif isinstance(operation.when, MediaType):
        headers["Content-Type"] = f"{operation.when.value}; boundary=b"
    bucket, key = PATHS[scope]
    return operation.method, bucket, key, query, headers


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_operation_is_what_its_own_route_resolves_to(operation: S3Operation) -> None:
    scopes = list(Scope) if operation.scope is None else [operation.scope]
    for scope in scopes:
        assert resolve_operation(*_request_for(operation, scope)) is operation


HEADER_VARIANTS: tuple[dict[str, str], ...] = (
    {},
    {"x-amz-copy-source": "/source/key"},
    {"Content-Type": "multipart/form-data; boundary=b"},
)


def _routable_requests() -> Iterator[tuple[str, str, str, dict[str, str], dict[str, str]]]:
    """Every method on every path with up to two of the query names the router knows."""
    names = sorted(
        {op.subresource or op.parameter or "" for op in OPERATIONS}
        | {op.when.name for op in OPERATIONS if isinstance(op.when, QueryEquals)}
        | set().union(*UNSUPPORTED_SUBRESOURCES.values())
        | {"versionId", "prefix"}
    )
    valued = [op.when for op in OPERATIONS if isinstance(op.when, QueryEquals)]
    for (bucket, key), method in itertools.product(PATHS.values(), METHODS):
        for count in (0, 1, 2):
            for chosen in itertools.combinations([name for name in names if name], count):
                query = dict.fromkeys(chosen, "")
                for condition in valued:
                    if condition.name in query:
                        query[condition.name] = condition.value
                for headers in HEADER_VARIANTS:
                    yield method, bucket, key, query, headers


def test_every_request_resolves_to_an_operation_of_the_table_or_an_s3_error() -> None:
    reached: set[str] = set()
    for request in _routable_requests():
        try:
            operation = resolve_operation(*request)
        except (MethodNotAllowed, NotImplementedError_):
            continue
        assert BY_NAME[operation.name] is operation, request
        assert callable(operation.handler)
        assert operation.action is not None or operation.access is Access.ANONYMOUS
        reached.add(operation.name)
    assert reached == set(BY_NAME)


def test_routes_are_unambiguous() -> None:
    groups: dict[tuple[object, ...], list[S3Operation]] = {}
    for op in OPERATIONS:
        groups.setdefault((op.scope, op.subresource, op.parameter, op.method), []).append(op)
    for group in groups.values():
        assert len([op for op in group if op.when is None]) <= 1, group
        conditions = [op.when for op in group if op.when is not None]
        assert len(conditions) == len(set(conditions)), group


def test_no_operation_claims_an_unsupported_subresource() -> None:
    for op in OPERATIONS:
        if op.scope is not None:
            assert op.subresource not in UNSUPPORTED_SUBRESOURCES[op.scope]
            assert op.parameter not in UNSUPPORTED_SUBRESOURCES[op.scope]
