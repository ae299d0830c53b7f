"""S3 Object Ownership: the OwnershipControls document, and what each setting means.

* ``ObjectWriter``: the access key that writes an object owns it, and ACLs apply (a bucket
  without ownership controls behaves so in Nimbus; see docs/s3-compatibility.md for AWS's
  default since 2023, BucketOwnerEnforced);
* ``BucketOwnerPreferred``: an object written with the ``bucket-owner-full-control`` canned ACL
  is owned by the bucket's owner, any other by its writer; ACLs apply;
* ``BucketOwnerEnforced``: ACLs are disabled. The bucket owner owns every object written, ACLs
  grant nothing, GetBucketAcl/GetObjectAcl answer the owner's full control, and a request
  setting an ACL other than ``private`` or ``bucket-owner-full-control`` (or the equivalent
  AccessControlPolicy) is ``400 AccessControlListNotSupported``.
"""

from __future__ import annotations

from typing import Literal

from nimbus_storage.bucket_config import acl
from nimbus_storage.s3errors import InvalidArgument, MalformedXML
from nimbus_storage.s3xml import parse, render

ObjectOwnership = Literal["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"]
BUCKET_OWNER_ENFORCED: ObjectOwnership = "BucketOwnerEnforced"
BUCKET_OWNER_PREFERRED: ObjectOwnership = "BucketOwnerPreferred"
OBJECT_WRITER: ObjectOwnership = "ObjectWriter"
SETTINGS: tuple[ObjectOwnership, ...] = (
    BUCKET_OWNER_ENFORCED,
    BUCKET_OWNER_PREFERRED,
    OBJECT_WRITER,
)
DEFAULT: ObjectOwnership = OBJECT_WRITER
# The canned ACLs a request may still name when ACLs are disabled: both mean "the bucket owner
# has full control", which is all there is without ACLs.
ACLS_WHEN_DISABLED = frozenset({"private", "bucket-owner-full-control"})
BUCKET_OWNER_FULL_CONTROL = "bucket-owner-full-control"
ROOT = "OwnershipControls"


def ownership_of(value: str | None) -> ObjectOwnership:
    """A stored setting (None or unknown: the default, ObjectWriter)."""
    for setting in SETTINGS:
        if value == setting:
            return setting
    return DEFAULT


def parse_header(value: str) -> ObjectOwnership:
    """CreateBucket's ``x-amz-object-ownership``; InvalidArgument for another value."""
    for setting in SETTINGS:
        if value.strip() == setting:
            return setting
    raise InvalidArgument(
        "Invalid x-amz-object-ownership header",
        ArgumentName="x-amz-object-ownership",
        ArgumentValue=value,
    )


def parse_ownership_controls(body: bytes) -> ObjectOwnership:
    """A PutBucketOwnershipControls body: exactly one Rule with one ObjectOwnership of the
    three; anything else is MalformedXML."""
    root = parse(body, root=ROOT)
    rules = list(root)
    if len(rules) != 1 or rules[0].tag != "Rule":
        raise MalformedXML()
    elements = list(rules[0])
    if len(elements) != 1 or elements[0].tag != "ObjectOwnership" or len(elements[0]):
        raise MalformedXML()
    value = (elements[0].text or "").strip()
    for setting in SETTINGS:
        if value == setting:
            return setting
    raise MalformedXML()


def render_ownership_controls(setting: ObjectOwnership) -> bytes:
    return render(ROOT, {"Rule": {"ObjectOwnership": setting}})


def acls_disabled(setting: ObjectOwnership) -> bool:
    return setting == BUCKET_OWNER_ENFORCED


def acl_allowed(setting: ObjectOwnership, stored: str, bucket_owner: str | None = None) -> bool:
    """Whether a request may set the ACL ``stored`` (a canned name or stored grants) under
    ``setting``: with ACLs disabled, only the bucket owner's full control (grants of
    FULL_CONTROL to ``bucket_owner`` alone are that too)."""
    if not acls_disabled(setting):
        return True
    if stored.startswith("["):
        return acl.only_full_control_to(stored, [bucket_owner] if bucket_owner else [])
    return stored in ACLS_WHEN_DISABLED


def object_owner(setting: ObjectOwnership, writer: str, bucket_owner: str, canned: str) -> str:
    """Who owns an object ``writer`` writes with the canned ACL ``canned``."""
    if setting == BUCKET_OWNER_ENFORCED:
        return bucket_owner
    if setting == BUCKET_OWNER_PREFERRED and canned == BUCKET_OWNER_FULL_CONTROL:
        return bucket_owner
    return writer
