"""Who may do what: admin keys, bucket owners, per-bucket grants, bucket policy, canned ACLs.

The order follows AWS's evaluation: an explicit Deny in the bucket policy wins over everything
but the admin key (which must stay able to repair a bucket that locked everybody out); then the
bucket owner, an access grant (BucketAccess RO/RW/WO), a policy Allow, and the bucket's canned
ACL each allow. Anything else is AccessDenied. An app credential (one with grants) reaches
no bucket outside its grants, whatever their policies and ACLs say.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from nimbus_storage.bucket_config.acl import acl_allows
from nimbus_storage.bucket_config.bucket_policy import BucketPolicy, Decision, parse_policy
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.operation import Access
from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import AccessDenied

# Actions a BucketAccess permission covers on its bucket.
_READ_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
        "s3:GetBucketLocation",
    }
)
_WRITE_ACTIONS = frozenset(
    {
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:GetBucketLocation",
    }
)
_OBJECT_ACL_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
    }
)
GRANT_ACTIONS = {
    "RO": _READ_ACTIONS,
    "RW": _READ_ACTIONS | _WRITE_ACTIONS,
    "WO": _WRITE_ACTIONS,
}


class ExplicitDeny(AccessDenied):
    """AccessDenied by a policy Deny or outside an app credential's grants: final, no object
    ACL can lift it."""


@lru_cache(maxsize=1024)
def _cached_policy(bucket: str, document: str) -> BucketPolicy:
    return parse_policy(document, bucket)


def _condition_context(request: S3Request) -> dict[str, str | list[str]]:
    peer = request.http.remote or ""
    context: dict[str, str | list[str]] = {
        "aws:SourceIp": peer,
        "aws:SecureTransport": "true" if request.http.secure else "false",
        "aws:UserAgent": request.headers.get("User-Agent", ""),
        "aws:Referer": request.headers.get("Referer", ""),
        "aws:CurrentTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if request.principal:
        context["aws:username"] = request.principal
    for name in ("prefix", "delimiter", "max-keys", "versionId"):
        if name in request.query:
            context[f"s3:{name if name != 'versionId' else 'VersionId'}"] = request.query[name]
    if "x-amz-acl" in request.headers:
        context["s3:x-amz-acl"] = request.headers["x-amz-acl"]
    return context


async def authorize(request: S3Request) -> None:
    """Raise AccessDenied unless the request's principal may perform its operation.

    The operation says how (``access``) and what it needs on the request's bucket or object
    (``action``); its handler checks what it needs on any other resource itself.
    """
    operation = request.operation
    credential = request.credential
    if operation.access is Access.ANONYMOUS:
        return
    if credential is not None and credential.is_admin:
        return
    if operation.access is Access.ACCOUNT:
        if credential is None or credential.grants:
            raise AccessDenied()
        return
    if request.bucket is None:
        # Authenticated callers learn that the bucket does not exist (NoSuchBucket from the
        # handler); anonymous callers learn nothing.
        if credential is None:
            raise AccessDenied()
        return
    action = operation.required_action(request.query.get("versionId"))
    await check_access(request, request.bucket, action, request.key)


async def check_access(request: S3Request, bucket: Bucket, action: str, key: str) -> None:
    """Raise AccessDenied unless the request's principal may do ``action`` on bucket/key."""
    credential = request.credential
    if credential is not None and credential.is_admin:
        return
    resource = f"arn:aws:s3:::{bucket.name}/{key}" if key else f"arn:aws:s3:::{bucket.name}"
    policy_decision = Decision.NONE
    policy_text = await request.services.catalog.get_config(bucket.name, "policy")
    if policy_text:
        policy = _cached_policy(bucket.name, policy_text)
        policy_decision = policy.evaluate(
            request.principal, action, resource, _condition_context(request)
        )
    if policy_decision is Decision.DENY:
        raise ExplicitDeny()
    if credential is not None:
        if credential.grants:
            permission = credential.grants.get(bucket.name)
            if permission is None:
                # Grants limit an app credential to their buckets: no policy Allow or ACL
                # (not even an object's own, hence final) opens another bucket to it.
                raise ExplicitDeny()
            if action in GRANT_ACTIONS.get(permission, ()):
                return
        elif request.principal == bucket.owner:
            return
    if policy_decision is Decision.ALLOW:
        return
    # The bucket's ACL governs the bucket and writes into it; reading an object or its ACL is
    # governed by the object's own ACL (checked by the handler: see object_acl_required).
    if not (key and action in _OBJECT_ACL_ACTIONS) and acl_allows(
        bucket.acl, request.principal, bucket.owner, action
    ):
        return
    raise AccessDenied()
