"""``x-amz-expected-bucket-owner`` and ``x-amz-source-expected-bucket-owner``: a request that
names the owner it expects fails with 403 AccessDenied when the bucket's owner is another
(the owner ID is what GetBucketAcl shows as ``Owner/ID``, and ListBuckets to the owner).
CreateBucket does not take it, as on AWS."""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import AccessDenied

EXPECTED_OWNER = "x-amz-expected-bucket-owner"
SOURCE_EXPECTED_OWNER = "x-amz-source-expected-bucket-owner"


def check_expected_owner(headers: Mapping[str, str], bucket: Bucket, header: str) -> None:
    """Checked once the request is authorized (a caller must not learn owners by guessing);
    an empty header asks nothing."""
    expected = headers.get(header)
    if expected and expected != bucket.owner:
        raise AccessDenied()
