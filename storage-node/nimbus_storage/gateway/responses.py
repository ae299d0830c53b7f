"""Building S3 responses: XML documents, empty answers, and the error document."""

from __future__ import annotations

import uuid

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.s3errors import S3Error

XML_CONTENT_TYPE = "application/xml"


def xml_response(
    root: str, tree: s3xml.XmlTree, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=s3xml.render(root, tree),
        status=status,
        content_type=XML_CONTENT_TYPE,
        headers=headers,
    )


def empty_response(status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=headers)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16].upper()


def error_response(
    error: S3Error, resource: str | None, request_id: str, *, head: bool
) -> web.Response:
    """The AWS error document; ``resource`` None when the request names none (unparsable)."""
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": request_id, **error.headers}
    if error.status == 304 or head:
        # HEAD and 304 carry no body; SDKs read the code from the status alone.
        return web.Response(status=error.status, headers=headers)
    tree: dict[str, s3xml.XmlValue] = {"Code": error.code, "Message": error.message}
    tree.update(error.extra)
    if resource is not None:
        tree["Resource"] = resource
    tree["RequestId"] = request_id
    return web.Response(
        body=s3xml.render("Error", tree, namespace=False),
        status=error.status,
        content_type=XML_CONTENT_TYPE,
        headers=headers,
    )
