"""What an S3 operation is: its route, its handler and what authorizes it.

Every operation Nimbus answers is one ``S3Operation`` in the table (gateway/operations/). The
router (gateway/routing.py) resolves a request to one of them; authorization
(gateway/authorize.py) reads its access and action; the gateway (gateway/app.py) calls its
handler.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from nimbus_storage.gateway.context import S3Request

Handler = Callable[[S3Request], Awaitable[web.StreamResponse]]


class Scope(enum.Enum):
    """What a request's path names."""

    SERVICE = "service"  # "/": no bucket
    BUCKET = "bucket"  # "/bucket"
    OBJECT = "object"  # "/bucket/key"


class Access(enum.Enum):
    """How a request for the operation is authorized (see gateway/authorize.py)."""

    RESOURCE = "resource"
    """The action on the request's bucket or object: bucket policy, grants, owner, canned ACL."""
    ACCOUNT = "account"
    """Any credential but an app credential (one limited to grants); no bucket is consulted."""
    ANONYMOUS = "anonymous"
    """Neither authenticated nor authorized: a CORS preflight, answered from the CORS rules."""


@dataclass(frozen=True, slots=True)
class Action:
    """An IAM action, and the one that replaces it when the request names a version."""

    name: str
    versioned: str | None = None

    def for_version(self, version_id: str | None) -> str:
        """The action a request naming ``version_id`` (its ``versionId``) needs."""
        if version_id is not None and self.versioned is not None:
            return self.versioned
        return self.name


@dataclass(frozen=True, slots=True)
class HeaderPresent:
    """The request has this header (any case), whatever its value."""

    name: str

    def matches(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return self.name in headers


@dataclass(frozen=True, slots=True)
class QueryEquals:
    """The request's query has this parameter with this value."""

    name: str
    value: str

    def matches(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return query.get(self.name) == self.value


@dataclass(frozen=True, slots=True)
class MediaType:
    """The request's Content-Type is this media type (whatever its parameters, any case)."""

    value: str

    def matches(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        content_type = headers.get("Content-Type")
        if content_type is None:  # a plain mapping, whose names keep their case
            content_type = next(
                (v for name, v in headers.items() if name.lower() == "content-type"), ""
            )
        return content_type.partition(";")[0].strip().lower() == self.value


Condition = HeaderPresent | QueryEquals | MediaType


@dataclass(frozen=True, slots=True)
class S3Operation:
    """One AWS operation: the requests it answers, its handler, and what authorizes it.

    Routing: a request names the operation when its path has ``scope`` (``None``: any path, and
    whatever the query, for the CORS preflight), its method is ``method``, and:

    * ``subresource``: the query names this sub-resource (``?versioning``, ``?tagging`` ...).
      Sub-resources are looked at first, in table order; one of them claims the request, and a
      method it has no operation for is 405 MethodNotAllowed;
    * ``parameter``: the query has this parameter (``?uploadId``, ``?uploads`` on a key). Looked
      at after sub-resources S3 has and Nimbus does not (those are 501 NotImplemented), then
      like a sub-resource;
    * neither: the plain bucket or object request;
    * ``when``: among operations of the same route and method, the one whose condition holds
      wins over the one without (CopyObject over PutObject, ListObjectsV2 over ListObjects);
      with none without, a request no condition holds for is 405 (a bucket POST that is not a
      browser upload form).

    Authorization: ``access`` says how; ``action`` is what a request needs on its own bucket or
    object (``None`` only for anonymous operations). ``handler_action`` is an action the
    handler checks itself on another resource: the copy source (CopyObject, UploadPartCopy),
    each key of a batch (DeleteObjects), the existing bucket whose ACL re-creating it resets
    (CreateBucket). ``object_read``: a read of one object, whose own ACL may allow what its
    bucket's rules deny, and whose SSE headers are checked once the object is found.
    ``expected_owner``: ``x-amz-expected-bucket-owner`` is checked (AWS ignores it on
    CreateBucket). ``form_auth``: the request is unsigned and its identity is its upload
    form's (PostObject: gateway/post_form.py), read before it is authorized.
    """

    name: str
    method: str
    scope: Scope | None
    handler: Handler
    action: Action | None
    subresource: str | None = None
    parameter: str | None = None
    when: Condition | None = None
    access: Access = Access.RESOURCE
    handler_action: Action | None = None
    object_read: bool = False
    expected_owner: bool = True
    form_auth: bool = False

    def __post_init__(self) -> None:
        if (self.action is None) != (self.access is Access.ANONYMOUS):
            raise ValueError(f"{self.name}: an action is needed unless the access is anonymous")
        if self.subresource is not None and self.parameter is not None:
            raise ValueError(f"{self.name}: a sub-resource or a parameter, not both")

    def required_action(self, version_id: str | None) -> str:
        """The action a request (naming ``version_id``) needs on its own bucket or object."""
        if self.action is None:
            raise RuntimeError(f"{self.name} is not authorized by an action")
        return self.action.for_version(version_id)

    def required_handler_action(self, version_id: str | None = None) -> str:
        """The action the handler checks on another resource (see ``handler_action``)."""
        if self.handler_action is None:
            raise RuntimeError(f"{self.name} checks no action of its own")
        return self.handler_action.for_version(version_id)
