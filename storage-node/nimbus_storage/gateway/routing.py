"""Which S3 operation a request is: method, bucket, key and sub-resource query parameters.

The result is the request's ``S3Operation`` from the table (gateway/operations/): the router
knows no operation by name. What it adds to the table is the order of the questions it asks:

1. OPTIONS on any path is the CORS preflight; HEAD on the service is its GET;
2. a sub-resource the table has for the path's scope (``?acl``, ``?versioning`` ...), the first
   in table order: the operation for the method, else 405 MethodNotAllowed;
3. a sub-resource S3 has and Nimbus does not (below): 501 NotImplemented, never silently
   treated as a plain bucket or object request;
4. a parameter the table has (``?uploadId``, then ``?uploads`` on a key), as in 2;
5. the plain request: the operation for the method, else 405 MethodNotAllowed.

Among operations of one route and method, one whose condition holds (``x-amz-copy-source``,
``list-type=2``) wins over the one without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from nimbus_storage.gateway.operation import S3Operation, Scope
from nimbus_storage.gateway.operations import OPERATIONS
from nimbus_storage.s3errors import MethodNotAllowed, NotImplementedError_

# Sub-resources S3 has that Nimbus does not implement, per scope.
UNSUPPORTED_SUBRESOURCES: Mapping[Scope, frozenset[str]] = {
    Scope.SERVICE: frozenset(),
    Scope.BUCKET: frozenset(
        {
            "abac",
            "accelerate",
            "analytics",
            "default-storage-class",
            "intelligent-tiering",
            "inventory",
            "metadataAnnotationTable",
            "metadataConfiguration",
            "metadataInventoryTable",
            "metadataJournalTable",
            "metadataTable",
            "metrics",
            "notification",
            "replication",
            "requestPayment",
            "session",
            "website",
        }
    ),
    Scope.OBJECT: frozenset(
        {
            "annotation",
            "encryption",
            "part",
            "renameObject",
            "restore",
            "select",
            "torrent",
        }
    ),
}


@dataclass
class _ScopeRoutes:
    """The operations of one scope, grouped as the router asks about them."""

    subresources: dict[str, list[S3Operation]] = field(default_factory=dict)
    parameters: dict[str, list[S3Operation]] = field(default_factory=dict)
    plain: list[S3Operation] = field(default_factory=list)


def _index(
    operations: Iterable[S3Operation],
) -> tuple[dict[str, S3Operation], dict[Scope, _ScopeRoutes]]:
    anywhere: dict[str, S3Operation] = {}
    scopes = {scope: _ScopeRoutes() for scope in Scope}
    for operation in operations:
        if operation.scope is None:
            anywhere[operation.method] = operation
            continue
        routes = scopes[operation.scope]
        if operation.subresource is not None:
            routes.subresources.setdefault(operation.subresource, []).append(operation)
        elif operation.parameter is not None:
            routes.parameters.setdefault(operation.parameter, []).append(operation)
        else:
            routes.plain.append(operation)
    return anywhere, scopes


_ANYWHERE, _SCOPES = _index(OPERATIONS)


def scope_of(bucket: str, key: str) -> Scope:
    if not bucket:
        return Scope.SERVICE
    return Scope.OBJECT if key else Scope.BUCKET


def resolve_operation(
    method: str, bucket: str, key: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> S3Operation:
    scope = scope_of(bucket, key)
    method = "GET" if method == "HEAD" and scope is Scope.SERVICE else method
    if method in _ANYWHERE:
        return _ANYWHERE[method]
    routes = _SCOPES[scope]
    for name, candidates in routes.subresources.items():
        if name in query:
            return _pick(candidates, method, query, headers)
    unsupported = UNSUPPORTED_SUBRESOURCES[scope].intersection(query)
    if unsupported:
        raise NotImplementedError_(
            f"{scope.value.capitalize()} sub-resource {sorted(unsupported)[0]!r} is not supported"
        )
    for name, candidates in routes.parameters.items():
        if name in query:
            return _pick(candidates, method, query, headers)
    return _pick(routes.plain, method, query, headers)


def _pick(
    candidates: list[S3Operation],
    method: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> S3Operation:
    fallback: S3Operation | None = None
    for operation in candidates:
        if operation.method != method:
            continue
        if operation.when is None:
            fallback = operation
        elif operation.when.matches(query, headers):
            return operation
    if fallback is None:
        raise MethodNotAllowed()
    return fallback
