"""The request context a bucket policy's conditions are evaluated against: the condition keys
AWS defines for S3 (``aws:SecureTransport``, ``s3:x-amz-*`` headers, ``s3:prefix``, the
signature's, tags ...). The keys that need a read (``s3:ExistingObjectTag/<key>``, a
PutObjectTagging body's ``s3:RequestObjectTag/<key>``) are read only when the policy tests
them."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from functools import lru_cache

from nimbus_storage.bucket_config.bucket_policy import BucketPolicy, parse_policy
from nimbus_storage.bucket_config.tagging import parse_object_tagging, parse_tagging_header
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.transport import is_secure
from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import S3Error


@lru_cache(maxsize=1024)
def cached_policy(bucket: str, document: str) -> BucketPolicy:
    return parse_policy(document, bucket)


# Request headers that are condition keys of their own (``s3:<header>``) when present.
_HEADER_KEYS = (
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-copy-source",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-content-sha256",
    "x-amz-storage-class",
    "x-amz-metadata-directive",
)
_QUERY_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}
# The object actions whose requests carry s3:ExistingObjectTag/<key>: those on an object that
# exists (reads, its tags, its ACL).
_EXISTING_TAG_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
)
_EXISTING_TAG = "s3:existingobjecttag/"
_REQUEST_TAG = "s3:requestobjecttag"
_TAGGING_BODY_LIMIT = 64 * 1024


@lru_cache(maxsize=1024)
def policy_keys(bucket: str, document: str) -> frozenset[str]:
    """The condition keys (case-folded) a policy tests."""
    return frozenset(
        condition.key.casefold()
        for statement in cached_policy(bucket, document).statements
        for condition in statement.conditions
    )


def _signature_keys(request: S3Request, context: dict[str, str | list[str]]) -> None:
    auth = request.auth
    if auth is None:
        return
    context["s3:signatureversion"] = "AWS" if auth.signature_version == 2 else "AWS4-HMAC-SHA256"
    if request.operation.form_auth:
        context["s3:authType"] = "POST"
    else:
        context["s3:authType"] = "REST-QUERY-STRING" if auth.presigned else "REST-HEADER"
    if not (auth.presigned and auth.signature_version == 2):  # there, the date is the expiry
        age = datetime.now(UTC) - auth.request_time
        context["s3:signatureAge"] = str(max(0, int(age.total_seconds() * 1000)))


def _tls_version(request: S3Request) -> str | None:
    transport = request.http.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    version = ssl_object.version() if ssl_object is not None else None
    if not isinstance(version, str) or not version.startswith("TLSv"):
        return None
    return version.removeprefix("TLSv")  # "1.2", "1.3": compared with Numeric operators


def _tag_keys(context: dict[str, str | list[str]], tags: dict[str, str]) -> None:
    for name, value in tags.items():
        context[f"s3:RequestObjectTag/{name}"] = value
    context["s3:RequestObjectTagKeys"] = list(tags)


def _secure(request: S3Request) -> bool:
    """A TLS connection, or X-Forwarded-Proto: https where the gateway trusts it (transport.py):
    the same answer SSE-C gets."""
    return is_secure(request.http, request.services.config)


def request_context(request: S3Request) -> dict[str, str | list[str]]:
    """The keys any statement may test that the request alone defines."""
    now = datetime.now(UTC)
    context: dict[str, str | list[str]] = {
        "aws:SourceIp": request.http.remote or "",
        "aws:SecureTransport": "true" if _secure(request) else "false",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:PrincipalType": "Anonymous" if request.principal is None else "User",
    }
    for header, key in (("User-Agent", "aws:UserAgent"), ("Referer", "aws:Referer")):
        if header in request.headers:
            context[key] = request.headers[header]
    if request.principal:
        credential = request.credential
        if credential is not None and credential.is_admin:
            context["aws:PrincipalType"] = "Account"
        context["aws:username"] = request.principal
        context["aws:userid"] = request.principal
    for name, key in _QUERY_KEYS.items():
        if name in request.query:
            context[key] = request.query[name]
    if "versionId" in request.query:
        context["s3:VersionId"] = request.query["versionId"]
    for header in _HEADER_KEYS:
        if header in request.headers:
            context[f"s3:{header}"] = request.headers[header]
    _signature_keys(request, context)
    tls = _tls_version(request)
    if tls is not None:
        context["s3:TlsVersion"] = tls
    tagging = request.headers.get("x-amz-tagging")
    if tagging is not None:
        with suppress(S3Error):  # the handler answers a bad header
            _tag_keys(context, parse_tagging_header(tagging))
    return context


async def policy_context(
    request: S3Request, bucket: Bucket, action: str, key: str, keys: frozenset[str]
) -> dict[str, str | list[str]]:
    """The request context for one evaluation: the request's keys, and those that need a read
    (the existing object's tags, a PutObjectTagging body's) when the policy tests them."""
    context = request_context(request)
    if not keys:
        return context
    if request.operation.name == "PutObjectTagging" and any(
        k.startswith(_REQUEST_TAG) for k in keys
    ):
        body = await read_small_body(request, _TAGGING_BODY_LIMIT)  # kept for the handler
        with suppress(S3Error):  # the handler answers a bad document
            _tag_keys(context, parse_object_tagging(body))
    if key and action in _EXISTING_TAG_ACTIONS and any(k.startswith(_EXISTING_TAG) for k in keys):
        same = bucket.name == request.bucket_name and key == request.key
        version_id = request.query.get("versionId") if same else None
        index = request.index() if same else request.services.catalog.index(bucket.name)
        tags = await index.get_tags(key, version_id)
        for name, value in (tags or {}).items():
            context[f"s3:ExistingObjectTag/{name}"] = value
    return context
