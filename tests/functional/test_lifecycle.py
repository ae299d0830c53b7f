"""Bucket lifecycle configuration, x-amz-expiration, and the janitor applying the rules."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import BucketLifecycleConfigurationTypeDef, LifecycleRuleTypeDef
from nimbus_storage.gateway import janitor

from tests.functional.conftest import GatewayHandle, error_code
from tests.functional.test_tagging import signed_put

DAY = 86400.0


def run_pass(gateway: GatewayHandle, days_ahead: float) -> janitor.PassReport:
    report: janitor.PassReport = gateway.call(
        janitor.run_pass(gateway.gateway.services, now=time.time() + days_ahead * DAY)
    )
    return report


def rules(*items: LifecycleRuleTypeDef) -> BucketLifecycleConfigurationTypeDef:
    return {"Rules": list(items)}


def versions(s3: S3Client, bucket: str) -> list[tuple[str, str, bool]]:
    """(key, kind, is_latest) of every version and delete marker, newest first per key."""
    listed = s3.list_object_versions(Bucket=bucket)
    entries: list[tuple[str, str, bool, Any]] = [
        (v["Key"], "version", v["IsLatest"], v["LastModified"]) for v in listed.get("Versions", [])
    ] + [
        (m["Key"], "marker", m["IsLatest"], m["LastModified"])
        for m in listed.get("DeleteMarkers", [])
    ]
    entries.sort(key=lambda entry: (entry[0], not entry[2]))
    return [(key, kind, latest) for key, kind, latest, _ in entries]


# --- configuration --------------------------------------------------------------------------


def test_put_get_delete_lifecycle(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "NoSuchLifecycleConfiguration",
        404,
    )
    configuration = rules(
        {
            "ID": "logs",
            "Status": "Enabled",
            "Filter": {"Prefix": "logs/"},
            "Expiration": {"Days": 30},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
        },
        {
            "ID": "tagged",
            "Status": "Disabled",
            "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "class", "Value": "scratch"}]}},
            "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)},
        },
    )
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=configuration)
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(got) == 2
    logs, tagged = got
    assert logs["ID"] == "logs"
    assert logs["Status"] == "Enabled"
    assert logs["Filter"] == {"Prefix": "logs/"}
    assert logs["Expiration"] == {"Days": 30}
    assert logs["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 7,
        "NewerNoncurrentVersions": 2,
    }
    assert logs["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert tagged["ID"] == "tagged"
    assert tagged["Status"] == "Disabled"
    assert tagged["Filter"] == {
        "And": {"Prefix": "tmp/", "Tags": [{"Key": "class", "Value": "scratch"}]}
    }
    assert tagged["Expiration"]["Date"] == datetime(2030, 1, 1, tzinfo=UTC)
    deleted = s3.delete_bucket_lifecycle(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "NoSuchLifecycleConfiguration",
        404,
    )


def test_rule_without_id_gets_one(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
        ),
    )
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"]
    assert rule["Expiration"] == {"Days": 1}


def test_lifecycle_on_missing_bucket(s3: S3Client) -> None:
    assert error_code(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket="no-such-bucket-lifecycle")
    ) == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}},
            ("InvalidArgument", 400),
        ),
        (
            {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": -3}},
            ("InvalidArgument", 400),
        ),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 0},
            },
            ("InvalidArgument", 400),
        ),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 0},
            },
            ("InvalidArgument", 400),
        ),
        ({"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}, ("InvalidRequest", 400)),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Date": datetime(2030, 1, 1, 12, 30, tzinfo=UTC)},
            },
            ("InvalidArgument", 400),
        ),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            },
            ("InvalidRequest", 400),
        ),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                "Expiration": {"ExpiredObjectDeleteMarker": True},
            },
            ("InvalidRequest", 400),
        ),
        (
            {
                "ID": "r" * 256,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": 1},
            },
            ("InvalidArgument", 400),
        ),
        (
            {
                "ID": "r",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True},
            },
            ("MalformedXML", 400),
        ),
    ],
)
def test_bad_lifecycle_rules(
    s3: S3Client, bucket: str, rule: LifecycleRuleTypeDef, expected: tuple[str, int]
) -> None:
    assert (
        error_code(
            lambda: s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration=rules(rule)
            )
        )
        == expected
    )
    assert error_code(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)) == (
        "NoSuchLifecycleConfiguration",
        404,
    )


def test_duplicate_rule_ids(s3: S3Client, bucket: str) -> None:
    rule: LifecycleRuleTypeDef = {
        "ID": "same",
        "Status": "Enabled",
        "Filter": {"Prefix": "a/"},
        "Expiration": {"Days": 1},
    }
    other: LifecycleRuleTypeDef = {**rule, "Filter": {"Prefix": "b/"}}
    assert error_code(
        lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=rules(rule, other)
        )
    ) == ("InvalidArgument", 400)


@pytest.mark.parametrize(
    "body",
    [
        b"<LifecycleConfiguration><Rule><ID>r</ID><Filter/>"
        b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
        b"<LifecycleConfiguration><Rule><ID>r</ID><Status>Sometimes</Status><Filter/>"
        b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
        b"<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status><Filter/>"
        b"<Expiration><Days>soon</Days></Expiration></Rule></LifecycleConfiguration>",
        b"<LifecycleConfiguration></LifecycleConfiguration>",
        b"<LifecycleConfiguration><Rule>",
    ],
)
def test_malformed_lifecycle_xml(gateway: GatewayHandle, bucket: str, body: bytes) -> None:
    status, answer = signed_put(gateway, f"{bucket}?lifecycle", body)
    assert status == 400
    assert b"<Code>MalformedXML</Code>" in answer


# --- x-amz-expiration -----------------------------------------------------------------------


def test_get_object_reports_expiration(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "tmp rule",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 3},
            }
        ),
    )
    s3.put_object(Bucket=bucket, Key="tmp/scratch", Body=b"x")
    s3.put_object(Bucket=bucket, Key="keep/forever", Body=b"x")
    got = s3.get_object(Bucket=bucket, Key="tmp/scratch")
    expiration = got["Expiration"]
    assert expiration.endswith('rule-id="tmp%20rule"')
    date_text = expiration.split('expiry-date="', 1)[1].split('"', 1)[0]
    expiry = parsedate_to_datetime(date_text)
    last_modified = got["LastModified"]
    # Expiry is the first midnight UTC at least Days after the last modification.
    earliest = last_modified + timedelta(days=3)
    assert (expiry.hour, expiry.minute, expiry.second) == (0, 0, 0)
    assert earliest <= expiry < earliest + timedelta(days=1)
    assert s3.head_object(Bucket=bucket, Key="tmp/scratch")["Expiration"] == expiration
    assert "Expiration" not in s3.get_object(Bucket=bucket, Key="keep/forever")


def test_disabled_and_tag_filtered_rules_in_expiration_header(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "off",
                "Status": "Disabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": 1},
            },
            {
                "ID": "scratch",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": "class", "Value": "scratch"}},
                "Expiration": {"Days": 2},
            },
        ),
    )
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="class=scratch")
    assert "Expiration" not in s3.get_object(Bucket=bucket, Key="plain")
    assert s3.get_object(Bucket=bucket, Key="tagged")["Expiration"].endswith('rule-id="scratch"')


# --- the janitor ----------------------------------------------------------------------------


def test_janitor_expires_unversioned_objects(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "tmp",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 1},
            }
        ),
    )
    s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="tmp/b", Body=b"b")
    s3.put_object(Bucket=bucket, Key="keep/c", Body=b"c")
    # Not yet due: nothing happens.
    run_pass(gateway, 0)
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 3
    report = run_pass(gateway, 10)
    assert report.expired >= 2
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["keep/c"]
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="tmp/a")) == ("NoSuchKey", 404)
    # Unversioned expiry leaves no delete markers behind.
    assert versions(s3, bucket) == [("keep/c", "version", True)]


def test_janitor_respects_tag_filters(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "scratch",
                "Status": "Enabled",
                "Filter": {"Tag": {"Key": "class", "Value": "scratch"}},
                "Expiration": {"Days": 1},
            },
            {
                "ID": "off",
                "Status": "Disabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": 1},
            },
        ),
    )
    s3.put_object(Bucket=bucket, Key="scratch", Body=b"x", Tagging="class=scratch")
    s3.put_object(Bucket=bucket, Key="other-tag", Body=b"x", Tagging="class=gold")
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"x")
    run_pass(gateway, 10)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["other-tag", "untagged"]


def test_janitor_versioned_expiry_and_noncurrent_cleanup(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "expire",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Days": 1},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            },
            {
                "ID": "markers",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"ExpiredObjectDeleteMarker": True},
            },
        ),
    )
    first = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"2")
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"1")
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"2")

    run_pass(gateway, 10)
    # The current version expired as S3 does in a versioned bucket: a delete marker on top.
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="tmp/a")) == ("NoSuchKey", 404)
    listed = s3.list_object_versions(Bucket=bucket, Prefix="tmp/")
    markers = listed.get("DeleteMarkers", [])
    assert len(markers) == 1
    assert markers[0]["IsLatest"]
    remaining = {v["VersionId"] for v in listed.get("Versions", [])}
    # The version that was noncurrent for ten days is gone.
    assert first not in remaining
    # Later passes remove the newly noncurrent version, then the lone delete marker.
    for _ in range(3):
        run_pass(gateway, 10)
    listed = s3.list_object_versions(Bucket=bucket, Prefix="tmp/")
    assert listed.get("Versions", []) == []
    assert listed.get("DeleteMarkers", []) == []
    # Nothing outside the prefix was touched.
    assert versions(s3, bucket) == [("keep/b", "version", True), ("keep/b", "version", False)]
    assert s3.get_object(Bucket=bucket, Key="keep/b")["Body"].read() == b"2"


def test_janitor_keeps_newer_noncurrent_versions(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "keep-two",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2},
            }
        ),
    )
    ids = [
        s3.put_object(Bucket=bucket, Key="k", Body=str(n).encode())["VersionId"] for n in range(5)
    ]
    run_pass(gateway, 0)
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 5
    run_pass(gateway, 10)
    kept = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert kept == list(reversed(ids[2:]))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"4"


def test_janitor_aborts_incomplete_uploads(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {
                "ID": "abort",
                "Status": "Enabled",
                "Filter": {"Prefix": "uploads/"},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ),
    )
    doomed = s3.create_multipart_upload(Bucket=bucket, Key="uploads/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="uploads/big", UploadId=doomed, PartNumber=1, Body=b"p")
    kept = s3.create_multipart_upload(Bucket=bucket, Key="other/big")["UploadId"]
    assert run_pass(gateway, 0).uploads_aborted == 0
    # Two days on: past the rule, well inside the gateway-wide abandonment limit (7 days).
    report = run_pass(gateway, 2)
    assert report.uploads_aborted == 1
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("other/big", kept)]
    assert error_code(lambda: s3.list_parts(Bucket=bucket, Key="uploads/big", UploadId=doomed)) == (
        "NoSuchUpload",
        404,
    )
    # An object already completed is not affected by the abort rule.
    s3.put_object(Bucket=bucket, Key="uploads/done", Body=b"x")
    run_pass(gateway, 2)
    assert s3.get_object(Bucket=bucket, Key="uploads/done")["Body"].read() == b"x"


def test_janitor_sweeps_a_large_bucket_over_several_passes(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    services = gateway.gateway.services
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration=rules(
            {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
        ),
    )
    for index in range(7):
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"x")
    original = services.config
    services.config = dataclasses.replace(original, janitor_scan_batch=3)
    try:
        remaining = []
        for _ in range(3):
            run_pass(gateway, 10)
            remaining.append(s3.list_objects_v2(Bucket=bucket)["KeyCount"])
    finally:
        services.config = original
    # Three keys per pass at most, resuming where the last pass stopped.
    assert remaining == [4, 1, 0]
