"""ACLs: canned ACLs (``x-amz-acl``), grant headers (``x-amz-grant-*``), the
AccessControlPolicy document, what each grants and how it is stored.

An ACL is the resource owner's FULL_CONTROL followed by grants, each to a canonical user (an
access key, as GetBucketAcl shows owners) or a group (AllUsers, AuthenticatedUsers,
LogDelivery) of one permission (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL). Grants to an
e-mail address are refused (``UnresolvableGrantByEmailAddress``: Nimbus's identities have
none).

Stored form (the ``acl`` text of a bucket and of each object version): the canned ACL's name
when the grants are exactly a canned ACL's (the only form older gateways wrote, so old rows
read unchanged), otherwise a JSON list of ``[grantee type, grantee, permission]`` triples in the
order given, without the owner's FULL_CONTROL (always shown first).

Only the owner may act on configuration (policy, CORS, lifecycle, tagging, versioning): ACLs
never grant those.
"""

from __future__ import annotations

import enum
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRequest,
    MalformedACLError,
    UnresolvableGrantByEmailAddress,
)
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
EMAIL = "AmazonCustomerByEmail"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})


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
    "s3:GetObjectAttributes": Permission.READ,
    "s3:GetObjectVersionAttributes": Permission.READ,
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

    @property
    def public(self) -> bool:
        return self.grantee_type == GROUP and self.grantee in PUBLIC_GROUPS


# x-amz-grant-* header -> the permission it grants, in the order AWS lists them.
GRANT_HEADERS: Mapping[str, Permission] = {
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
}
# One grantee of a grant header: id="...", uri="..." or emailAddress="..." (quotes optional).
_GRANTEE_ITEM = re.compile(r'\s*([A-Za-z]+)\s*=\s*(?:"([^"]*)"|([^",]*?))\s*(?:,|$)')


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


# --- the stored form --------------------------------------------------------------------------


def encode_grants(grants: Iterable[Grant]) -> str:
    """The stored form of an ACL that no canned ACL expresses (owner's FULL_CONTROL implied)."""
    return json.dumps(
        [[grant.grantee_type, grant.grantee, grant.permission.value] for grant in grants],
        separators=(",", ":"),
    )


def _decode_grants(stored: str) -> tuple[Grant, ...]:
    try:
        raw = json.loads(stored)
        return tuple(Grant(str(kind), str(name), Permission(value)) for kind, name, value in raw)
    except (ValueError, TypeError):
        return ()  # unreadable: the owner alone


def extra_grants(stored: str) -> tuple[Grant, ...]:
    """The grants of a stored non-canned ACL (empty for a canned one)."""
    return _decode_grants(stored) if stored.startswith("[") else ()


def stored_grants(stored: str, owner: str, bucket_owner: str | None = None) -> tuple[Grant, ...]:
    """Every grant of a stored ACL (a canned name or encoded grants), the owner's first."""
    if not stored.startswith("["):
        return canned_grants(stored if stored in CANNED_ACLS else DEFAULT_ACL, owner, bucket_owner)
    owner_grant = Grant(CANONICAL_USER, owner, Permission.FULL_CONTROL)
    return (owner_grant, *(g for g in _decode_grants(stored) if g != owner_grant))


def store_grants(grants: Sequence[Grant], owner: str, bucket_owner: str | None = None) -> str:
    """The stored form of an ACL of ``grants`` on a resource of ``owner``: a canned name when
    one grants exactly that, else the encoded grants (the owner's FULL_CONTROL left implied)."""
    owner_grant = Grant(CANONICAL_USER, owner, Permission.FULL_CONTROL)
    wanted = frozenset((owner_grant, *grants))
    for canned in CANNED_ACLS:
        if wanted == frozenset(canned_grants(canned, owner, bucket_owner)):
            return canned
    kept: list[Grant] = []
    for grant in grants:
        if grant != owner_grant and grant not in kept:
            kept.append(grant)
    return encode_grants(kept)


def grantee_ids(stored: str) -> tuple[str, ...]:
    """The canonical users a stored non-canned ACL names."""
    return tuple(g.grantee for g in extra_grants(stored) if g.grantee_type == CANONICAL_USER)


def is_public(stored: str) -> bool:
    """Whether an ACL grants anything to AllUsers or AuthenticatedUsers."""
    return any(grant.public for grant in stored_grants(stored, "owner"))


def without_public_grants(stored: str) -> str:
    """What an ACL still grants when public grants are ignored (IgnorePublicAcls)."""
    if not stored.startswith("["):
        return DEFAULT_ACL if is_public(stored) else stored
    return encode_grants(g for g in _decode_grants(stored) if not g.public)


def only_full_control_to(stored: str, users: Iterable[str]) -> bool:
    """Whether a stored non-canned ACL grants nothing but FULL_CONTROL to ``users``."""
    allowed = frozenset(users)
    return all(
        g.grantee_type == CANONICAL_USER
        and g.grantee in allowed
        and g.permission is Permission.FULL_CONTROL
        for g in extra_grants(stored)
    )


# --- what a request asks for ------------------------------------------------------------------


def parse_grant_header(name: str, value: str) -> list[Grant]:
    """The grants of one ``x-amz-grant-*`` header; InvalidArgument when it does not parse."""
    permission = GRANT_HEADERS[name.lower()]
    grants: list[Grant] = []
    position = 0
    text = value.strip()
    while position < len(text):
        item = _GRANTEE_ITEM.match(text, position)
        if item is None or item.end() == position:
            raise InvalidArgument(
                "Argument format not recognized", ArgumentName=name.lower(), ArgumentValue=value
            )
        position = item.end()
        kind = item.group(1).lower()
        grantee = (item.group(2) if item.group(2) is not None else item.group(3) or "").strip()
        grants.append(_header_grant(name.lower(), value, kind, grantee, permission))
    if not grants:
        raise InvalidArgument(
            "Argument format not recognized", ArgumentName=name.lower(), ArgumentValue=value
        )
    return grants


def _header_grant(name: str, value: str, kind: str, grantee: str, permission: Permission) -> Grant:
    if not grantee or kind not in ("id", "uri", "emailaddress"):
        raise InvalidArgument(
            "Argument format not recognized", ArgumentName=name, ArgumentValue=value
        )
    if kind == "emailaddress":
        raise UnresolvableGrantByEmailAddress(EmailAddress=grantee)
    if kind == "uri":
        return Grant(GROUP, _group(grantee), permission)
    return Grant(CANONICAL_USER, grantee, permission)


def _group(uri: str) -> str:
    if uri not in GROUPS:
        raise InvalidArgument("Invalid group uri", ArgumentName="uri", ArgumentValue=uri)
    return uri


def has_grant_headers(headers: Mapping[str, str]) -> bool:
    return any(name in headers for name in GRANT_HEADERS)


def requested_grants(headers: Mapping[str, str]) -> list[Grant] | None:
    """The grants of a request's ``x-amz-grant-*`` headers (None without any); a request that
    also names a canned ACL is InvalidRequest, as on AWS."""
    if not has_grant_headers(headers):
        return None
    if "x-amz-acl" in headers:
        raise InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    grants: list[Grant] = []
    getall = getattr(headers, "getall", None)
    for name in GRANT_HEADERS:
        values = getall(name, []) if getall is not None else [headers.get(name)]
        for value in values:
            if value is not None:
                grants.extend(parse_grant_header(name, value))
    return grants


def requested_acl(
    headers: Mapping[str, str], owner: str, bucket_owner: str | None = None
) -> str | None:
    """The stored form of the ACL a request's headers set (``x-amz-acl`` or ``x-amz-grant-*``);
    None when they set none."""
    grants = requested_grants(headers)
    if grants is not None:
        return store_grants(grants, owner, bucket_owner)
    if "x-amz-acl" in headers:
        return parse_canned_acl(headers["x-amz-acl"])
    return None


# --- evaluation and documents -----------------------------------------------------------------


def acl_allows(
    stored: str,
    principal: str | None,
    owner: str,
    action: str,
    *,
    bucket_owner: str | None = None,
) -> bool:
    """Whether the ACL ``stored`` of a resource owned by ``owner`` lets ``principal`` do
    ``action``.

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
        for grant in stored_grants(stored, owner, bucket_owner)
    )


def render_acl(
    stored: str,
    owner: str,
    *,
    display_name: str | None = None,
    bucket_owner: str | None = None,
) -> bytes:
    """The GetBucketAcl / GetObjectAcl document: the owner's FULL_CONTROL, then the grants."""
    root = ET.Element("AccessControlPolicy", {"xmlns": S3_NS})
    owner_element = ET.SubElement(root, "Owner")
    ET.SubElement(owner_element, "ID").text = owner
    ET.SubElement(owner_element, "DisplayName").text = display_name or owner
    grant_list = ET.SubElement(root, "AccessControlList")
    for grant in stored_grants(stored, owner, bucket_owner):
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
    """The stored form of a PutBucketAcl / PutObjectAcl body's ACL.

    MalformedXML for a document that does not parse, MalformedACLError for one that breaks the
    schema, UnresolvableGrantByEmailAddress for an e-mail grantee, InvalidArgument for an
    unknown group.
    """
    root = parse(body, root="AccessControlPolicy")
    grant_list = root.find("AccessControlList")
    if grant_list is None:
        raise MalformedACLError()
    grants = [_parse_grant(element) for element in grant_list.findall("Grant")]
    return store_grants(grants, owner, bucket_owner)


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
    elif grantee_type == EMAIL:
        address = (grantee.findtext("EmailAddress") or "").strip()
        if not address:
            raise MalformedACLError()
        raise UnresolvableGrantByEmailAddress(EmailAddress=address)
    else:
        raise MalformedACLError()
    if not name:
        raise MalformedACLError()
    if grantee_type == GROUP:
        _group(name)
    return Grant(grantee_type, name, Permission[permission_text])


def _implied_type(grantee: ET.Element) -> str:
    if grantee.find("ID") is not None:
        return CANONICAL_USER
    if grantee.find("URI") is not None:
        return GROUP
    if grantee.find("EmailAddress") is not None:
        return EMAIL
    return ""
