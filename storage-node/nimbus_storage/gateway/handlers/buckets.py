"""Bucket lifecycle: ListBuckets (paginated), CreateBucket, HeadBucket, DeleteBucket,
GetBucketLocation."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.bucket_config import ownership
from nimbus_storage.bucket_config.acl import DEFAULT_ACL, requested_acl
from nimbus_storage.gateway import uploads
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import (
    OWNERSHIP_CONTROLS,
    check_acl,
    check_grantees,
    load_controls,
)
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.listing import decode_token, encode_token
from nimbus_storage.gateway.handlers.object_lock import enable_on_new_bucket
from nimbus_storage.gateway.headers import iso8601
from nimbus_storage.gateway.naming import validate_bucket_name
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.gateway.storage_policies import POLICY_HEADER
from nimbus_storage.meta.errors import BucketExists
from nimbus_storage.s3errors import (
    AccessDenied,
    BucketNotEmpty,
    InvalidArgument,
    InvalidBucketAclWithObjectOwnership,
    S3Error,
)


class IllegalLocationConstraint(S3Error):
    code = "IllegalLocationConstraintException"
    status = 400
    default_message = "The specified location-constraint is not valid for this endpoint."


def owner_tree(access_key: str) -> dict[str, s3xml.XmlValue]:
    return {"ID": access_key, "DisplayName": access_key}


LEGACY_REGION = "us-east-1"
"""Where re-creating a bucket you own answers 200 (elsewhere BucketAlreadyOwnedByYou)."""
LOCK_ENABLED_HEADER = "x-amz-bucket-object-lock-enabled"
MAX_BUCKETS_LIMIT = 10_000
"""ListBuckets' ``max-buckets`` range: 1 to 10,000, as AWS accepts."""
LIST_BUCKETS_PARAMETERS = ("max-buckets", "continuation-token", "prefix", "bucket-region")


def _max_buckets(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_BUCKETS_LIMIT:
        raise InvalidArgument(
            f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS_LIMIT}",
            ArgumentName="max-buckets",
            ArgumentValue=text,
        )
    return int(text)


async def list_buckets(request: S3Request) -> web.StreamResponse:
    """The caller's buckets by name; paginated (``max-buckets``, ``continuation-token``) and
    filtered (``prefix``, ``bucket-region``) as AWS's ListBuckets is, with each bucket's
    region when any of those is given."""
    credential = request.credential
    if credential is None:
        raise AccessDenied()
    owner = None if credential.is_admin else credential.access_key
    query = request.query
    prefix = query.get("prefix", "")
    wanted_region = query.get("bucket-region")
    limit = _max_buckets(query.get("max-buckets"))
    token = query.get("continuation-token")
    after = decode_token(token) if token is not None else ""
    default_region = request.services.config.region
    found = sorted(
        (
            bucket
            for bucket in await request.services.catalog.list_buckets(owner)
            if bucket.name.startswith(prefix)
            and bucket.name > after
            and (wanted_region is None or (bucket.region or default_region) == wanted_region)
        ),
        key=lambda bucket: bucket.name,
    )
    page = found if limit is None else found[:limit]
    with_region = any(name in query for name in LIST_BUCKETS_PARAMETERS)
    buckets: list[s3xml.XmlValue] = []
    for bucket in page:
        entry: dict[str, s3xml.XmlValue] = {
            "Name": bucket.name,
            "CreationDate": iso8601(bucket.created),
        }
        if with_region:
            entry["BucketRegion"] = bucket.region or default_region
        buckets.append(entry)
    truncated = limit is not None and len(found) > limit
    return xml_response(
        "ListAllMyBucketsResult",
        {
            "Buckets": {"Bucket": buckets},
            "Owner": owner_tree(credential.access_key),
            "ContinuationToken": encode_token(page[-1].name) if truncated else None,
            "Prefix": prefix or None,
        },
    )


async def _location_constraint(request: S3Request) -> str | None:
    body = await read_small_body(request, 64 * 1024)
    if not body.strip():
        return None
    document = s3xml.parse(body, root="CreateBucketConfiguration")
    return s3xml.token(document, "LocationConstraint")


async def create_bucket(request: S3Request) -> web.StreamResponse:
    validate_bucket_name(request.bucket_name)
    region = request.services.config.region
    location = await _location_constraint(request)
    if location and location != region:
        raise IllegalLocationConstraint(
            f"The {location} location constraint is incompatible for the region specific"
            f" endpoint this request was sent to ({region})."
        )
    creator = request.principal or ""
    acl = requested_acl(request.headers, creator) or DEFAULT_ACL
    ownership_header = request.headers.get("x-amz-object-ownership")
    setting = ownership.parse_header(ownership_header) if ownership_header is not None else None
    if setting is not None and not ownership.acl_allowed(setting, acl, creator):
        raise InvalidBucketAclWithObjectOwnership()
    lock_enabled = request.headers.get(LOCK_ENABLED_HEADER, "").strip().lower() == "true"
    if request.principal is None:
        raise AccessDenied()
    # Nimbus's own header, as Ceph RGW's placement targets: the policy holding the data.
    storage_policy = request.services.policies.resolve(request.headers.get(POLICY_HEADER, ""))
    catalog = request.services.catalog
    await check_grantees(request.services, acl, creator)
    try:
        await catalog.create_bucket(
            request.bucket_name, request.principal, storage_policy=storage_policy
        )
    except BucketExists as exists:
        if not exists.owned_by_caller:
            raise
        existing = await catalog.get_bucket(request.bucket_name)
        if region != LEGACY_REGION or existing is None:
            raise
        # AWS's legacy answer in us-east-1: 200 OK, and the bucket's ACL is reset, which
        # needs what PutBucketAcl needs (a bucket policy may deny it).
        await check_access(request, existing, request.operation.required_handler_action(), "")
        check_acl(await load_controls(request.services, existing), acl, existing.owner)
        await catalog.set_acl(request.bucket_name, acl)
        return empty_response(headers={"Location": f"/{request.bucket_name}"})
    if acl != "private":
        await catalog.set_acl(request.bucket_name, acl)
    if setting is not None:
        await catalog.set_config(request.bucket_name, OWNERSHIP_CONTROLS, setting)
    if lock_enabled:
        try:
            await enable_on_new_bucket(request, request.bucket_name)
        except BaseException:
            # Never leave a bucket the client asked to lock without its lock.
            await catalog.delete_bucket(request.bucket_name)
            raise
    return empty_response(headers={"Location": f"/{request.bucket_name}"})


async def head_bucket(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    policy = bucket.storage_policy or request.services.policies.default
    return empty_response(
        headers={"x-amz-bucket-region": request.services.config.region, POLICY_HEADER: policy}
    )


async def delete_bucket(request: S3Request) -> web.StreamResponse:
    """As on AWS, versions and delete markers keep a bucket (BucketNotEmpty); unfinished
    multipart uploads do not: they go with it, their parts' data too. The catalog checks again
    as it deletes, so an upload started meanwhile still makes it BucketNotEmpty."""
    bucket = request.require_bucket()
    if await request.index().has_versions():
        raise BucketNotEmpty(BucketName=bucket.name)
    await uploads.abort_every_upload(request.services, bucket)
    await request.services.catalog.delete_bucket(bucket.name)
    return empty_response(204)


async def get_bucket_location(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    region = request.services.config.region
    # AWS answers an empty constraint for us-east-1, for historical reasons; SDKs expect it.
    body = s3xml.render_text("LocationConstraint", "" if region == "us-east-1" else region)
    return web.Response(body=body, content_type="application/xml")
