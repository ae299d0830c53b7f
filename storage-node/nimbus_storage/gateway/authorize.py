"""Who may do what: admin keys, bucket owners, per-bucket grants, bucket policy, ACLs.

The order follows AWS's evaluation: an explicit Deny in the bucket policy wins over everything
but the admin key (which must stay able to repair a bucket that locked everybody out); then the
bucket owner, an access grant (BucketAccess RO/RW/WO), a policy Allow, and the bucket's ACL
(the object's own for reading an object or its ACL) each allow. Anything else is AccessDenied.
An app credential (one with grants) reaches no bucket outside its grants, whatever their
policies and ACLs say.

The bucket's controls (gateway/bucket_controls.py) narrow that: with RestrictPublicBuckets, a
public policy allows nothing to anonymous callers; ACLs grant nothing when ObjectOwnership is
BucketOwnerEnforced, and public ones nothing under IgnorePublicAcls.

A policy's conditions are evaluated against the request context AWS defines for S3 (see
gateway/policy_context.py): the keys that need a read (``s3:ExistingObjectTag/<key>``, a
PutObjectTagging body's ``s3:RequestObjectTag/<key>``) are read only when the policy tests them.
"""

from __future__ import annotations

from functools import lru_cache

from nimbus_storage.bucket_config.acl import acl_allows
from nimbus_storage.bucket_config.bucket_policy import Decision
from nimbus_storage.bucket_config.public_policy import is_public_policy
from nimbus_storage.gateway.bucket_controls import load_controls
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.operation import Access
from nimbus_storage.gateway.policy_context import cached_policy, policy_context, policy_keys
from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import AccessDenied

# Actions a BucketAccess permission covers on its bucket.
_READ_ACTIONS = frozenset(
    {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes",
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
        "s3:GetObjectAttributes",
        "s3:GetObjectVersionAttributes",
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


_OBJECT_ACP_ACTIONS = frozenset(
    {"s3:GetObjectAcl", "s3:GetObjectVersionAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"}
)


class ExplicitDeny(AccessDenied):
    """AccessDenied by a policy Deny or outside an app credential's grants, or where the
    bucket's controls leave object ACLs granting nothing: final, no object ACL can lift it."""


@lru_cache(maxsize=1024)
def _policy_is_public(bucket: str, document: str) -> bool:
    return is_public_policy(cached_policy(bucket, document))


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
    controls = await load_controls(request.services, bucket)
    policy_text = await request.services.catalog.get_config(bucket.name, "policy")
    if policy_text:
        policy = cached_policy(bucket.name, policy_text)
        keys = policy_keys(bucket.name, policy_text)
        context = await policy_context(request, bucket, action, key, keys)
        policy_decision = policy.evaluate(request.principal, action, resource, context)
        if (
            policy_decision is Decision.ALLOW
            and request.principal is None
            and controls.public_access.restrict_public_buckets
            and _policy_is_public(bucket.name, policy_text)
        ):
            # RestrictPublicBuckets: a public policy grants only this store's principals.
            policy_decision = Decision.NONE
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
        controls.effective_acl(bucket.acl), request.principal, bucket.owner, action
    ):
        return
    if key and action in _OBJECT_ACP_ACTIONS and not controls.acls_disabled:
        # READ_ACP / WRITE_ACP on the object itself (its ACL, not the bucket's).
        same = bucket.name == request.bucket_name and key == request.key
        index = request.index() if same else request.services.catalog.index(bucket.name)
        version = await index.get(key, request.query.get("versionId") if same else None)
        if version is not None and not version.delete_marker:
            owner = version.owner or bucket.owner
            stored = controls.effective_acl(version.acl)
            if acl_allows(stored, request.principal, owner, action, bucket_owner=bucket.owner):
                return
    if controls.object_acls_grant_nothing:
        raise ExplicitDeny()
    raise AccessDenied()
