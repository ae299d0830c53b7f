"""A bucket's access controls beyond its policy and ACL: Block Public Access and Object
Ownership, as stored in the catalog, and the checks every ACL-setting request passes.

Both are bucket configuration documents (``CatalogService.get_config``): ``publicAccessBlock``
(JSON of the four settings) and ``ownershipControls`` (the setting's name). A bucket without
them blocks nothing and is ``ObjectWriter``. What they mean is bucket_config's
(``public_access``, ``ownership``); this module reads them for one request and applies them:

* to an ACL a request sets (``check_acl``): ``AccessControlListNotSupported`` when ACLs are
  disabled, ``AccessDenied`` for a public one (a grant to AllUsers or AuthenticatedUsers) under
  BlockPublicAcls; ``check_grantees`` answers ``InvalidArgument`` for a grant to an access key
  that does not exist. PutBucketAcl, PutObjectAcl and CreateBucket call them from their
  handlers; PutObject, CopyObject and CreateMultipartUpload (whose ACL is in their headers,
  ``x-amz-acl`` or ``x-amz-grant-*``) through ``check_requested_acl``, which the gateway calls
  before their handler;
* to who owns a new object (``object_owner``);
* to authorization (gateway/authorize.py, ``object_acl_allows``): ACLs that are disabled grant
  nothing, public grants nothing under IgnorePublicAcls, and RestrictPublicBuckets keeps a
  public policy from granting anonymous callers.
"""

from __future__ import annotations

from dataclasses import dataclass

from nimbus_storage.bucket_config import ownership, public_access
from nimbus_storage.bucket_config.acl import (
    DEFAULT_ACL,
    acl_allows,
    grantee_ids,
    requested_acl,
    without_public_grants,
)
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.s3errors import AccessControlListNotSupported, AccessDenied, InvalidArgument

PUBLIC_ACCESS_BLOCK = "publicAccessBlock"
OWNERSHIP_CONTROLS = "ownershipControls"
# Operations whose ACL is in their headers (x-amz-acl, x-amz-grant-*), checked before their
# handler runs.
ACL_HEADER_OPERATIONS = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})


@dataclass(frozen=True, slots=True)
class BucketControls:
    public_access: public_access.PublicAccessBlock = public_access.NO_BLOCK
    ownership: ownership.ObjectOwnership = ownership.DEFAULT

    @property
    def acls_disabled(self) -> bool:
        return ownership.acls_disabled(self.ownership)

    @property
    def object_acls_grant_nothing(self) -> bool:
        """No object ACL can let anyone but the owner read: ACLs are disabled."""
        return self.acls_disabled

    def effective_acl(self, stored: str) -> str:
        """The ACL that grants what ``stored`` grants under these controls."""
        if self.acls_disabled:
            return DEFAULT_ACL
        if self.public_access.ignore_public_acls:
            return without_public_grants(stored)
        return stored

    def shown_acl(self, stored: str) -> str:
        """The ACL GetBucketAcl / GetObjectAcl answer: the owner's full control when ACLs
        are disabled (ignored public ACLs are still shown, as AWS does)."""
        return DEFAULT_ACL if self.acls_disabled else stored


async def load_controls(services: Services, bucket: Bucket) -> BucketControls:
    catalog = services.catalog
    block = await catalog.get_config(bucket.name, PUBLIC_ACCESS_BLOCK)
    setting = await catalog.get_config(bucket.name, OWNERSHIP_CONTROLS)
    return BucketControls(
        public_access.from_json(block) if block else public_access.NO_BLOCK,
        ownership.ownership_of(setting),
    )


async def request_controls(request: S3Request) -> BucketControls:
    return await load_controls(request.services, request.require_bucket())


def check_acl(controls: BucketControls, stored: str, bucket_owner: str | None = None) -> None:
    """Refuse a request setting the ACL ``stored`` (a canned name or stored grants) on a bucket
    (or an object in it) of ``bucket_owner`` with ``controls``."""
    if not ownership.acl_allowed(controls.ownership, stored, bucket_owner):
        raise AccessControlListNotSupported()
    if controls.public_access.block_public_acls and public_access.is_public_acl(stored):
        raise AccessDenied()


async def check_grantees(services: Services, stored: str, *known: str) -> None:
    """InvalidArgument ("Invalid id") for a grant to a canonical user that is neither one of
    ``known`` (the owners) nor an access key of this store."""
    for grantee in grantee_ids(stored):
        if grantee in known:
            continue
        if await services.catalog.get_credential(grantee) is None:
            raise InvalidArgument(
                "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=grantee
            )


async def check_requested_acl(request: S3Request) -> None:
    """``check_acl`` and ``check_grantees`` for the header ACL of the operations of
    ``ACL_HEADER_OPERATIONS``."""
    if request.operation.name not in ACL_HEADER_OPERATIONS or request.bucket is None:
        return  # no bucket: NoSuchBucket, from the handler
    bucket = request.bucket
    writer = request.principal or bucket.owner
    stored = requested_acl(request.headers, writer, bucket.owner)
    if stored is None:
        return
    check_acl(await request_controls(request), stored, bucket.owner)
    await check_grantees(request.services, stored, writer, bucket.owner)


async def object_acl_allows(
    request: S3Request, version: ObjectVersion, action: str, bucket: Bucket | None = None
) -> bool:
    """Whether the object's own ACL, under its bucket's controls, lets the request's principal
    do ``action`` on ``version`` (of ``bucket``: the request's own by default)."""
    bucket = bucket or request.require_bucket()
    controls = await load_controls(request.services, bucket)
    return acl_allows(
        controls.effective_acl(version.acl),
        request.principal,
        version.owner or bucket.owner,
        action,
        bucket_owner=bucket.owner,
    )


async def object_owner(request: S3Request, canned: str) -> str:
    """Who owns an object the request writes with the canned ACL ``canned``."""
    bucket = request.require_bucket()
    controls = await load_controls(request.services, bucket)
    writer = request.principal or bucket.owner
    return ownership.object_owner(controls.ownership, writer, bucket.owner, canned)
