"""Bucket versioning state: the PutBucketVersioning body and the GetBucketVersioning document.

A bucket starts unversioned (GetBucketVersioning answers an empty document); once Enabled it can
only be Suspended, never unversioned again. MFA delete is not implemented.
"""

from __future__ import annotations

from typing import Literal

from nimbus_storage.s3errors import (
    IllegalVersioningConfiguration,
    MalformedXML,
    NotImplementedError_,
)
from nimbus_storage.s3xml import parse, render

VersioningStatus = Literal["Enabled", "Suspended"]
ENABLED: VersioningStatus = "Enabled"
SUSPENDED: VersioningStatus = "Suspended"
_ELEMENTS = frozenset({"Status", "MfaDelete"})


def parse_versioning(body: bytes) -> VersioningStatus:
    """The status a PutBucketVersioning body asks for.

    An unknown element or a Status / MfaDelete outside the schema's values is MalformedXML; a
    document without Status is IllegalVersioningConfigurationException; MfaDelete Enabled is
    NotImplemented.
    """
    root = parse(body, root="VersioningConfiguration")
    if any(child.tag not in _ELEMENTS for child in root):
        raise MalformedXML()
    mfa_delete = root.findtext("MfaDelete")
    if mfa_delete is not None:
        if mfa_delete.strip() not in ("Enabled", "Disabled"):
            raise MalformedXML()
        if mfa_delete.strip() == "Enabled":
            raise NotImplementedError_("MFA delete is not supported")
    status = root.findtext("Status")
    if status is None:
        raise IllegalVersioningConfiguration()
    if status.strip() == ENABLED:
        return ENABLED
    if status.strip() == SUSPENDED:
        return SUSPENDED
    raise MalformedXML()


def render_versioning(status: VersioningStatus | None) -> bytes:
    """The GetBucketVersioning document; None (never versioned) renders an empty one."""
    return render("VersioningConfiguration", {"Status": status})
