"""What the metadata database holds: object versions, listings, uploads, buckets, credentials."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

NULL_VERSION = "null"
RETENTION_MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(frozen=True, slots=True)
class ObjectLock:
    """A version's Object Lock state: its retention (a mode, kept until when) and legal hold.
    What they allow is the gateway's to decide (gateway/object_lock.py); storage keeps them."""

    mode: str = ""  # one of RETENTION_MODES; "" without retention
    retain_until: float = 0.0  # seconds since the epoch; 0 without retention
    legal_hold: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("", *RETENTION_MODES):
            raise ValueError(f"unknown retention mode {self.mode!r}")
        if bool(self.mode) != bool(self.retain_until):
            raise ValueError("a retention needs both a mode and a date")

    def document(self) -> str:
        """The lock as a JSON document (an index row's ``lock``, an upload's meta)."""
        return json.dumps({"mode": self.mode, "until": self.retain_until, "hold": self.legal_hold})

    @classmethod
    def of_document(cls, text: str) -> ObjectLock:
        document = json.loads(text)
        return cls(str(document["mode"]), float(document["until"]), bool(document["hold"]))


NO_LOCK = ObjectLock()


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One row of a bucket's listing index."""

    key: str
    version_id: str  # NULL_VERSION for unversioned writes
    last_modified: float  # seconds since the epoch
    etag: str  # without quotes; "hex" or "hex-N" for multipart
    size: int
    blob: str  # name of the blob (or manifest) holding the data; "" for delete markers
    is_latest: bool = True
    delete_marker: bool = False
    content_type: str = ""
    storage_class: str = "STANDARD"
    owner: str = ""
    acl: str = "private"  # canned ACL of this version
    # Nanosecond stamps of the index row (see meta/rows.py); 0 for a version not yet stored.
    created: int = 0  # when this version was written: orders the versions of a key
    updated: int = 0  # when this state of the row (tags, ACL, lock) was written
    # Object Lock (see ObjectLock): plain fields, so that a version travels as a flat array.
    lock_mode: str = ""
    lock_until: float = 0.0
    legal_hold: bool = False

    @property
    def lock(self) -> ObjectLock:
        return ObjectLock(self.lock_mode, self.lock_until, self.legal_hold)


# What a caller passes to check a version before it is removed (raising refuses), and to decide
# a version's new Object Lock from its current state (raising refuses): run by the index in the
# transaction of the change, or by a gateway on the rows a quorum of replicas answered.
VersionCheck = Callable[[ObjectVersion], None]
LockDecision = Callable[[ObjectVersion], ObjectLock]


@dataclass(frozen=True, slots=True)
class ListPage:
    """A page of a listing, with prefixes already rolled up by the delimiter."""

    entries: list[ObjectVersion]
    common_prefixes: list[str]
    is_truncated: bool
    # The last key (or common prefix) returned: the next marker / continuation point.
    next_marker: str | None
    next_version_marker: str | None = None


# --- multipart uploads (rows of the bucket index) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart upload in progress."""

    upload_id: str
    key: str
    initiated: float  # seconds since the epoch
    meta: Mapping[str, str] = field(default_factory=dict)  # headers given at CreateMultipartUpload


@dataclass(frozen=True, slots=True)
class Part:
    part_number: int
    etag: str  # without quotes
    size: int
    blob: str
    last_modified: float
    checksum: str = ""  # base64, of its upload's checksum algorithm; "" without one


@dataclass(frozen=True, slots=True)
class UploadPage:
    """A page of ListMultipartUploads, prefixes rolled up by the delimiter."""

    uploads: list[Upload]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


# --- catalog rows (Swift's account database) -----------------------------------------------

VERSIONING_STATES = ("", "Enabled", "Suspended")  # "" = never enabled
GRANT_PERMISSIONS = ("RO", "RW", "WO")


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    owner: str  # access key of the creator
    created: float  # seconds since the epoch
    versioning: str = ""  # one of VERSIONING_STATES
    quota_bytes: int | None = None
    quota_objects: int | None = None
    acl: str = "private"  # canned ACL
    region: str = ""
    # Name of the storage policy holding the bucket's data, fixed at creation; "" = the
    # gateway's default policy (buckets from before policies existed).
    storage_policy: str = ""


@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    secret_key: str
    is_admin: bool = False
    description: str = ""
    created: float = 0.0
    # Empty: a full user credential (owns what it creates). Otherwise an app credential limited
    # to these buckets, each with a permission from GRANT_PERMISSIONS.
    grants: Mapping[str, str] = field(default_factory=dict)
