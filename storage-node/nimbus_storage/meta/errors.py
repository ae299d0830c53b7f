"""What the metadata (catalog and bucket indexes) refuses, named for what it found."""

from __future__ import annotations

from nimbus_storage.storage_errors import StorageError

__all__ = [
    "BadBucketName",
    "BadGrant",
    "BadVersioningState",
    "BucketExists",
    "BucketNotEmpty",
    "CredentialExists",
    "NoBucket",
    "NoUpload",
]


class NoBucket(StorageError):
    """There is no (live) bucket of that name."""

    def __init__(self, bucket: str) -> None:
        super().__init__(f"No bucket {bucket!r}")
        self.bucket = bucket


class BucketExists(StorageError):
    """A bucket of that name exists already; ``owned_by_caller``: the one asking to create it
    owns it."""

    def __init__(self, bucket: str, *, owned_by_caller: bool) -> None:
        whose = "yours" if owned_by_caller else "another owner's"
        super().__init__(f"Bucket {bucket!r} exists already ({whose})")
        self.bucket = bucket
        self.owned_by_caller = owned_by_caller


class BucketNotEmpty(StorageError):
    """The bucket still holds a version, a delete marker or a multipart upload."""

    def __init__(self, bucket: str) -> None:
        super().__init__(f"Bucket {bucket!r} is not empty")
        self.bucket = bucket


class BadBucketName(StorageError):
    """A name that cannot name a bucket's files (not a safe file name)."""

    def __init__(self, bucket: str) -> None:
        super().__init__(f"{bucket!r} cannot name a bucket")
        self.bucket = bucket


class NoUpload(StorageError):
    """No (live) multipart upload has that id: never begun, or completed, or aborted."""

    def __init__(self, upload_id: str) -> None:
        super().__init__(f"No upload {upload_id!r}")
        self.upload_id = upload_id


class BadVersioningState(StorageError):
    """A versioning state other than Enabled or Suspended."""

    def __init__(self, state: str) -> None:
        super().__init__(f"Versioning state {state!r} is not Enabled or Suspended")
        self.state = state


class CredentialExists(StorageError):
    """A credential with that access key exists already."""

    def __init__(self, access_key: str) -> None:
        super().__init__(f"Access key {access_key!r} already exists")
        self.access_key = access_key


class BadGrant(StorageError):
    """A credential's grant of a permission other than RO, RW or WO."""

    def __init__(self, bucket: str, permission: str) -> None:
        super().__init__(f"Permission {permission!r} on {bucket!r} is not RO/RW/WO")
        self.bucket = bucket
        self.permission = permission
