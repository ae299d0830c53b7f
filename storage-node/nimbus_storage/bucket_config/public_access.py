"""S3 Block Public Access for one bucket: the PublicAccessBlockConfiguration document, and what
"public" means for an ACL.

The four settings are independent (a missing element is ``false``, as on AWS):

* ``BlockPublicAcls``: a request that sets a public ACL (PutBucketAcl, PutObjectAcl, PutObject,
  CopyObject, CreateMultipartUpload, CreateBucket) is ``403 AccessDenied``; ACLs already set stay;
* ``IgnorePublicAcls``: public ACLs already set grant nobody anything;
* ``BlockPublicPolicy``: PutBucketPolicy with a public policy (``public_policy.is_public_policy``)
  is ``403 AccessDenied``; a policy already set stays;
* ``RestrictPublicBuckets``: while the bucket's policy is public, its Allow statements grant
  nothing to anonymous callers (only to the principals of this store, Nimbus's one "account").

An ACL is public when it grants anything to the AllUsers or AuthenticatedUsers groups
(``public-read``, ``public-read-write``, ``authenticated-read``, or such a grant).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from nimbus_storage.bucket_config import acl
from nimbus_storage.s3errors import MalformedXML
from nimbus_storage.s3xml import parse, render

ROOT = "PublicAccessBlockConfiguration"
# Element name -> field name, in the order AWS writes them.
_ELEMENTS = {
    "BlockPublicAcls": "block_public_acls",
    "IgnorePublicAcls": "ignore_public_acls",
    "BlockPublicPolicy": "block_public_policy",
    "RestrictPublicBuckets": "restrict_public_buckets",
}


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False


NO_BLOCK = PublicAccessBlock()


def is_public_acl(stored: str) -> bool:
    """Whether an ACL (a canned name or stored grants) grants anything to AllUsers or
    AuthenticatedUsers."""
    return acl.is_public(stored)


def parse_public_access_block(body: bytes) -> PublicAccessBlock:
    """A PutPublicAccessBlock body. MalformedXML for another root, an unknown or repeated
    element, or a value other than ``true`` / ``false`` (any case)."""
    root = parse(body, root=ROOT)
    values: dict[str, bool] = {}
    for child in root:
        field = _ELEMENTS.get(str(child.tag))
        if field is None or field in values or len(child):
            raise MalformedXML()
        text = (child.text or "").strip().lower()
        if text not in ("true", "false"):
            raise MalformedXML()
        values[field] = text == "true"
    return PublicAccessBlock(**values)


def render_public_access_block(block: PublicAccessBlock) -> bytes:
    """The GetPublicAccessBlock document: all four settings."""
    return render(ROOT, {element: getattr(block, field) for element, field in _ELEMENTS.items()})


def to_json(block: PublicAccessBlock) -> str:
    return json.dumps(asdict(block), sort_keys=True)


def from_json(text: str) -> PublicAccessBlock:
    stored = json.loads(text)
    return PublicAccessBlock(**{field: bool(stored.get(field)) for field in _ELEMENTS.values()})
