"""Canned ACLs: the x-amz-acl header, what each grants, and the AccessControlPolicy document.

Nimbus stores one canned ACL name per bucket and per object. An AccessControlPolicy PUT body is
accepted only when its grants equal those of a canned ACL; any other grant set is answered with
NotImplemented. The resource owner always holds FULL_CONTROL, and only the owner may act on
configuration (policy, CORS, lifecycle, tagging, versioning): ACLs never grant those.
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from nimbus_storage.s3errors import InvalidArgument, MalformedACLError, NotImplementedError_
from nimbus_storage.s3xml import S3_NS, XML_DECLARATION, parse

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)
DEFAULT_ACL = "private"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CANONICAL_USER = "CanonicalUser"
GROUP = "Group"


class Permission(enum.Enum):
    FULL_CONTROL = "FULL_CONTROL"
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"


# The ACL permission that lets a non-owner perform an IAM action; absent = owner only.
PERMISSION_FOR_ACTION = {
    "s3:GetObject": Permission.READ,
    "s3:GetObjectVersion": Permission.READ,
    "s3:ListBucket": Permission.READ,
    "s3:ListBucketVersions": Permission.READ,
    "s3:ListBucketMultipartUploads": Permission.READ,
    "s3:PutObject": Permission.WRITE,
    "s3:DeleteObject": Permission.WRITE,
    "s3:DeleteObjectVersion": Permission.WRITE,
    "s3:AbortMultipartUpload": Permission.WRITE,
    "s3:ListMultipartUploadParts": Permission.WRITE,
    "s3:GetBucketAcl": Permission.READ_ACP,
    "s3:GetObjectAcl": Permission.READ_ACP,
    "s3:GetObjectVersionAcl": Permission.READ_ACP,
    "s3:PutBucketAcl": Permission.WRITE_ACP,
    "s3:PutObjectAcl": Permission.WRITE_ACP,
    "s3:PutObjectVersionAcl": Permission.WRITE_ACP,
}


@dataclass(frozen=True)
class Grant:
    grantee_type: str  # CANONICAL_USER or GROUP
    grantee: str  # canonical id or group URI
    permission: Permission

    def covers(self, principal: str | None) -> bool:
        if self.grantee_type == CANONICAL_USER:
            return principal is not None and principal == self.grantee
        if self.grantee == ALL_USERS:
            return True
        return self.grantee == AUTHENTICATED_USERS and principal is not None


def parse_canned_acl(value: str | None) -> str:
    """The x-amz-acl header value; absent means private, unknown is InvalidArgument."""
    if value is None:
        return DEFAULT_ACL
    canned = value.strip()
    if canned not in CANNED_ACLS:
        raise InvalidArgument("Invalid canned ACL", ArgumentName="x-amz-acl", ArgumentValue=value)
    return canned


def canned_grants(canned: str, owner: str, bucket_owner: str | None = None) -> tuple[Grant, ...]:
    """The grants AWS writes for a canned ACL, owner first.

    ``bucket_owner`` matters only for objects (bucket-owner-read / -full-control) and only when it
    differs from the object's owner.
    """
    grants = [Grant(CANONICAL_USER, owner, Permission.FULL_CONTROL)]
    other_bucket_owner = bucket_owner is not None and bucket_owner != owner
    if canned in ("public-read", "public-read-write"):
        grants.append(Grant(GROUP, ALL_USERS, Permission.READ))
    if canned == "public-read-write":
        grants.append(Grant(GROUP, ALL_USERS, Permission.WRITE))
    if canned == "authenticated-read":
        grants.append(Grant(GROUP, AUTHENTICATED_USERS, Permission.READ))
    if canned == "bucket-owner-read" and bucket_owner is not None and other_bucket_owner:
        grants.append(Grant(CANONICAL_USER, bucket_owner, Permission.READ))
    if canned == "bucket-owner-full-control" and bucket_owner is not None and other_bucket_owner:
        grants.append(Grant(CANONICAL_USER, bucket_owner, Permission.FULL_CONTROL))
    if canned == "log-delivery-write":
        grants.append(Grant(GROUP, LOG_DELIVERY, Permission.WRITE))
        grants.append(Grant(GROUP, LOG_DELIVERY, Permission.READ_ACP))
    return tuple(grants)


def acl_allows(
    canned: str,
    principal: str | None,
    owner: str,
    action: str,
    *,
    bucket_owner: str | None = None,
) -> bool:
    """Whether the canned ACL of a resource owned by ``owner`` lets ``principal`` do ``action``.

    ``principal`` None is an anonymous request. Pass the bucket's ACL for bucket actions and for
    PutObject / DeleteObject (WRITE on the bucket), the object's ACL for reads of an object.
    """
    if principal is not None and principal == owner:
        return True
    needed = PERMISSION_FOR_ACTION.get(action)
    if needed is None:
        return False
    return any(
        grant.covers(principal) and grant.permission in (needed, Permission.FULL_CONTROL)
        for grant in canned_grants(canned, owner, bucket_owner)
    )


def render_acl(
    canned: str,
    owner: str,
    *,
    display_name: str | None = None,
    bucket_owner: str | None = None,
) -> bytes:
    """The GetBucketAcl / GetObjectAcl document for a canned ACL."""
    root = ET.Element("AccessControlPolicy", {"xmlns": S3_NS})
    owner_element = ET.SubElement(root, "Owner")
    ET.SubElement(owner_element, "ID").text = owner
    ET.SubElement(owner_element, "DisplayName").text = display_name or owner
    grant_list = ET.SubElement(root, "AccessControlList")
    for grant in canned_grants(canned, owner, bucket_owner):
        grant_element = ET.SubElement(grant_list, "Grant")
        grantee = ET.SubElement(
            grant_element, "Grantee", {"xmlns:xsi": XSI_NS, "xsi:type": grant.grantee_type}
        )
        if grant.grantee_type == CANONICAL_USER:
            ET.SubElement(grantee, "ID").text = grant.grantee
            shown = display_name if grant.grantee == owner and display_name else grant.grantee
            ET.SubElement(grantee, "DisplayName").text = shown
        else:
            ET.SubElement(grantee, "URI").text = grant.grantee
        ET.SubElement(grant_element, "Permission").text = grant.permission.value
    document: bytes = ET.tostring(root, encoding="utf-8")
    return XML_DECLARATION + document


def parse_acl_body(body: bytes, owner: str, *, bucket_owner: str | None = None) -> str:
    """The canned ACL equivalent to a PutBucketAcl / PutObjectAcl body.

    MalformedXML for a document that does not parse, MalformedACLError for one that breaks the
    schema, NotImplemented for grants no canned ACL expresses (e-mail grantees, extra users).
    """
    root = parse(body, root="AccessControlPolicy")
    grant_list = root.find("AccessControlList")
    if grant_list is None:
        raise MalformedACLError()
    grants = frozenset(_parse_grant(element) for element in grant_list.findall("Grant"))
    for canned in CANNED_ACLS:
        if grants == frozenset(canned_grants(canned, owner, bucket_owner)):
            return canned
    raise NotImplementedError_("Only ACLs equivalent to a canned ACL are supported")


def _parse_grant(element: ET.Element) -> Grant:
    grantee = element.find("Grantee")
    permission_text = (element.findtext("Permission") or "").strip()
    if grantee is None or permission_text not in Permission.__members__:
        raise MalformedACLError()
    grantee_type = grantee.get(f"{{{XSI_NS}}}type") or _implied_type(grantee)
    if grantee_type == CANONICAL_USER:
        name = (grantee.findtext("ID") or "").strip()
    elif grantee_type == GROUP:
        name = (grantee.findtext("URI") or "").strip()
    elif grantee_type == "AmazonCustomerByEmail":
        raise NotImplementedError_("Grants to e-mail addresses are not supported")
    else:
        raise MalformedACLError()
    if not name:
        raise MalformedACLError()
    return Grant(grantee_type, name, Permission[permission_text])


def _implied_type(grantee: ET.Element) -> str:
    if grantee.find("ID") is not None:
        return CANONICAL_USER
    if grantee.find("URI") is not None:
        return GROUP
    if grantee.find("EmailAddress") is not None:
        return "AmazonCustomerByEmail"
    return ""
