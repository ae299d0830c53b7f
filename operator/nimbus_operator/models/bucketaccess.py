"""BucketAccess: credentials for apps to one or more Buckets, as COSI's BucketAccess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Self

from nimbus_operator.constants import ROTATE_ANNOTATION
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.quantity import parse_duration
from nimbus_operator.models.schema import (
    Array,
    Boolean,
    Choice,
    DateTime,
    Duration,
    Object,
    Rule,
    SpecModel,
    StatusModel,
    String,
    model,
    prop,
)

__all__ = [
    "BUCKET_ACCESS",
    "ROTATE_ANNOTATION",
    "AccessMode",
    "AccessedBucket",
    "BucketAccess",
    "BucketAccessPhase",
    "BucketAccessSpec",
    "BucketAccessStatus",
    "BucketClaim",
    "Rotation",
]

MAX_BUCKET_CLAIMS = 16


class AccessMode(StrEnum):
    """What the credentials may do in a bucket."""

    READ_WRITE = "ReadWrite"
    READ_ONLY = "ReadOnly"
    WRITE_ONLY = "WriteOnly"


class BucketAccessPhase(StrEnum):
    """A one-word summary of a BucketAccess's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


@model
class BucketClaim:
    """One Bucket the credentials reach, what they may do there and the Secret to write."""

    bucket_claim_name: str = prop(
        "The name of a Bucket in the BucketAccess's namespace.", object_name()
    )
    access_mode: AccessMode = prop(
        "What the credentials may do in this bucket: ReadWrite, ReadOnly or WriteOnly.",
        Choice(enum=AccessMode),
        default=AccessMode.READ_WRITE,
    )
    access_secret_name: str = prop(
        "The Secret the operator writes with the endpoint, bucket name and credentials "
        "(AWS_ENDPOINT_URL, BUCKET_NAME, AWS_ACCESS_KEY_ID, ...), for an app's envFrom. "
        "Each claim needs its own Secret.",
        object_name(),
    )


@model
class Rotation:
    """When the access key is replaced, and how long the old one keeps working."""

    requested_at: str | None = prop(
        "Set or change this time (e.g. to now) to ask for a new access key at once. The "
        f"annotation {ROTATE_ANNOTATION} does the same: any new value asks for a rotation.",
        DateTime(),
        default=None,
    )
    grace_period: str = prop(
        "How long the previous access key keeps working after a rotation, so that apps "
        "can pick up the new one: a duration such as 1h, 30m, 90s or 0s.",
        Duration(),
        default="1h",
    )

    @property
    def grace_period_delta(self) -> timedelta:
        """``grace_period`` as a timedelta."""
        return parse_duration(self.grace_period, field_path="rotation.gracePeriod")


@model
class BucketAccessSpec(SpecModel):
    """The buckets to reach, with what access each, and how the key is rotated."""

    bucket_claims: tuple[BucketClaim, ...] = prop(
        "The Buckets these credentials reach (1 to 16), each with its own access mode and "
        "Secret. One access key serves them all.",
        Array(
            items=Object(model=BucketClaim),
            min_items=1,
            max_items=MAX_BUCKET_CLAIMS,
            list_type="map",
            map_keys=("bucketClaimName",),
            rules=(
                Rule(
                    "self.all(c, self.exists_one(d, d.accessSecretName == c.accessSecretName))",
                    "each bucket claim needs its own accessSecretName",
                    lambda claims: len({c["accessSecretName"] for c in claims}) == len(claims),
                ),
            ),
        ),
    )
    rotation: Rotation = prop(
        "Rotation of the access key.", Object(model=Rotation), default_factory=Rotation
    )


@model
class AccessedBucket:
    """One bucket the credentials reach, as granted."""

    bucket_claim_name: str = prop("The Bucket's name.", object_name())
    bucket_name: str = prop("The bucket's S3 name.", String(max_length=63))
    access_secret_name: str = prop("The Secret with the credentials.", object_name())
    access_mode: AccessMode = prop("What the credentials may do there.", Choice(enum=AccessMode))
    store: str | None = prop(
        "The ObjectStore holding the bucket, as <namespace>/<name>: where the credentials "
        "are kept (and revoked from).",
        String(max_length=317),
        default=None,
    )


@model
class BucketAccessStatus(StatusModel):
    """What the operator last observed of a BucketAccess."""

    observed_generation: int | None = observed_generation_field()
    phase: BucketAccessPhase | None = phase_field(
        BucketAccessPhase, "A one-word summary: Pending, Ready, Failed or Deleting."
    )
    conditions: tuple[Condition, ...] = conditions_field()
    ready_to_use: bool | None = prop(
        "True once every Secret holds working credentials.", Boolean(), default=None
    )
    accessed_buckets: tuple[AccessedBucket, ...] = prop(
        "The buckets the credentials reach.",
        Array(
            items=Object(model=AccessedBucket),
            max_items=MAX_BUCKET_CLAIMS,
            list_type="map",
            map_keys=("bucketClaimName",),
        ),
        default=(),
    )
    access_key_id: str | None = prop(
        "The current access key id (AWS_ACCESS_KEY_ID); the secret key is only in the Secrets.",
        String(max_length=128),
        default=None,
    )
    last_rotation_time: str | None = prop(
        "When the current access key was issued.", DateTime(), default=None
    )
    previous_access_key_id: str | None = prop(
        "The access key replaced by the last rotation, still valid until previousKeyExpiresAt.",
        String(max_length=128),
        default=None,
    )
    previous_key_expires_at: str | None = prop(
        "When the previous access key stops working.", DateTime(), default=None
    )
    error: str | None = prop(
        "Why the credentials are not ready, if they are not.", String(max_length=4096), default=None
    )


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """A BucketAccess as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: BucketAccessSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), BucketAccessSpec.from_body(body))

    @property
    def rotate_request(self) -> str | None:
        """The value of the rotate annotation: a rotation is due when it differs from the last."""
        return self.metadata.annotations.get(ROTATE_ANNOTATION)


BUCKET_ACCESS = ResourceKind(
    kind="BucketAccess",
    plural="bucketaccesses",
    short_names=("ba",),
    scope=Scope.NAMESPACED,
    description=(
        "BucketAccess gives an app credentials to one or more Buckets of its namespace, each "
        "ReadWrite, ReadOnly or WriteOnly, as COSI's BucketAccess does: the operator writes "
        "one Secret per bucket with the AWS_* keys the AWS SDKs read, and rotates the key "
        "on request, keeping the previous one valid for a grace period."
    ),
    spec=BucketAccessSpec,
    status=BucketAccessStatus,
    printer_columns=(
        PrinterColumn("Ready", ".status.readyToUse", "boolean", "Whether the Secrets are usable."),
        PrinterColumn("Key", ".status.accessKeyId", "string", "The current access key id."),
        PrinterColumn("Rotated", ".status.lastRotationTime", "date", "When the key was issued."),
    ),
)
