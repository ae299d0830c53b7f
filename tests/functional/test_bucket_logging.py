"""Server access logging through boto3: Put/GetBucketLogging, their errors, and the log
objects each gateway delivers (AWS's server access log format), standalone and on a cluster.

The gateways here deliver every ``FLUSH_SECONDS``; tests poll the target bucket until the
records they expect are there, for at most ``DEADLINE`` seconds.
"""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.gateway.config import GatewayConfig

from tests.functional.access_support import plain_user
from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    GatewayHandle,
    empty_and_delete,
    error_code,
    start_in_thread,
    stop_in_thread,
)
from tests.support.storage_cluster import StorageCluster

FLUSH_SECONDS = 0.3
DEADLINE = 20 * FLUSH_SECONDS + 10.0
# One record: 26 fields, three of them quoted, the time in brackets.
RECORD = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+')
FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turnaround",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "auth_type",
    "host",
    "tls_version",
    "access_point_arn",
    "acl_required",
)
Record = dict[str, str]


@pytest.fixture(scope="module", params=["standalone", "cluster"])
def logging_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayHandle]:
    """A gateway delivering access logs every FLUSH_SECONDS: on its own disk, then over a ring
    of 3 storage nodes."""
    root: Path = tmp_path_factory.mktemp(f"logging-{request.param}")
    base = {"port": 0, "fsync": False, "access_log_flush_seconds": FLUSH_SECONDS}
    if request.param == "standalone":
        handle = start_in_thread(GatewayConfig(data_dir=root / "gateway", **base))  # type: ignore[arg-type]
        yield handle
        stop_in_thread(handle)
        return
    cluster = StorageCluster(root / "cluster", nodes=3, replicas=3)
    cluster.root.mkdir(parents=True)
    cluster.build_ring()
    try:
        for index in range(cluster.nodes):
            cluster.start_node(index)
        handle = start_in_thread(
            GatewayConfig(
                data_dir=root / "gateway",
                ring_path=cluster.ring_path,
                cluster_token=cluster.token,
                **base,  # type: ignore[arg-type]
            )
        )
        try:
            yield handle
        finally:
            stop_in_thread(handle)
    finally:
        cluster.stop()


@pytest.fixture
def s3(logging_gateway: GatewayHandle) -> S3Client:
    return logging_gateway.client()


@pytest.fixture
def new_bucket(s3: S3Client) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        name = f"log-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        # Logging off first, so that emptying the source logs nothing more into its target.
        try:
            s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={})
            empty_and_delete(s3, name)
        except ClientError:
            pass  # deleted by the test


def enable(s3: S3Client, source: str, target: str, prefix: str = "logs/", **extra: object) -> None:
    enabled: dict[str, object] = {"TargetBucket": target, "TargetPrefix": prefix, **extra}
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={"LoggingEnabled": enabled})  # type: ignore[typeddict-item]


def parse_record(line: str) -> Record:
    values = [value[1:-1] if value[0] in '"[' else value for value in RECORD.findall(line)]
    assert len(values) == len(FIELDS), line
    return dict(zip(FIELDS, values, strict=True))


def log_objects(s3: S3Client, target: str, prefix: str = "logs/") -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target, Prefix=prefix):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=target, Key=entry["Key"])["Body"].read().decode()
            found[entry["Key"]] = [parse_record(line) for line in body.splitlines()]
    return found


def wait_for(
    s3: S3Client, target: str, done: Callable[[list[Record]], bool], prefix: str = "logs/"
) -> dict[str, list[Record]]:
    deadline = time.monotonic() + DEADLINE
    while True:
        objects = log_objects(s3, target, prefix)
        if done([record for records in objects.values() for record in records]):
            return objects
        assert time.monotonic() < deadline, f"records not delivered in {DEADLINE} s: {objects}"
        time.sleep(FLUSH_SECONDS)


def with_request_ids(*ids: str) -> Callable[[list[Record]], bool]:
    return lambda records: set(ids) <= {record["request_id"] for record in records}


def request_id(response: object) -> str:
    return str(response["ResponseMetadata"]["RequestId"])  # type: ignore[index]


def metric(gateway: GatewayHandle, result: str) -> float:
    with urllib.request.urlopen(f"{gateway.endpoint}/_nimbus/metrics") as answer:
        text = answer.read().decode()
    found = re.search(rf'nimbus_s3_access_log_records_total{{result="{result}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


# --- configuration ----------------------------------------------------------------------------


def test_logging_is_off_until_enabled(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)
    enable(s3, source, target, "access/")
    enabled = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert (enabled["TargetBucket"], enabled["TargetPrefix"]) == (target, "access/")
    enable(
        s3,
        source,
        target,
        "p/",
        TargetObjectKeyFormat={"PartitionedPrefix": {"PartitionDateSource": "EventTime"}},
    )
    enabled = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert enabled["TargetObjectKeyFormat"] == {
        "PartitionedPrefix": {"PartitionDateSource": "EventTime"}
    }
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_missing_target_bucket(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source = new_bucket()
    with pytest.raises(ClientError) as caught:
        enable(s3, source, f"missing-{uuid.uuid4().hex[:8]}")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidTargetBucketForLogging"
    assert error["Message"] == "The target bucket for logging does not exist"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_target_of_another_owner(
    logging_gateway: GatewayHandle, s3: S3Client, new_bucket: Callable[[], str]
) -> None:
    source = new_bucket()
    with plain_user(logging_gateway) as (_key, user):
        theirs = f"log-{uuid.uuid4().hex[:12]}"
        user.create_bucket(Bucket=theirs)
        try:
            with pytest.raises(ClientError) as caught:
                enable(s3, source, theirs)
        finally:
            user.delete_bucket(Bucket=theirs)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidTargetBucketForLogging"
    assert error["Message"] == (
        "The owner for the bucket to be logged and the target bucket must be the same."
    )


def test_malformed_and_unsupported_documents(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    assert error_code(
        lambda: enable(
            s3, source, target, TargetObjectKeyFormat={"SimplePrefix": {}, "PartitionedPrefix": {}}
        )
    ) == ("MalformedXML", 400)
    group = "http://acs.amazonaws.com/groups/global/AllUsers"
    assert error_code(
        lambda: enable(
            s3,
            source,
            target,
            TargetGrants=[{"Grantee": {"Type": "Group", "URI": group}, "Permission": "READ"}],
        )
    ) == ("NotImplemented", 501)
    # A grant to the target's owner adds nothing to what the owner has: accepted.
    owner = {"Type": "CanonicalUser", "ID": ROOT_ACCESS_KEY}
    enable(s3, source, target, TargetGrants=[{"Grantee": owner, "Permission": "FULL_CONTROL"}])


# --- delivery ---------------------------------------------------------------------------------


def test_requests_are_delivered_as_log_objects(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    enable(s3, source, target)
    put = s3.put_object(Bucket=source, Key="dir/a b.txt", Body=b"hello logs")
    get = s3.get_object(Bucket=source, Key="dir/a b.txt")
    assert get["Body"].read() == b"hello logs"
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=source, Key="nothing-here")
    listing = s3.list_objects_v2(Bucket=source)
    # A streamed GetObject answer has no x-amz-request-id: its record is found by its key.
    ids = [request_id(put), request_id(missing.value.response), request_id(listing)]

    def get_logged(records: list[Record]) -> bool:
        return any(r["operation"] == "REST.GET.OBJECT" and r["status"] == "200" for r in records)

    objects = wait_for(s3, target, lambda rs: with_request_ids(*ids)(rs) and get_logged(rs))
    assert all(re.fullmatch(r"logs/\d{4}(-\d\d){5}-[0-9A-F]{16}", key) for key in objects)
    records = [record for records in objects.values() for record in records]
    by_id = {record["request_id"]: record for record in records}
    put_record, missing_record, list_record = (by_id[i] for i in ids)
    get_record = next(
        r for r in records if r["operation"] == "REST.GET.OBJECT" and r["status"] == "200"
    )
    assert get_record["key"] == "dir/a%20b.txt"
    for record in (put_record, get_record, missing_record, list_record):
        assert (record["bucket_owner"], record["bucket"]) == (ROOT_ACCESS_KEY, source)
        assert record["requester"] == ROOT_ACCESS_KEY
        assert record["remote_ip"] == "127.0.0.1"
        assert re.fullmatch(r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000", record["time"])
        assert (record["signature_version"], record["auth_type"]) == ("SigV4", "AuthHeader")
        assert record["user_agent"].startswith("Boto3/")
        assert record["total_time"].isdigit()
        assert record["turnaround"].isdigit()
    assert (put_record["operation"], put_record["key"], put_record["status"]) == (
        "REST.PUT.OBJECT",
        "dir/a%20b.txt",
        "200",
    )
    assert put_record["request_uri"].startswith("PUT /")
    assert put_record["request_uri"].endswith(" HTTP/1.1")
    assert (put_record["error_code"], put_record["bytes_sent"]) == ("-", "-")
    assert put_record["object_size"] == "10"
    assert (get_record["operation"], get_record["status"]) == ("REST.GET.OBJECT", "200")
    assert (get_record["bytes_sent"], get_record["object_size"]) == ("10", "10")
    assert (missing_record["operation"], missing_record["key"]) == (
        "REST.GET.OBJECT",
        "nothing-here",
    )
    assert (missing_record["status"], missing_record["error_code"]) == ("404", "NoSuchKey")
    assert int(missing_record["bytes_sent"]) > 0  # the error document
    assert (list_record["operation"], list_record["key"]) == ("REST.GET.BUCKET", "-")
    assert list_record["status"] == "200"
    assert int(list_record["bytes_sent"]) > 0


def test_anonymous_and_denied_requests(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    enable(s3, source, target)
    endpoint = s3.meta.endpoint_url
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{endpoint}/{source}/secret")
    denied_id = denied.value.headers["x-amz-request-id"]
    records = wait_for(s3, target, with_request_ids(denied_id))
    record = next(r for rs in records.values() for r in rs if r["request_id"] == denied_id)
    assert (record["requester"], record["status"], record["error_code"]) == (
        "-",
        "403",
        "AccessDenied",
    )
    assert (record["signature_version"], record["auth_type"]) == ("-", "-")


def test_disabling_stops_delivery(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    enable(s3, source, target)
    before = request_id(s3.put_object(Bucket=source, Key="before", Body=b"1"))
    wait_for(s3, target, with_request_ids(before))
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    after = request_id(s3.put_object(Bucket=source, Key="after", Body=b"2"))
    time.sleep(5 * FLUSH_SECONDS + 1)
    records = [r for rs in log_objects(s3, target).values() for r in rs]
    assert before in {r["request_id"] for r in records}
    assert after not in {r["request_id"] for r in records}
    assert all(r["key"] != "after" for r in records)


def test_a_bucket_logging_into_itself_logs_no_delivery(
    s3: S3Client, new_bucket: Callable[[], str]
) -> None:
    bucket = new_bucket()
    enable(s3, bucket, bucket)
    first = request_id(s3.put_object(Bucket=bucket, Key="data", Body=b"x"))
    objects = wait_for(s3, bucket, with_request_ids(first))
    # Reading the logs is logged (the listing, the GETs); writing them is not.
    records = [r for rs in objects.values() for r in rs]
    assert all(r["operation"] != "REST.PUT.OBJECT" or r["key"] == "data" for r in records)
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})
    time.sleep(3 * FLUSH_SECONDS + 0.5)  # what the reads above left is delivered
    settled = set(log_objects(s3, bucket))
    time.sleep(5 * FLUSH_SECONDS)
    assert set(log_objects(s3, bucket)) == settled  # nothing delivers itself forever


def test_partitioned_prefix_keys(s3: S3Client, new_bucket: Callable[[], str]) -> None:
    source, target = new_bucket(), new_bucket()
    enable(
        s3,
        source,
        target,
        "p/",
        TargetObjectKeyFormat={"PartitionedPrefix": {"PartitionDateSource": "EventTime"}},
    )
    put = request_id(s3.put_object(Bucket=source, Key="k", Body=b"x"))
    objects = wait_for(s3, target, with_request_ids(put), prefix="p/")
    day = time.strftime("%Y/%m/%d", time.gmtime())
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    pattern = rf"p/{ROOT_ACCESS_KEY}/us-east-1/{source}/{day}/{stamp}-00-00-00-[0-9A-F]{{16}}"
    assert all(re.fullmatch(pattern, key) for key in objects), list(objects)


def test_a_deleted_target_drops_records_without_failing_requests(
    logging_gateway: GatewayHandle, s3: S3Client, new_bucket: Callable[[], str]
) -> None:
    source, target = new_bucket(), new_bucket()
    enable(s3, source, target)
    s3.delete_bucket(Bucket=target)
    dropped = metric(logging_gateway, "dropped_failed")
    s3.put_object(Bucket=source, Key="k", Body=b"x")  # answered as ever
    assert s3.get_object(Bucket=source, Key="k")["Body"].read() == b"x"
    deadline = time.monotonic() + DEADLINE
    while metric(logging_gateway, "dropped_failed") < dropped + 2:
        assert time.monotonic() < deadline, "the records of a deleted target were not dropped"
        time.sleep(FLUSH_SECONDS)
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})


def test_records_are_delivered_at_graceful_shutdown(tmp_path: Path) -> None:
    """A gateway that would deliver only hourly still delivers what it holds when stopped."""
    config = GatewayConfig(
        data_dir=tmp_path / "gateway", port=0, fsync=False, access_log_flush_seconds=3600.0
    )
    handle = start_in_thread(config)
    s3 = handle.client()
    s3.create_bucket(Bucket="source")
    s3.create_bucket(Bucket="target")
    enable(s3, "source", "target")
    put = request_id(s3.put_object(Bucket="source", Key="k", Body=b"x"))
    time.sleep(0.5)
    assert log_objects(s3, "target") == {}  # not yet: an hour to go
    stop_in_thread(handle)

    handle = start_in_thread(config)
    try:
        records = log_objects(handle.client(), "target")
        assert put in {r["request_id"] for rs in records.values() for r in rs}
    finally:
        stop_in_thread(handle)
