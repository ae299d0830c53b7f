"""The action catalogue a bucket policy is checked against (each operation's own action is in
its definition: see test_gateway_operations.py)."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.actions import (
    ACTION_RESOURCE_KIND,
    KNOWN_ACTIONS,
    ResourceKind,
)


def test_known_actions_are_the_catalogue() -> None:
    assert frozenset(ACTION_RESOURCE_KIND) == KNOWN_ACTIONS
    assert all(action.startswith("s3:") for action in KNOWN_ACTIONS)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("s3:ListAllMyBuckets", ResourceKind.SERVICE),
        ("s3:ListBucket", ResourceKind.BUCKET),
        ("s3:PutBucketCORS", ResourceKind.BUCKET),
        ("s3:GetObject", ResourceKind.OBJECT),
        ("s3:AbortMultipartUpload", ResourceKind.OBJECT),
    ],
)
def test_resource_kinds(action: str, kind: ResourceKind) -> None:
    assert ACTION_RESOURCE_KIND[action] is kind
