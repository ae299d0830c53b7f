"""The S3 gateway: one aiohttp application dispatching every request to its operation handler.

A request goes: SSE-C over a secure connection only (``transport.py``) -> addressing ->
operation -> authentication -> bucket lookup -> authorization -> handler. Any S3Error on the
way becomes the AWS error document, and so does any error of the storage below, once
``storage_errors.to_s3`` has made it an S3 error; anything else is logged and answered as
InternalError, so a bug costs one request, never the server.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from nimbus_storage.gateway import access_log, admin, cors
from nimbus_storage.gateway.addressing import parse_query, resolve_target, split_raw_path
from nimbus_storage.gateway.authentication import authenticate_request
from nimbus_storage.gateway.authorize import ExplicitDeny, authorize
from nimbus_storage.gateway.bucket_controls import check_requested_acl
from nimbus_storage.gateway.bucket_owner import EXPECTED_OWNER, check_expected_owner
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.encryption import refuse_encryption
from nimbus_storage.gateway.operation import Access, Scope
from nimbus_storage.gateway.post_form import read_post_form
from nimbus_storage.gateway.refused_headers import refuse_headers
from nimbus_storage.gateway.responses import error_response, new_request_id
from nimbus_storage.gateway.routing import resolve_operation
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.gateway.transport import is_secure, refuse_insecure_customer_key
from nimbus_storage.s3errors import (
    AccessDenied,
    InternalError,
    InvalidAccessKeyId,
    S3Error,
)
from nimbus_storage.storage_errors import StorageError

log = logging.getLogger("nimbus.gateway")
SERVICES_KEY = web.AppKey("services", Services)
REQUEST_ID = web.RequestKey("nimbus_request_id", str)
S3_REQUEST = web.RequestKey("nimbus_s3_request", S3Request)
# A request admitted (or refused) before its handler: see _expect.
ADMISSION = web.RequestKey("nimbus_admission", object)
INTERNAL_PREFIX = "/_nimbus/"


async def _prepare(http: web.Request, services: Services, request_id: str) -> S3Request:
    secure = is_secure(http, services.config)
    refuse_insecure_customer_key(http.headers, secure=secure)  # as AWS: before anything else
    raw_path, raw_query = split_raw_path(http.raw_path)
    target = resolve_target(raw_path, http.host, services.config.domains)
    query = parse_query(raw_query)
    operation = resolve_operation(http.method, target.bucket, target.key, query, http.headers)
    refuse_headers(operation.name, http.headers)
    request = S3Request(
        http=http,
        services=services,
        request_id=request_id,
        operation=operation,
        bucket_name=target.bucket,
        key=target.key,
        query=query,
        raw_path=raw_path,
    )
    if operation.access is Access.ANONYMOUS:
        return request
    catalog = services.catalog
    if operation.form_auth:  # unsigned: the upload form is, and is read up to its file
        request.form = await read_post_form(request)
        refuse_insecure_customer_key(request.form.fields, secure=secure)  # the file unread
        request.auth, credential = request.form.auth, request.form.credential
        request.key = request.form.key  # the object it writes, which authorization names
    else:
        request.auth, credential = await authenticate_request(
            catalog,
            http.method,
            raw_path,
            raw_query,
            http.headers,
            virtual_host_bucket=target.bucket if target.virtual_host else None,
        )
    if request.auth is not None:
        if credential is None:
            raise InvalidAccessKeyId()
        request.credential = credential
    if target.bucket:
        request.bucket = await catalog.get_bucket(target.bucket)
    return request


async def _check_authorized(request: S3Request) -> None:
    """What is checked of an authorized request before its handler runs."""
    operation = request.operation
    if request.bucket is not None and operation.expected_owner:
        check_expected_owner(request.headers, request.bucket, EXPECTED_OWNER)
    if not operation.object_read:  # a read is checked once its object is found
        refuse_encryption(operation.name, request.headers)
    await check_requested_acl(request)  # x-amz-acl against the bucket's controls


async def _admit(http: web.Request, services: Services) -> S3Request:
    """The request, authenticated, routed and authorized; what refuses it raises. Done once:
    for a request that expects ``100-continue``, before its body is asked for (``_expect``)."""
    admitted = http.get(ADMISSION)
    if isinstance(admitted, S3Request):
        return admitted
    if isinstance(admitted, BaseException):
        raise admitted
    request = await _prepare(http, services, http[REQUEST_ID])
    http[S3_REQUEST] = request
    operation = request.operation
    try:
        await authorize(request)
    except AccessDenied as denied:
        # A denial at bucket level may still be lifted by the object's own ACL.
        if not operation.object_read or isinstance(denied, ExplicitDeny):
            raise
        request.object_acl_required = True
    await _check_authorized(request)
    http[ADMISSION] = request
    return request


async def _expect(http: web.Request) -> None:
    """``Expect``: as S3, a request it will refuse is refused before its body is sent (no
    ``100 Continue``: the refusal is the answer); other expectations are ignored."""
    if http.headers.get("Expect", "").lower() != "100-continue" or http.version.minor < 1:
        return
    # A browser upload is authorized by its form, which is in the body.
    if not http.raw_path.startswith(INTERNAL_PREFIX) and http.method != "POST":
        http[REQUEST_ID] = new_request_id()
        try:
            request = await _admit(http, http.app[SERVICES_KEY])
            if request.operation.scope is Scope.OBJECT:
                request.require_bucket()  # NoSuchBucket, before the body too
        except Exception as refused:  # answered by handle_s3, which raises it again
            http[ADMISSION] = refused
            return
    await http.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    http.writer.output_size = 0  # the answer has not started


async def handle_s3(http: web.Request) -> web.StreamResponse:
    services = http.app[SERVICES_KEY]
    metrics = services.metrics
    request_id = http.get(REQUEST_ID) or new_request_id()
    http[REQUEST_ID] = request_id
    received, started = time.time(), time.perf_counter()
    error_code = ""  # the answer's AWS error code, for the access log
    metrics.in_flight.inc()
    try:
        admitted = await _admit(http, services)
        response = await admitted.operation.handler(admitted)
    except (S3Error, StorageError) as caught:
        error = caught if isinstance(caught, S3Error) else to_s3(caught)
        metrics.errors.labels(error_code := error.code).inc()
        if _answer_started(http):
            if error is caught:
                raise
            raise error from caught
        prepared = http.get(S3_REQUEST)  # refused after it was routed: its resource is known
        resource = prepared.resource if prepared is not None else http.path
        response = error_response(error, resource, request_id, head=http.method == "HEAD")
    except (ConnectionResetError, web.HTTPException):
        raise
    except Exception:
        log.exception("internal error in %s %s", http.method, http.path)
        metrics.errors.labels(error_code := "InternalError").inc()
        if _answer_started(http):
            raise
        response = error_response(
            InternalError(), http.path, request_id, head=http.method == "HEAD"
        )
    finally:
        metrics.in_flight.dec()
    if isinstance(http.get(ADMISSION), BaseException):
        # Refused before its body was asked for: the client will not send it, so the rest of
        # this connection is not a next request.
        response.force_close()
    request = http.get(S3_REQUEST)
    operation_name = request.operation.name if request is not None else "Unknown"
    metrics.requests.labels(operation_name, str(response.status)).inc()
    metrics.latency.labels(operation_name).observe(time.perf_counter() - started)
    # Sends the answer first, when the request's bucket keeps an access log.
    await access_log.record(
        request, response, error_code=error_code, received=received, started=started
    )
    return response


def _answer_started(http: web.Request) -> bool:
    """Whether a streamed answer already put bytes on the wire (a GET failing mid-body).

    No error document can follow them: re-raising lets aiohttp drop the connection, so the
    client sees a short body at once instead of waiting for bytes that never come.
    """
    return http.writer.output_size > 0


async def handle_internal(http: web.Request) -> web.StreamResponse:
    services = http.app[SERVICES_KEY]
    if http.path == "/_nimbus/metrics":
        return web.Response(
            body=services.metrics.exposition(),
            headers={"Content-Type": services.metrics.content_type},
        )
    if http.path == "/_nimbus/healthz":
        return web.Response(text="ok\n")
    if http.path == "/_nimbus/readyz":
        if not services.ready:
            return web.Response(status=503, text="starting: the root credential is not set yet\n")
        return web.Response(text="ok\n")
    return await admin.handle(http, services)


async def dispatch(http: web.Request) -> web.StreamResponse:
    if http.raw_path.startswith(INTERNAL_PREFIX):
        return await handle_internal(http)
    return await handle_s3(http)


async def _stamp_answer(http: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers every S3 answer carries (its request id, the
    server, the bucket's CORS headers for a cross-origin request), added as its head is sent,
    so that a streamed answer, prepared by its handler, has them too."""
    request_id = http.get(REQUEST_ID)
    if request_id is None:
        return  # not an S3 request (metrics, health, admin)
    request = http.get(S3_REQUEST)
    if request is not None and request.bucket is not None and "Origin" in http.headers:
        await cors.add_actual_request_headers(request, response)
    response.headers.setdefault("x-amz-request-id", request_id)
    response.headers["Server"] = "Nimbus"


def build_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    app[SERVICES_KEY] = services
    app.on_response_prepare.append(_stamp_answer)
    app.on_response_prepare.append(access_log.stamp_first_byte)
    # aiohttp matches the decoded path, where a key's %0A is a line feed: "." alone stops
    # there (a bare text/plain 404), so the pattern matches across lines.
    app.router.add_route("*", "/{tail:(?s:.*)}", dispatch, expect_handler=_expect)
    return app
