"""Two S3 gateways serving one cluster: buckets, listings, versions, uploads and credentials
live on the storage nodes (replicated), so what one gateway writes the other sees at once."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.support.storage_cluster import StorageCluster

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path_factory.mktemp("shared") / "cluster",
        nodes=3,
        replicas=3,
        part_power=6,
        gateways=2,
        # No catalog cache: each request reads the replicated catalog (the cache is tested
        # on its own below).
        gateway_args=("--metadata-cache-ttl", "0"),
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def s3(cluster: StorageCluster, gateway: int, key: str = "", secret: str = "") -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoints[gateway],
        aws_access_key_id=key or cluster.access_key,
        aws_secret_access_key=secret or cluster.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_a_bucket_and_its_objects_are_seen_through_both_gateways(cluster: StorageCluster) -> None:
    first, second = s3(cluster, 0), s3(cluster, 1)
    first.create_bucket(Bucket="shared-one")
    assert "shared-one" in [b["Name"] for b in second.list_buckets()["Buckets"]]
    again = second.create_bucket(Bucket="shared-one")  # us-east-1: 200, as AWS answers
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    for index in range(30):
        (first if index % 2 else second).put_object(
            Bucket="shared-one", Key=f"dir/{index:02d}", Body=f"body {index}".encode()
        )
    for client in (first, second):
        listed = client.list_objects_v2(Bucket="shared-one", Prefix="dir/")
        assert [o["Key"] for o in listed["Contents"]] == [f"dir/{i:02d}" for i in range(30)]
        body = client.get_object(Bucket="shared-one", Key="dir/07")["Body"].read()
        assert body == b"body 7"
    second.put_object(Bucket="shared-one", Key="dir/07", Body=b"overwritten")
    assert first.get_object(Bucket="shared-one", Key="dir/07")["Body"].read() == b"overwritten"
    first.delete_object(Bucket="shared-one", Key="dir/08")
    with pytest.raises(ClientError) as gone:
        second.head_object(Bucket="shared-one", Key="dir/08")
    assert gone.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as busy:
        second.delete_bucket(Bucket="shared-one")
    assert error_code(busy) == "BucketNotEmpty"


def test_an_object_s_tags_are_read_with_it_and_go_with_it(cluster: StorageCluster) -> None:
    first, second = s3(cluster, 0), s3(cluster, 1)
    first.create_bucket(Bucket="shared-tags")
    first.put_object(Bucket="shared-tags", Key="k", Body=b"tagged", Tagging="a=1&b=2")
    got = second.get_object(Bucket="shared-tags", Key="k")
    assert (got["Body"].read(), got["TagCount"]) == (b"tagged", 2)
    second.put_object_tagging(
        Bucket="shared-tags", Key="k", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]}
    )
    assert first.get_object(Bucket="shared-tags", Key="k")["TagCount"] == 1
    first.delete_object(Bucket="shared-tags", Key="k")
    second.put_object(Bucket="shared-tags", Key="k", Body=b"again")
    assert first.get_object_tagging(Bucket="shared-tags", Key="k")["TagSet"] == []


def test_bucket_settings_made_on_one_gateway_apply_on_the_other(cluster: StorageCluster) -> None:
    first, second = s3(cluster, 0), s3(cluster, 1)
    first.create_bucket(Bucket="shared-versions")
    first.put_bucket_versioning(
        Bucket="shared-versions", VersioningConfiguration={"Status": "Enabled"}
    )
    ids = [
        second.put_object(Bucket="shared-versions", Key="k", Body=f"v{n}".encode())["VersionId"]
        for n in range(3)
    ]
    assert len(set(ids)) == 3
    assert "null" not in ids
    listed = first.list_object_versions(Bucket="shared-versions")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [
        (ids[2], True),
        (ids[1], False),
        (ids[0], False),
    ]
    first.delete_object(Bucket="shared-versions", Key="k", VersionId=ids[2])
    assert second.get_object(Bucket="shared-versions", Key="k")["Body"].read() == b"v1"
    second.put_object_tagging(
        Bucket="shared-versions", Key="k", Tagging={"TagSet": [{"Key": "t", "Value": "1"}]}
    )
    tags = first.get_object_tagging(Bucket="shared-versions", Key="k")["TagSet"]
    assert tags == [{"Key": "t", "Value": "1"}]
    second.put_bucket_tagging(
        Bucket="shared-versions", Tagging={"TagSet": [{"Key": "team", "Value": "a"}]}
    )
    assert first.get_bucket_tagging(Bucket="shared-versions")["TagSet"] == [
        {"Key": "team", "Value": "a"}
    ]


def test_a_multipart_upload_spans_gateways(cluster: StorageCluster) -> None:
    first, second = s3(cluster, 0), s3(cluster, 1)
    first.create_bucket(Bucket="shared-multipart")
    upload = first.create_multipart_upload(Bucket="shared-multipart", Key="big")["UploadId"]
    listed = second.list_multipart_uploads(Bucket="shared-multipart")["Uploads"]
    assert [u["UploadId"] for u in listed] == [upload]
    parts = [os.urandom(5 * MIB), os.urandom(123)]
    etags = [
        (first if number == 1 else second).upload_part(
            Bucket="shared-multipart", Key="big", UploadId=upload, PartNumber=number, Body=body
        )["ETag"]
        for number, body in enumerate(parts, start=1)
    ]
    assert [p["PartNumber"] for p in first.list_parts(
        Bucket="shared-multipart", Key="big", UploadId=upload
    )["Parts"]] == [1, 2]  # fmt: skip
    second.complete_multipart_upload(
        Bucket="shared-multipart",
        Key="big",
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]
        },
    )
    body = first.get_object(Bucket="shared-multipart", Key="big")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts)).digest()
    assert first.list_multipart_uploads(Bucket="shared-multipart").get("Uploads", []) == []


def finish_upload(client: S3Client, key: str, upload: str, etag: str, *, abort: bool) -> str:
    try:
        if abort:
            client.abort_multipart_upload(Bucket="shared-race", Key=key, UploadId=upload)
            return "aborted"
        client.complete_multipart_upload(
            Bucket="shared-race",
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "completed"


def test_racing_completions_of_one_upload_make_one_intact_object(cluster: StorageCluster) -> None:
    """Both gateways complete (or one aborts) the same upload at once: exactly one wins, and
    the loser never deletes the parts the winner's object is made of."""
    clients = [s3(cluster, 0), s3(cluster, 1)]
    clients[0].create_bucket(Bucket="shared-race")
    outcomes: list[str] = []
    for round_ in range(6):
        key = f"race-{round_}"
        upload = clients[0].create_multipart_upload(Bucket="shared-race", Key=key)["UploadId"]
        part = os.urandom(5 * MIB + round_)
        etag = clients[1].upload_part(
            Bucket="shared-race", Key=key, UploadId=upload, PartNumber=1, Body=part
        )["ETag"]
        abort = round_ % 3 == 2
        with ThreadPoolExecutor(2) as pool:
            racing = [
                pool.submit(
                    finish_upload, clients[slot], key, upload, etag, abort=slot == 1 and abort
                )
                for slot in (0, 1)
            ]
            results = [future.result() for future in racing]
        outcomes.append("/".join(results))
        assert sorted(results) in (
            ["NoSuchUpload", "completed"],
            ["NoSuchUpload", "aborted"],
            ["aborted", "completed"],  # an abort may come second and find nothing to delete
        ), results
        if "completed" in results:
            body = clients[round_ % 2].get_object(Bucket="shared-race", Key=key)["Body"].read()
            assert body == part, f"round {round_}: {results}"
        else:
            with pytest.raises(ClientError):
                clients[0].head_object(Bucket="shared-race", Key=key)
    print("racing completions:", ", ".join(outcomes))


def admin_put(cluster: StorageCluster, gateway: int, path: str, body: dict[str, Any]) -> Any:
    url = f"{cluster.endpoints[gateway]}/_nimbus/admin/v1/{path}"
    data = json.dumps(body).encode()
    request = AWSRequest(method="PUT", url=url, data=data)
    credentials = Credentials(cluster.access_key, cluster.secret_key)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    http = urllib.request.Request(
        url, data=data, method="PUT", headers=dict(request.headers.items())
    )
    with urllib.request.urlopen(http) as response:
        return json.loads(response.read())


def test_credentials_made_through_one_gateway_work_on_the_other(cluster: StorageCluster) -> None:
    s3(cluster, 0).create_bucket(Bucket="shared-creds")
    created = admin_put(cluster, 0, "credentials/APPSHARED", {"grants": {"shared-creds": "RW"}})
    app = s3(cluster, 1, "APPSHARED", created["secretKey"])
    app.put_object(Bucket="shared-creds", Key="from-app", Body=b"x")
    assert s3(cluster, 0).get_object(Bucket="shared-creds", Key="from-app")["Body"].read() == b"x"
    with pytest.raises(ClientError) as denied:
        app.list_buckets()
    assert error_code(denied) == "AccessDenied"


def test_the_catalog_cache_delays_another_gateways_change_by_at_most_its_ttl(
    tmp_path: Path,
) -> None:
    running = StorageCluster(
        tmp_path / "cached",
        nodes=3,
        replicas=3,
        part_power=4,
        gateways=2,
        gateway_args=("--metadata-cache-ttl", "0.5"),
    )
    running.start()
    try:
        first = s3(running, 0)
        first.create_bucket(Bucket="cached-bucket")
        anonymous = boto3.client(
            "s3",
            endpoint_url=running.endpoints[1],
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
        )
        with pytest.raises(ClientError) as private:
            anonymous.list_objects_v2(Bucket="cached-bucket")  # gateway 1 caches the bucket
        assert error_code(private) == "AccessDenied"
        first.put_bucket_acl(Bucket="cached-bucket", ACL="public-read")
        time.sleep(0.6)  # past the other gateway's cache lifetime
        assert anonymous.list_objects_v2(Bucket="cached-bucket")["KeyCount"] == 0
    finally:
        running.stop()
