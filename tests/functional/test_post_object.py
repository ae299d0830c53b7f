"""Browser uploads (PostObject): forms signed by boto3's generate_presigned_post (SigV4, and
SigV2 the way boto3 signs with ``signature_version="s3"``), sent as a real multipart/form-data
POST, on the standalone gateway and on a cluster."""

from __future__ import annotations

import base64
import hashlib
import http.client
import ssl
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import ServerSideEncryptionConfigurationTypeDef
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.sse.keystore import main as keystore_tool

from tests.functional.conftest import (
    GatewayHandle,
    empty_and_delete,
    error_code,
    start_in_thread,
    stop_in_thread,
)
from tests.functional.test_admin import admin
from tests.functional.test_policy_acl import policy

BOUNDARY = "----NimbusTestBoundary4b1d"
Fields = dict[str, str] | Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def code(self) -> str:
        return ET.fromstring(self.body).findtext("Code") or ""

    @property
    def message(self) -> str:
        return ET.fromstring(self.body).findtext("Message") or ""


def form_body(
    fields: Fields,
    content: bytes,
    *,
    filename: str | None = "hello.txt",
    after: Fields = (),
) -> bytes:
    """A multipart/form-data body as browsers write one: the fields, the file, then ``after``."""

    def part(name: str, value: bytes, extra: str = "") -> bytes:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n'
        return head.encode() + b"\r\n" + value + b"\r\n"

    items = fields.items() if isinstance(fields, dict) else fields
    parts = [part(name, value.encode()) for name, value in items]
    file_extra = ""
    if filename is not None:
        file_extra = f'; filename="{filename}"\r\nContent-Type: application/octet-stream'
    parts.append(part("file", content, file_extra))
    after_items = after.items() if isinstance(after, dict) else after
    parts += [part(name, value.encode()) for name, value in after_items]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post(
    url: str,
    fields: Fields,
    content: bytes = b"hello, browser",
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    tls: ssl.SSLContext | None = None,
    **options: Any,
) -> Reply:
    """POST a form to ``url`` over HTTP, or HTTPS trusting ``tls`` (redirects not followed)."""
    parts = urlsplit(url)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.netloc, timeout=60, context=tls)
    else:
        connection = http.client.HTTPConnection(parts.netloc, timeout=60)
    data = body if body is not None else form_body(fields, content, **options)
    try:
        connection.request(
            "POST",
            parts.path or "/",
            body=data,
            headers={
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                **(headers or {}),
            },
        )
        response = connection.getresponse()
        return Reply(
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


@pytest.fixture
def s3(gateway: GatewayHandle) -> S3Client:
    """Overrides conftest's: boto3 signs presigned POSTs with SigV2 unless told SigV4."""
    return gateway.client(signature_version="s3v4")


@pytest.fixture
def s3_in_each_mode(gateway_in_each_mode: GatewayHandle) -> S3Client:
    return gateway_in_each_mode.client(signature_version="s3v4")


def presigned(s3: S3Client, bucket: str, key: str, **options: Any) -> tuple[str, dict[str, str]]:
    form = s3.generate_presigned_post(bucket, key, **options)
    return form["url"], dict(form["fields"])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# --- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "200", "201", "204", "404"])
def test_upload_answers_as_success_action_status_asks(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, status: str | None
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    fields = {"success_action_status": status} if status else {}
    conditions = [{"success_action_status": status}] if status else []
    url, form = presigned(s3, bucket, "a/b c.txt", Fields=fields, Conditions=conditions)
    reply = post(url, form, b"hello, browser")
    etag = f'"{md5(b"hello, browser")}"'
    expected = {"200": 200, "201": 201}.get(status or "", 204)  # anything else is 204
    assert reply.status == expected, reply.body
    assert reply.headers["etag"] == etag
    location = reply.headers["location"]
    assert location == f"{url}/a%2Fb%20c.txt"
    if expected == 201:
        document = ET.fromstring(reply.body)
        assert document.tag == "PostResponse"
        assert document.findtext("Location") == location
        assert document.findtext("Bucket") == bucket
        assert document.findtext("Key") == "a/b c.txt"
        assert document.findtext("ETag") == etag
    else:
        assert reply.body == b""
    got = s3.get_object(Bucket=bucket, Key="a/b c.txt")
    assert got["Body"].read() == b"hello, browser"
    assert got["ETag"] == etag
    assert got["ContentType"] == "binary/octet-stream"


def test_success_action_redirect(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    target = "https://example.com/done?from=nimbus"
    url, form = presigned(
        s3,
        bucket,
        "redirected",
        Fields={"success_action_redirect": target, "success_action_status": "201"},
        Conditions=[
            ["starts-with", "$success_action_redirect", "https://example.com/"],
            {"success_action_status": "201"},
        ],
    )
    reply = post(url, form, b"x")
    assert reply.status == 303  # the redirect wins over success_action_status
    location = urlsplit(reply.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "example.com", "/done")
    assert parse_qs(location.query) == {
        "from": ["nimbus"],
        "bucket": [bucket],
        "key": ["redirected"],
        "etag": [f'"{md5(b"x")}"'],
    }
    assert s3.get_object(Bucket=bucket, Key="redirected")["Body"].read() == b"x"


def test_a_redirect_that_is_no_url_is_ignored(s3: S3Client, bucket: str) -> None:
    url, form = presigned(
        s3,
        bucket,
        "k",
        Fields={"success_action_redirect": "not a url"},
        Conditions=[["starts-with", "$success_action_redirect", ""]],
    )
    assert post(url, form).status == 204


def test_filename_metadata_tags_and_acl_are_stored(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
    fields = {
        "Content-Type": "image/png",
        "Cache-Control": "max-age=60",
        "Content-Disposition": 'inline; filename="cat.png"',
        "Content-Encoding": "identity",
        "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
        "x-amz-meta-color": "tabby",
        "x-amz-storage-class": "STANDARD",
        "acl": "public-read",
        "tagging": tagging,
    }
    conditions: list[Any] = [
        ["starts-with", "$Content-Type", "image/"],
        ["starts-with", "$Cache-Control", ""],
        ["starts-with", "$Content-Disposition", "inline"],
        {"Content-Encoding": "identity"},
        ["starts-with", "$Expires", ""],
        ["starts-with", "$x-amz-meta-color", ""],
        {"x-amz-storage-class": "STANDARD"},
        {"acl": "public-read"},
        {"tagging": tagging},
    ]
    url, form = presigned(s3, bucket, "uploads/${filename}", Fields=fields, Conditions=conditions)
    assert form["key"] == "uploads/${filename}"
    reply = post(url, form, b"\x89PNG...", filename="C:\\Users\\me\\cat.png")
    assert reply.status == 204, reply.body
    head = s3.head_object(Bucket=bucket, Key="uploads/cat.png")
    assert head["ContentType"] == "image/png"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'inline; filename="cat.png"'
    assert head["ContentEncoding"] == "identity"
    assert head["Metadata"] == {"color": "tabby"}
    assert head["ContentLength"] == len(b"\x89PNG...")
    tags = s3.get_object_tagging(Bucket=bucket, Key="uploads/cat.png")["TagSet"]
    assert tags == [{"Key": "team", "Value": "web"}]
    grants = s3.get_object_acl(Bucket=bucket, Key="uploads/cat.png")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)


def test_a_larger_file_streams_through(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    content = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)
    url, form = presigned(s3, bucket, "big", Conditions=[["content-length-range", 0, 10 << 20]])
    reply = post(url, form, content)
    assert reply.status == 204, reply.body
    assert reply.headers["etag"] == f'"{md5(content)}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == content


def test_versioned_bucket_answers_the_version(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    url, form = presigned(s3, bucket, "v")
    reply = post(url, form)
    version = reply.headers["x-amz-version-id"]
    assert s3.head_object(Bucket=bucket, Key="v")["VersionId"] == version


def test_checksums_and_content_md5_are_verified(s3: S3Client, bucket: str) -> None:
    content = b"checked"
    good_md5 = base64.b64encode(hashlib.md5(content).digest()).decode()
    sha256 = base64.b64encode(hashlib.sha256(content).digest()).decode()
    conditions = [
        ["starts-with", "$Content-MD5", ""],
        ["starts-with", "$x-amz-checksum-sha256", ""],
    ]
    url, form = presigned(
        s3,
        bucket,
        "sum",
        Fields={"Content-MD5": good_md5, "x-amz-checksum-sha256": sha256},
        Conditions=conditions,
    )
    reply = post(url, form, content)
    assert reply.status == 204, reply.body
    assert reply.headers["x-amz-checksum-sha256"] == sha256
    bad = post(url, form, b"tampered")
    assert (bad.status, bad.code) == (400, "BadDigest")


# --- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code"), [(b"1", "EntityTooSmall"), (b"123456789", "EntityTooLarge")]
)
def test_content_length_range(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, content: bytes, code: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    url, form = presigned(s3, bucket, "sized", Conditions=[["content-length-range", 2, 8]])
    reply = post(url, form, content)
    assert (reply.status, reply.code) == (400, code)
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="sized"))[1] == 404
    assert post(url, form, b"12345678").status == 204


def test_an_expired_policy(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    url, form = presigned(s3_in_each_mode, bucket_in_each_mode, "late", ExpiresIn=-5)
    reply = post(url, form)
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert reply.message == "Invalid according to Policy: Policy expired."


def test_a_field_no_condition_names(s3: S3Client, bucket: str) -> None:
    url, form = presigned(s3, bucket, "k")
    reply = post(url, {**form, "x-amz-meta-extra": "1", "x-ignore-flash": "ok"})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert reply.message == "Invalid according to Policy: Extra input fields: x-amz-meta-extra"


def test_a_failed_starts_with(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    url, form = presigned(s3_in_each_mode, bucket_in_each_mode, "user/${filename}")
    reply = post(url, {**form, "key": "admin/${filename}"})
    assert (reply.status, reply.code) == (403, "AccessDenied")
    assert reply.message == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]'
    )


def test_a_policy_for_another_bucket(s3: S3Client, bucket: str) -> None:
    url, form = presigned(s3, bucket, "k")
    other = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    try:
        reply = post(url.rsplit("/", 1)[0] + f"/{other}", form)
        assert (reply.status, reply.code) == (403, "AccessDenied")
        assert '["eq", "$bucket"' in reply.message
    finally:
        s3.delete_bucket(Bucket=other)


# --- signatures and identity -------------------------------------------------------------------


def test_a_wrong_signature(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    url, form = presigned(s3_in_each_mode, bucket_in_each_mode, "k")
    signature = form["x-amz-signature"]
    wrong = ("0" if signature[0] != "0" else "1") + signature[1:]
    reply = post(url, {**form, "x-amz-signature": wrong})
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")


def test_an_unknown_access_key(gateway: GatewayHandle, bucket: str) -> None:
    stranger = gateway.client(access_key="NOSUCHKEY", secret_key="whatever")
    url, form = presigned(stranger, bucket, "k")
    reply = post(url, form)
    assert (reply.status, reply.code) == (403, "InvalidAccessKeyId")


def test_a_sigv2_form(gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str) -> None:
    s3v2 = gateway_in_each_mode.client(signature_version="s3")
    url, form = presigned(s3v2, bucket_in_each_mode, "v2/${filename}")
    assert {"AWSAccessKeyId", "signature", "policy"} <= form.keys()
    assert "x-amz-signature" not in form
    reply = post(url, form, b"signed the old way", filename="old.txt")
    assert reply.status == 204, reply.body
    body = s3v2.get_object(Bucket=bucket_in_each_mode, Key="v2/old.txt")["Body"].read()
    assert body == b"signed the old way"
    tampered = post(url, {**form, "signature": "AAAA" + form["signature"][4:]})
    assert (tampered.status, tampered.code) == (403, "SignatureDoesNotMatch")


@pytest.fixture
def user(gateway: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    key = f"USR{uuid.uuid4().hex[:10].upper()}"
    status, created = admin(gateway, "PUT", f"credentials/{key}", {})
    assert status == 201
    yield key, gateway.client(access_key=key, secret_key=created["secretKey"])
    admin(gateway, "DELETE", f"credentials/{key}")


def test_the_form_signer_is_authorized_like_a_put(
    s3: S3Client, bucket: str, user: tuple[str, S3Client]
) -> None:
    user_key, user_s3 = user
    url, form = presigned(user_s3, bucket, "from-user")
    denied = post(url, form)
    assert (denied.status, denied.code) == (403, "AccessDenied")
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": [user_key]},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, statement))
    assert post(url, form).status == 204
    acl = s3.get_object_acl(Bucket=bucket, Key="from-user")
    assert acl["Owner"]["ID"] == user_key


def test_anonymous_uploads_need_a_bucket_that_takes_them(s3: S3Client, bucket: str) -> None:
    url = s3.generate_presigned_post(bucket, "k")["url"]
    fields = {"key": "public/${filename}"}
    denied = post(url, fields, b"anonymous", filename="a.txt")
    assert (denied.status, denied.code) == (403, "AccessDenied")
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/public/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, statement))
    reply = post(url, fields, b"anonymous", filename="a.txt")
    assert reply.status == 204, reply.body
    assert s3.get_object(Bucket=bucket, Key="public/a.txt")["Body"].read() == b"anonymous"
    outside = post(url, {"key": "private/a.txt"}, b"anonymous")
    assert (outside.status, outside.code) == (403, "AccessDenied")


def test_anonymous_upload_to_a_missing_bucket(gateway: GatewayHandle) -> None:
    reply = post(f"{gateway.endpoint}/no-such-bucket-post", {"key": "k"})
    assert (reply.status, reply.code) == (403, "AccessDenied")


def test_a_signed_upload_to_a_missing_bucket(s3: S3Client) -> None:
    url, form = presigned(s3, "no-such-bucket-post", "k")
    reply = post(url, form)
    assert (reply.status, reply.code) == (404, "NoSuchBucket")


# --- forms S3 refuses, and fields Nimbus does not implement -------------------------------------


def test_malformed_forms(s3: S3Client, bucket: str) -> None:
    url, form = presigned(s3, bucket, "k")
    no_boundary = post(url, form, headers={"Content-Type": "multipart/form-data"})
    assert (no_boundary.status, no_boundary.code) == (400, "MalformedPOSTRequest")
    truncated = form_body(form, b"0123456789")[:-30]
    cut = post(url, form, body=truncated)
    assert (cut.status, cut.code) == (400, "MalformedPOSTRequest")
    no_file = (
        "".join(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in form.items()
        )
        + f"--{BOUNDARY}--\r\n"
    )
    missing = post(url, form, body=no_file.encode())
    assert (missing.status, missing.code) == (400, "IncorrectNumberOfFilesInPostRequest")
    huge = post(url, {**form, "x-amz-meta-big": "x" * 21000})
    assert (huge.status, huge.code) == (400, "MaxPostPreDataLengthExceeded")
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k"))[1] == 404


def test_a_form_without_a_key(s3: S3Client, bucket: str) -> None:
    url, form = presigned(s3, bucket, "k")
    del form["key"]
    reply = post(url, form)
    assert (reply.status, reply.code) == (400, "InvalidArgument")
    assert "field named 'key'" in reply.message


def test_a_form_without_its_policy(s3: S3Client, bucket: str) -> None:
    url, form = presigned(s3, bucket, "k")
    del form["policy"]
    reply = post(url, form)
    assert (reply.status, reply.code) == (400, "InvalidArgument")


@pytest.mark.parametrize(
    "name", ["x-amz-object-lock-mode", "x-amz-grant-read", "If-None-Match", "if-match"]
)
def test_unimplemented_fields_are_501(s3: S3Client, bucket: str, name: str) -> None:
    value = {"If-None-Match": "*"}.get(name, "x")
    url, form = presigned(
        s3, bucket, "k", Fields={name: value}, Conditions=[["starts-with", f"${name}", ""]]
    )
    reply = post(url, form)
    assert (reply.status, reply.code) == (501, "NotImplemented"), reply.body
    assert name.lower() in reply.message
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k"))[1] == 404


def test_fields_after_the_file_are_ignored(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """As an HTML form with a named submit button after its file input sends them."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    url, form = presigned(s3, bucket, "k")
    reply = post(url, form, b"data", after={"submit": "Upload", "key": "other"})
    assert reply.status == 204, reply.body
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="other"))[1] == 404


# --- server-side encryption --------------------------------------------------------------------

# The SSE-C fields encrypt an upload over HTTPS, and are refused over plain HTTP:
# tests/functional/test_sse_c_transport.py.


def test_sse_s3_without_a_key_store_is_501(s3: S3Client, bucket: str) -> None:
    fields = {"x-amz-server-side-encryption": "AES256"}
    url, form = presigned(s3, bucket, "k", Fields=fields, Conditions=[fields])
    reply = post(url, form)
    assert (reply.status, reply.code) == (501, "NotImplemented"), reply.body
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k"))[1] == 404


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHandle]:
    """A standalone gateway with a key store: SSE-S3 and bucket default encryption work."""
    root = tmp_path_factory.mktemp("post-sse")
    keystore_tool(["generate", str(root / "keys.json")])
    handle = start_in_thread(
        GatewayConfig(data_dir=root / "data", port=0, fsync=False, sse_keys=root / "keys.json")
    )
    yield handle
    stop_in_thread(handle)


def test_the_bucket_default_encryption_applies(keyed_gateway: GatewayHandle) -> None:
    s3 = keyed_gateway.client(signature_version="s3v4")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        configuration: ServerSideEncryptionConfigurationTypeDef = {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        }
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=configuration)
        url, form = presigned(s3, bucket, "defaulted")
        reply = post(url, form, b"sealed by default")
        assert reply.status == 204, reply.body
        assert reply.headers["x-amz-server-side-encryption"] == "AES256"
        assert reply.headers["etag"] == f'"{md5(b"sealed by default")}"'  # SSE-S3: plain MD5
        got = s3.get_object(Bucket=bucket, Key="defaulted")
        assert got["ServerSideEncryption"] == "AES256"
        assert got["Body"].read() == b"sealed by default"
        explicit = {"x-amz-server-side-encryption": "AES256"}
        url, form = presigned(s3, bucket, "explicit", Fields=explicit, Conditions=[explicit])
        assert post(url, form, b"asked").status == 204
        assert s3.head_object(Bucket=bucket, Key="explicit")["ServerSideEncryption"] == "AES256"
    finally:
        empty_and_delete(s3, bucket)
