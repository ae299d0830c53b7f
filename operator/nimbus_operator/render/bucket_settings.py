"""A Bucket's spec as the store takes it (pure): the admin API's bucket settings, the bucket
policy document, and the lifecycle rules of PutBucketLifecycleConfiguration.

Each desired form has a comparable twin of what the store reports (`settings_differ`,
`normalized_rules`), so a resync that finds the bucket as wanted writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nimbus_operator.models.bucket import BucketSpec, Versioning
from nimbus_operator.models.bucketsettings import Lifecycle

POLICY_VERSION = "2012-10-17"


def bucket_resources(bucket_name: str) -> list[str]:
    """The ARNs of a bucket and of every object in it."""
    return [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"]


def build_policy_document(
    bucket_name: str, statements: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """An S3 bucket policy of ``statements`` (None when there are none): Version added, and a
    statement without Resource applies to the bucket and its objects."""
    if not statements:
        return None
    completed = []
    for statement in statements:
        item = dict(statement)
        if "Resource" not in item and "NotResource" not in item:
            item["Resource"] = bucket_resources(bucket_name)
        completed.append(item)
    return {"Version": POLICY_VERSION, "Statement": completed}


def build_admin_settings(spec: BucketSpec, bucket_name: str, owner: str) -> dict[str, Any]:
    """The body of the admin API's ``PUT buckets/{name}``. Quota and policy are always sent
    (null clears them), versioning only once asked for (the API knows no "Disabled"), the
    storage policy only when named (absent means the store's default)."""
    quota = spec.quota
    settings: dict[str, Any] = {
        "owner": owner,
        "quota": {
            "maxBytes": quota.max_size_bytes if quota else None,
            "maxObjects": quota.max_objects if quota else None,
        },
        "policy": build_policy_document(bucket_name, spec.policy.statements if spec.policy else ()),
    }
    if spec.versioning != Versioning.DISABLED:
        settings["versioning"] = str(spec.versioning)
    if spec.storage_policy:
        settings["storagePolicy"] = spec.storage_policy
    return settings


def settings_differ(wanted: Mapping[str, Any], view: Mapping[str, Any]) -> bool:
    """Whether the bucket the store reports (its admin view) differs from ``wanted``."""
    for key, value in wanted.items():
        if key == "quota":
            seen = view.get("quota") or {}
            if any(seen.get(limit) != value.get(limit) for limit in ("maxBytes", "maxObjects")):
                return True
        elif view.get(key) != value:
            return True
    return False


def build_lifecycle_rules(lifecycle: Lifecycle | None) -> list[dict[str, Any]]:
    """The rules of a LifecycleConfiguration, as boto3's put_bucket_lifecycle_configuration
    takes them (empty: the bucket has no lifecycle configuration)."""
    rules = []
    for rule in lifecycle.rules if lifecycle else ():
        item: dict[str, Any] = {
            "ID": rule.id,
            "Status": "Enabled" if rule.enabled else "Disabled",
            "Filter": {"Prefix": rule.prefix or ""},
        }
        if rule.expiration_days is not None:
            item["Expiration"] = {"Days": rule.expiration_days}
        if rule.noncurrent_version_expiration_days is not None:
            item["NoncurrentVersionExpiration"] = {
                "NoncurrentDays": rule.noncurrent_version_expiration_days
            }
        if rule.abort_incomplete_multipart_upload_days is not None:
            item["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": rule.abort_incomplete_multipart_upload_days
            }
        rules.append(item)
    return rules


RuleKey = tuple[str, str, str, int | None, int | None, int | None]


def normalized_rules(rules: Iterable[Mapping[str, Any]]) -> list[RuleKey]:
    """Lifecycle rules (desired, or as GetBucketLifecycleConfiguration answers) reduced to what
    a Bucket can say, in a form that compares equal when they mean the same."""
    keys = []
    for rule in rules:
        prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", "")) or ""
        keys.append(
            (
                str(rule.get("ID", "")),
                str(rule.get("Status", "")),
                str(prefix),
                (rule.get("Expiration") or {}).get("Days"),
                (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
                (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
            )
        )
    return sorted(keys)
