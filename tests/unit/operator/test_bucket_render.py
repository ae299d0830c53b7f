"""The pure renderers of Buckets and BucketAccesses: golden files of what they make, and the
naming rules (S3 names, owner and access keys) they derive.

After a deliberate change, rewrite the files with
``NIMBUS_UPDATE_GOLDEN=1 pytest tests/unit/operator/test_bucket_render.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from nimbus_operator.models.bucket import Bucket
from nimbus_operator.render import bucket_keys
from nimbus_operator.render.bucket_keys import BucketLocation, credential_keys, location_keys
from nimbus_operator.render.bucket_names import (
    bucket_access_key,
    bucket_name_problem,
    default_bucket_name,
    generated_bucket_name,
    owner_access_key,
)
from nimbus_operator.render.bucket_objects import (
    Owner,
    build_bucket_configmap,
    build_credential_secret,
)
from nimbus_operator.render.bucket_settings import (
    build_admin_settings,
    build_lifecycle_rules,
    build_policy_document,
    normalized_rules,
    settings_differ,
)

from tests.unit.operator.samples import BUCKETS

GOLDEN = Path(__file__).parent / "golden" / "buckets"
UPDATE = os.environ.get("NIMBUS_UPDATE_GOLDEN") == "1"

LOCATION = BucketLocation(
    endpoint="http://store.media.svc",
    host="store.media.svc",
    port=80,
    region="eu-west-1",
    bucket_name="team-a.logs-2024",
)
HTTPS_LOCATION = BucketLocation(
    endpoint="https://store.media.svc",
    host="store.media.svc",
    port=443,
    region="eu-west-1",
    bucket_name="team-a.logs-2024",
    ca_pem="-----BEGIN CERTIFICATE-----\nMIIBexample\n-----END CERTIFICATE-----\n",
)
"""The same bucket in a store serving HTTPS: apps get the authority the operator trusts."""
BUCKET = Owner("Bucket", "logs", "media", "0b5c2d4e-aaaa-bbbb-cccc-444455556666")
ACCESS = Owner("BucketAccess", "logs-app", "media", "1c6d3e5f-aaaa-bbbb-cccc-444455556666")
FULL = Bucket.from_body(BUCKETS["full"])

RENDERERS: dict[str, Callable[[], Any]] = {
    "configmap": lambda: build_bucket_configmap(BUCKET, "logs", LOCATION),
    "configmap-https": lambda: build_bucket_configmap(BUCKET, "logs", HTTPS_LOCATION),
    "owner-secret": lambda: build_credential_secret(
        BUCKET, "logs-owner", LOCATION, "NBOEXAMPLEKEY", "s3cr3t", component="bucket-owner"
    ),
    "access-secret": lambda: build_credential_secret(
        ACCESS, "logs-rw", LOCATION, "NBAEXAMPLEKEY", "s3cr3t", component="bucket-access"
    ),
    "access-secret-https": lambda: build_credential_secret(
        ACCESS, "logs-rw", HTTPS_LOCATION, "NBAEXAMPLEKEY", "s3cr3t", component="bucket-access"
    ),
    "admin-settings": lambda: build_admin_settings(FULL.spec, "team-a.logs-2024", "NBOEXAMPLEKEY"),
    "lifecycle-rules": lambda: build_lifecycle_rules(FULL.spec.lifecycle),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_renderer_matches_its_golden_file(name: str) -> None:
    rendered = yaml.safe_dump(json.loads(json.dumps(RENDERERS[name]())), sort_keys=True)
    path = GOLDEN / f"{name}.yaml"
    if UPDATE:
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}: run with NIMBUS_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{name} changed: review, then NIMBUS_UPDATE_GOLDEN=1"


def test_every_golden_file_has_a_renderer() -> None:
    assert {path.stem for path in GOLDEN.glob("*.yaml")} == set(RENDERERS)


def test_a_secret_alone_is_enough_for_the_aws_sdks_and_carries_every_convention() -> None:
    keys = credential_keys(LOCATION, "KEY", "SECRET")
    assert location_keys(LOCATION).items() <= keys.items()
    for name in ("AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
        assert name in keys
    assert keys["COSI_S3_ACCESS_SECRET_KEY"] == keys["AWS_SECRET_ACCESS_KEY"] == "SECRET"
    assert keys["COSI_S3_BUCKET_ID"] == keys["BUCKET_NAME"] == "team-a.logs-2024"
    table = {value for name, value in vars(bucket_keys).items() if name.isupper()}
    assert set(keys) <= table, "every key name comes from the one table"


def test_an_https_store_gives_apps_its_authority_as_a_file_and_for_the_aws_sdks() -> None:
    plain = location_keys(LOCATION)
    keys = location_keys(HTTPS_LOCATION)
    assert keys["ca.crt"] == keys["COSI_CERTIFICATE_AUTHORITY"] == HTTPS_LOCATION.ca_pem
    assert keys["AWS_CA_BUNDLE"] == "/etc/nimbus/bucket-ca/ca.crt"
    assert keys["AWS_CA_BUNDLE"] == f"{bucket_keys.CA_BUNDLE_DIRECTORY}/{bucket_keys.CA_CERT}"
    assert not {"ca.crt", "COSI_CERTIFICATE_AUTHORITY", "AWS_CA_BUNDLE"} & set(plain)
    secret = credential_keys(HTTPS_LOCATION, "KEY", "SECRET")
    assert keys.items() <= secret.items()
    table = {value for name, value in vars(bucket_keys).items() if name.isupper()}
    assert set(secret) <= table, "every key name comes from the one table"


def test_a_minimal_spec_clears_quota_and_policy_and_leaves_versioning_alone() -> None:
    minimal = Bucket.from_body(BUCKETS["minimal"])
    assert build_admin_settings(minimal.spec, "b", "OWNER") == {
        "owner": "OWNER",
        "quota": {"maxBytes": None, "maxObjects": None},
        "policy": None,
    }
    assert build_lifecycle_rules(minimal.spec.lifecycle) == []


def test_policy_statements_get_a_version_and_default_resources() -> None:
    statements = [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/x"},
    ]
    assert build_policy_document("b", statements) == {
        "Version": "2012-10-17",
        "Statement": [
            {**statements[0], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
            statements[1],
        ],
    }
    assert build_policy_document("b", []) is None


def test_the_store_view_is_compared_field_by_field() -> None:
    wanted = build_admin_settings(FULL.spec, "team-a.logs-2024", "OWNER")
    view = {**wanted, "usage": {"bytes": 1}, "created": 1.0, "acl": "private"}
    assert not settings_differ(wanted, view)
    assert settings_differ(wanted, {**view, "quota": {"maxBytes": 1, "maxObjects": 1000000}})
    assert settings_differ(wanted, {**view, "versioning": "Suspended"})
    assert settings_differ(wanted, {**view, "owner": "SOMEONE"})


def test_lifecycle_rules_as_the_store_answers_compare_equal_to_the_wanted_ones() -> None:
    wanted = build_lifecycle_rules(FULL.spec.lifecycle)
    answered = [dict(rule) for rule in reversed(wanted)]
    answered[0] = {**answered[0], "Filter": {"Prefix": ""}}
    assert normalized_rules(answered) == normalized_rules(wanted)
    legacy = [{"ID": "x", "Status": "Enabled", "Prefix": "a/", "Expiration": {"Days": 1}}]
    filtered = [
        {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 1}}
    ]
    assert normalized_rules(legacy) == normalized_rules(filtered)
    assert normalized_rules(wanted) != normalized_rules(wanted[:1])


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("team", "photos", "team-photos"),
        ("team", "logs.2024", "team-logs.2024"),
        ("a" * 40, "b" * 40, None),
        ("xn--abc", "x", None),
        ("team", "photos-", None),
    ],
)
def test_default_names_are_valid_s3_names(namespace: str, name: str, expected: str | None) -> None:
    chosen = default_bucket_name(namespace, name)
    assert bucket_name_problem(chosen) is None
    if expected is not None:
        assert chosen == expected
    assert chosen == default_bucket_name(namespace, name), "stable"
    assert chosen != default_bucket_name(namespace + "x", name)


def test_generated_names_come_from_the_uid() -> None:
    first = generated_bucket_name("logs", "uid-1")
    assert first == generated_bucket_name("logs", "uid-1")
    assert first != generated_bucket_name("logs", "uid-2")
    assert first.startswith("logs-")
    assert len(first) == len("logs-") + 8
    assert bucket_name_problem(generated_bucket_name("a" * 54, "uid")) is None


def test_owner_keys_differ_per_namespace_and_access_keys_per_rotation() -> None:
    assert owner_access_key("a", "x") == owner_access_key("a", "x")
    assert owner_access_key("a", "x") != owner_access_key("b", "x")
    assert owner_access_key("a", "x") != owner_access_key("a", "y")
    key = bucket_access_key("uid", "|")
    assert len(key) == 20
    assert key.startswith("NBA")
    assert key.isalnum()
    assert key.isupper()
    assert key == bucket_access_key("uid", "|")
    assert key != bucket_access_key("uid", "2024-01-01T00:00:00Z|")
    assert key != bucket_access_key("other", "|")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63"),
        ("Upper", "lowercase"),
        ("a..b", "two adjacent periods"),
        ("192.168.0.1", "IP address"),
        ("xn--bucket", "reserved"),
    ],
)
def test_invalid_s3_names_say_why(name: str, problem: str) -> None:
    assert problem in (bucket_name_problem(name) or "")
