"""Bucket: an S3 bucket in an ObjectStore, with its policy, versioning, quota and lifecycle."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from nimbus_operator.constants import STORAGE_GROUP
from nimbus_operator.models.bucketsettings import BucketPolicy, BucketQuota, Lifecycle
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable,
    immutable_field,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.schema import (
    AnyRule,
    Choice,
    Integer,
    Object,
    Rule,
    SpecModel,
    StatusModel,
    String,
    TransitionRule,
    model,
    prop,
)

GENERATED_SUFFIX_LENGTH = 8
"""A generated bucket name is ``<generateBucketName>-<this many random characters>``."""

_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _any_of(method: str, values: tuple[str, ...]) -> str:
    return " || ".join(f"self.{method}('{value}')" for value in values)


NO_DOUBLE_DOT = Rule(
    "!self.contains('..')", "must not contain two adjacent periods", lambda name: ".." not in name
)
NO_RESERVED_PREFIX = Rule(
    f"!({_any_of('startsWith', _RESERVED_PREFIXES)})",
    f"must not start with {', '.join(_RESERVED_PREFIXES)} (reserved by S3)",
    lambda name: not name.startswith(_RESERVED_PREFIXES),
)
BUCKET_NAME_RULES: tuple[AnyRule, ...] = (
    NO_DOUBLE_DOT,
    Rule(
        "!self.matches('^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$')",
        "must not be formatted as an IP address",
        lambda name: re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", name) is None,
    ),
    NO_RESERVED_PREFIX,
    Rule(
        f"!({_any_of('endsWith', _RESERVED_SUFFIXES)})",
        f"must not end with {', '.join(_RESERVED_SUFFIXES)} (reserved by S3)",
        lambda name: not name.endswith(_RESERVED_SUFFIXES),
    ),
)


class Versioning(StrEnum):
    """S3 bucket versioning, as PutBucketVersioning sets it (Disabled = never enabled)."""

    ENABLED = "Enabled"
    SUSPENDED = "Suspended"
    DISABLED = "Disabled"


class DeletionPolicy(StrEnum):
    """What deleting the Bucket does to the bucket in the store."""

    RETAIN = "Retain"
    DELETE = "Delete"


class BucketPhase(StrEnum):
    """A one-word summary of a Bucket's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


SHARED_STORE_ANNOTATION = f"{STORAGE_GROUP}/bucket-namespaces"
"""On an ObjectStore: the other namespaces whose Buckets may live in it, comma-separated, or
``*`` for every namespace. Without it only Buckets of the store's own namespace may."""

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


@model
class StoreRef:
    """The ObjectStore the bucket lives in."""

    name: str = prop("The name of the ObjectStore.", object_name())
    namespace: str | None = prop(
        "The ObjectStore's namespace; unset means the Bucket's own. A store in another "
        f"namespace must admit this one in its {SHARED_STORE_ANNOTATION} annotation "
        "(a comma-separated list of namespaces, or *).",
        String(
            min_length=1,
            max_length=63,
            pattern=DNS_LABEL_PATTERN,
            pattern_message="must be a namespace name: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
        default=None,
    )


@model
class OwnerSecret:
    """Ask for a Secret holding credentials that own the bucket."""

    name: str | None = prop(
        "The Secret's name; unset means <bucket>-owner, after the Bucket's name.",
        object_name(),
        default=None,
    )


@model
class BucketSpec(SpecModel):
    """The desired bucket: where it lives, what it is called and how it behaves."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            "!(has(self.bucketName) && has(self.generateBucketName))",
            "set at most one of bucketName and generateBucketName",
            lambda spec: not ("bucketName" in spec and "generateBucketName" in spec),
        ),
        immutable_field("bucketName"),
        immutable_field("generateBucketName"),
        immutable_field("storagePolicy"),
    )

    store_ref: StoreRef = prop(
        "The ObjectStore that holds the bucket: in the Bucket's namespace unless "
        "storeRef.namespace names another. Cannot change.",
        Object(model=StoreRef, rules=(immutable("storeRef cannot change after creation"),)),
    )
    bucket_name: str | None = prop(
        "The bucket's S3 name, following the S3 naming rules: 3 to 63 lowercase letters, "
        "digits, '.' and '-', starting and ending with a letter or digit, no '..', not an IP "
        "address. Unset (and no generateBucketName) means <namespace>-<name> of the Bucket "
        "(shortened with a digest when longer than 63 characters), so that Buckets of "
        "different namespaces sharing a store do not collide; the name in use is reported "
        "in status.bucketName. Cannot change.",
        String(
            min_length=3,
            max_length=63,
            pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$",
            pattern_message="must be lowercase letters, digits, '.' and '-', starting and "
            "ending with a letter or digit",
            rules=BUCKET_NAME_RULES,
        ),
        default=None,
    )
    generate_bucket_name: str | None = prop(
        "A prefix for a generated S3 name: <prefix>-<8 random characters>, as Rook's "
        "ObjectBucketClaim does. At most 54 characters. Cannot be set with bucketName; "
        "cannot change.",
        String(
            min_length=1,
            max_length=63 - 1 - GENERATED_SUFFIX_LENGTH,
            pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$",
            pattern_message="must be lowercase letters, digits, '.' and '-', starting and "
            "ending with a letter or digit",
            rules=(NO_DOUBLE_DOT, NO_RESERVED_PREFIX),
        ),
        default=None,
    )
    storage_policy: str | None = prop(
        "The StoragePolicy that keeps the bucket's objects; unset means the policy marked "
        "default. The policy in use is reported in status.storagePolicy. Cannot change.",
        object_name(),
        default=None,
    )
    versioning: Versioning = prop(
        "S3 versioning: Enabled keeps every version of an object; Suspended stops making new "
        "versions but keeps the old ones. As in S3, a bucket that was ever Enabled can only "
        "be Suspended, never Disabled again.",
        Choice(
            enum=Versioning,
            rules=(
                TransitionRule(
                    "oldSelf == 'Disabled' || self != 'Disabled'",
                    "versioning cannot be disabled once enabled; use Suspended",
                    lambda new, old: old == "Disabled" or new != "Disabled",
                ),
            ),
        ),
        default=Versioning.DISABLED,
    )
    quota: BucketQuota | None = prop(
        "Limits on what the bucket may hold; uploads beyond them are refused.",
        Object(model=BucketQuota),
        default=None,
    )
    lifecycle: Lifecycle | None = prop(
        "Rules that expire objects, old versions and abandoned multipart uploads.",
        Object(model=Lifecycle),
        default=None,
    )
    policy: BucketPolicy | None = prop(
        "An S3 bucket policy: who may do what to the bucket and its objects.",
        Object(model=BucketPolicy),
        default=None,
    )
    deletion_policy: DeletionPolicy = prop(
        "What deleting this Bucket does: Retain keeps the bucket and its objects in the "
        "store (only the Kubernetes object goes away); Delete removes every object and "
        "version, then the bucket.",
        Choice(enum=DeletionPolicy),
        default=DeletionPolicy.RETAIN,
    )
    owner_secret: OwnerSecret | None = prop(
        "When set, the operator writes a Secret with credentials that own the bucket (the "
        "AWS_* keys of the COSI and ObjectBucketClaim conventions).",
        Object(model=OwnerSecret),
        default=None,
    )


@model
class BucketStatus(StatusModel):
    """What the operator last observed of a Bucket."""

    observed_generation: int | None = observed_generation_field()
    phase: BucketPhase | None = phase_field(
        BucketPhase, "A one-word summary: Pending, Ready, Failed or Deleting."
    )
    conditions: tuple[Condition, ...] = conditions_field()
    bucket_name: str | None = prop(
        "The bucket's S3 name (BUCKET_NAME).", String(max_length=63), default=None
    )
    endpoint: str | None = prop(
        "The S3 endpoint URL of the store (AWS_ENDPOINT_URL).",
        String(max_length=2048),
        default=None,
    )
    storage_policy: str | None = prop(
        "The StoragePolicy that keeps the bucket's objects.", object_name(), default=None
    )
    used_bytes: int | None = prop(
        "Bytes in the bucket's objects (one copy).",
        Integer(minimum=0, format="int64"),
        default=None,
    )
    objects: int | None = prop(
        "How many objects the bucket holds.", Integer(minimum=0, format="int64"), default=None
    )
    config_map_name: str | None = prop(
        "The ConfigMap with the bucket's endpoint, region and name, for apps to read.",
        object_name(),
        default=None,
    )
    owner_secret_name: str | None = prop(
        "The Secret with owner credentials, when spec.ownerSecret asks for one.",
        object_name(),
        default=None,
    )


@dataclass(frozen=True, slots=True)
class Bucket:
    """A Bucket as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: BucketSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), BucketSpec.from_body(body))

    @property
    def owner_secret_name(self) -> str | None:
        """The owner Secret's name when one is asked for: the given name or <bucket>-owner."""
        if self.spec.owner_secret is None:
            return None
        return self.spec.owner_secret.name or f"{self.metadata.name}-owner"


BUCKET = ResourceKind(
    kind="Bucket",
    plural="buckets",
    short_names=("bkt",),
    scope=Scope.NAMESPACED,
    description=(
        "Bucket is an S3 bucket in an ObjectStore of the same namespace, with its storage "
        "policy, versioning, quota, lifecycle rules and bucket policy. The operator also "
        "writes a ConfigMap with its endpoint and, when asked, a Secret with owner "
        "credentials; apps get their own credentials through a BucketAccess."
    ),
    spec=BucketSpec,
    status=BucketStatus,
    printer_columns=(
        PrinterColumn("Bucket", ".status.bucketName", "string", "The bucket's S3 name."),
        PrinterColumn("Store", ".spec.storeRef.name", "string", "The ObjectStore holding it."),
        PrinterColumn("Phase", ".status.phase", "string", "A one-word summary of the state."),
        PrinterColumn("Used", ".status.usedBytes", "integer", "Bytes in its objects."),
        PrinterColumn("Objects", ".status.objects", "integer", "How many objects it holds."),
    ),
)
