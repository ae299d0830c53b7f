"""`helm test`: one S3 round trip through the chart's ObjectStore, with its root credentials.

Creates a bucket of its own, writes an object, reads it back, deletes both. Waits (up to
NIMBUS_TEST_WAIT_SECONDS) for the endpoint while the store is still coming up. An https endpoint
is verified against the authority in NIMBUS_S3_CA_DIRECTORY (its ca.crt, else its tls.crt: a
self-signed certificate), as the operator verifies it; without one, the system's authorities.
"""

import os
import time
import uuid
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

RETRIED_CODES = {"ServiceUnavailable", "SlowDown", "InternalError", "503", "502", "504"}


def create_bucket_when_ready(s3: Any, bucket: str, deadline: float) -> None:
    while True:
        try:
            s3.create_bucket(Bucket=bucket)
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "BucketAlreadyOwnedByYou":  # an earlier try got through
                return
            if code not in RETRIED_CODES or time.monotonic() > deadline:
                raise
            reason = f"answers {code}"
        except EndpointConnectionError as error:
            if time.monotonic() > deadline:
                raise
            reason = str(error)
        print(f"the store is not ready yet ({reason}); retrying", flush=True)
        time.sleep(5)


def trusted_authority(directory: str) -> str | bool:
    """boto3's ``verify``: the store's authority as a file, or True (the system's)."""
    if not directory:
        return True
    for name in ("ca.crt", "tls.crt"):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.path.getsize(path) > 0:
            return path
    raise SystemExit(f"no ca.crt or tls.crt in {directory}: is the store's TLS Secret there?")


def main() -> None:
    endpoint = os.environ["NIMBUS_S3_ENDPOINT"]
    deadline = time.monotonic() + float(os.environ.get("NIMBUS_TEST_WAIT_SECONDS", "240"))
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        verify=trusted_authority(os.environ.get("NIMBUS_S3_CA_DIRECTORY", "")),
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )
    bucket = f"helm-test-{uuid.uuid4().hex[:16]}"
    key, body = "roundtrip.txt", b"Hello from the Nimbus helm test\n"
    create_bucket_when_ready(s3, bucket, deadline)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        read = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if read != body:
            raise SystemExit(f"read back {read!r} from s3://{bucket}/{key}, wrote {body!r}")
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    print(f"S3 round trip through {endpoint}: s3://{bucket}/{key} written, read, deleted")


if __name__ == "__main__":  # true under `python -c` too
    main()
