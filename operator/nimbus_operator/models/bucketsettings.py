"""The parts of a Bucket's spec that shape its contents: quota, lifecycle and bucket policy."""

from __future__ import annotations

from typing import Any, ClassVar

from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    AnyRule,
    Array,
    Boolean,
    FreeForm,
    Integer,
    Object,
    Quantity,
    Rule,
    String,
    model,
    prop,
)

_ACTIONS = (
    "expirationDays",
    "noncurrentVersionExpirationDays",
    "abortIncompleteMultipartUploadDays",
)


@model
class BucketQuota:
    """Limits on what the bucket may hold; uploads beyond them are refused."""

    max_size: str | None = prop(
        "The most bytes the bucket's objects may take (one copy), as a quantity such as "
        "100Gi; unset means no limit.",
        Quantity(),
        default=None,
    )
    max_objects: int | None = prop(
        "The most objects the bucket may hold; unset means no limit.",
        Integer(minimum=0, format="int64"),
        default=None,
    )

    @property
    def max_size_bytes(self) -> int | None:
        """``max_size`` in bytes, or None for no limit."""
        if self.max_size is None:
            return None
        return parse_quantity(self.max_size, field_path="quota.maxSize")


@model
class LifecycleRule:
    """A lifecycle rule: which objects (by key prefix) it applies to and what it does to them.
    It must set at least one action."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            " || ".join(f"has(self.{action})" for action in _ACTIONS),
            f"set at least one action: {', '.join(_ACTIONS)}",
            lambda rule: any(action in rule for action in _ACTIONS),
        ),
    )

    id: str = prop(
        "A name for the rule, unique in the bucket (the S3 rule ID).",
        String(min_length=1, max_length=255),
    )
    prefix: str | None = prop(
        "Apply the rule only to keys starting with this prefix; unset means every object.",
        String(max_length=1024),
        default=None,
    )
    expiration_days: int | None = prop(
        "Delete objects this many days after they were written (in a versioned bucket, "
        "the current version becomes a noncurrent one).",
        Integer(minimum=1, maximum=100000),
        default=None,
    )
    noncurrent_version_expiration_days: int | None = prop(
        "Delete noncurrent versions this many days after they stopped being current.",
        Integer(minimum=1, maximum=100000),
        default=None,
    )
    abort_incomplete_multipart_upload_days: int | None = prop(
        "Abort multipart uploads still incomplete this many days after they started.",
        Integer(minimum=1, maximum=100000),
        default=None,
    )
    enabled: bool = prop(
        "Whether the rule is applied; false keeps it without acting on it.",
        Boolean(),
        default=True,
    )


@model
class Lifecycle:
    """The bucket's lifecycle configuration."""

    rules: tuple[LifecycleRule, ...] = prop(
        "The rules, each with a unique id (at most 100).",
        Array(
            items=Object(model=LifecycleRule),
            max_items=100,
            list_type="map",
            map_keys=("id",),
        ),
        default=(),
    )


@model
class BucketPolicy:
    """An S3 bucket policy."""

    statements: tuple[dict[str, Any], ...] = prop(
        "Policy statements as in AWS's JSON (Sid, Effect, Principal, Action, Resource, "
        "Condition). A statement without Resource applies to the bucket and its objects.",
        Array(
            items=FreeForm(description="One statement, as in an AWS bucket policy."),
            max_items=100,
        ),
        default=(),
    )
