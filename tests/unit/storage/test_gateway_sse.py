"""The gateway's side of server-side encryption, without a server: the SSE errors' S3
answers, the bucket default encryption document, sealing a body and opening its ranges through
a blob store, and the ``serve`` options naming the key store."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nimbus_storage import cli
from nimbus_storage.blobs.memory import MemoryBlobStore
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.bucket_config.encryption import (
    DefaultEncryption,
    from_json,
    parse_encryption,
    render_encryption,
    to_json,
)
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.server import open_keystore
from nimbus_storage.gateway.sse_stream import SealedBody, envelope_of, open_range
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.s3errors import InvalidArgument, MalformedXML, NotImplementedError_
from nimbus_storage.sse import errors as sse
from nimbus_storage.sse.envelope import Kind
from nimbus_storage.sse.keys import new_data_key
from nimbus_storage.sse.keystore import main as keystore_tool
from nimbus_storage.storage_errors import StorageError

# --- the S3 answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code", "status", "extra"),
    [
        (sse.CustomerKeyMissing("x-amz-server-side-encryption-customer-key"), "InvalidArgument",
         400, {"ArgumentName": "x-amz-server-side-encryption-customer-key"}),
        (sse.CustomerKeyMD5Mismatch("x-amz-server-side-encryption-customer-key-md5"),
         "InvalidArgument", 400,
         {"ArgumentName": "x-amz-server-side-encryption-customer-key-md5"}),
        (sse.CustomerAlgorithmUnsupported("a", value="AES128"), "InvalidEncryptionAlgorithmError",
         400, {"ArgumentName": "a", "ArgumentValue": "AES128"}),
        (sse.EncryptionMethodUnsupported("x-amz-server-side-encryption", value="DES"),
         "InvalidArgument", 400,
         {"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": "DES"}),
        (sse.KmsKeyNotFound("k"), "KMS.NotFoundException", 400, {}),
        (sse.EncryptionNotConfigured(), "NotImplemented", 501,
         {"Header": "x-amz-server-side-encryption"}),
        (sse.CustomerKeyRequired(), "InvalidRequest", 400, {}),
        (sse.CustomerKeyNotApplicable(), "InvalidRequest", 400, {}),
        (sse.CustomerKeyMismatch(), "AccessDenied", 403, {}),
    ],
)  # fmt: skip
def test_sse_errors_answer_as_aws(
    error: StorageError, code: str, status: int, extra: dict[str, str]
) -> None:
    answer = to_s3(error)
    assert (answer.code, answer.status, answer.extra) == (code, status, extra)
    assert answer.message == error.message


@pytest.mark.parametrize(
    "error",
    [
        sse.EnvelopeInvalid("lacks x-nimbus-sse-kind"),
        sse.WrappedKeyInvalid("does not open"),
        sse.KeyUnavailable("sse-s3", 1),
        sse.CiphertextCorrupt("segment 3"),
        sse.CiphertextSizeInvalid("17 bytes"),
        sse.KeyStoreInvalid("bad file"),
    ],
)
def test_server_faults_are_internal_errors_and_logged(
    error: StorageError, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="nimbus.gateway"):
        answer = to_s3(error)
    assert (answer.code, answer.status) == ("InternalError", 500)
    assert answer.message == type(answer).default_message  # the cause is not the client's
    assert error.message in caplog.text


# --- the bucket's default encryption ------------------------------------------------------------


def _document(default: str, rule_extra: str = "") -> bytes:
    return (
        '<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Rule><ApplyServerSideEncryptionByDefault>{default}"
        f"</ApplyServerSideEncryptionByDefault>{rule_extra}</Rule>"
        "</ServerSideEncryptionConfiguration>"
    ).encode()


def test_default_encryption_documents_round_trip() -> None:
    kms = parse_encryption(
        _document(
            "<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID> alias/a </KMSMasterKeyID>",
            "<BucketKeyEnabled>true</BucketKeyEnabled>",
        )
    )
    assert kms == DefaultEncryption("aws:kms", "alias/a", True)
    assert parse_encryption(render_encryption(kms)) == kms
    assert from_json(to_json(kms)) == kms
    s3 = parse_encryption(_document("<SSEAlgorithm>AES256</SSEAlgorithm>"))
    assert s3 == DefaultEncryption("AES256")
    assert b"KMSMasterKeyID" not in render_encryption(s3)


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (b"<ServerSideEncryptionConfiguration/>", MalformedXML),
        (_document("<SSEAlgorithm>DES</SSEAlgorithm>"), MalformedXML),
        (_document(""), MalformedXML),
        (_document("<SSEAlgorithm>AES256</SSEAlgorithm><Other/>"), MalformedXML),
        (_document("<SSEAlgorithm>AES256</SSEAlgorithm>", "<Other/>"), MalformedXML),
        (_document("<SSEAlgorithm>aws:kms:dsse</SSEAlgorithm>"), NotImplementedError_),
        (
            _document("<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID>"),
            InvalidArgument,
        ),
        (
            _document("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID> </KMSMasterKeyID>"),
            InvalidArgument,
        ),
    ],
)
def test_bad_default_encryption_documents(document: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_encryption(document)


# --- sealing and opening through a blob store ---------------------------------------------------


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


@pytest.mark.parametrize("kind", list(Kind))
async def test_a_sealed_body_stores_its_stream_and_opens_by_range(kind: Kind) -> None:
    store = MemoryBlobStore()
    data = os.urandom(300_001)
    key = new_data_key()
    inner = BodyTrailer()
    inner.set({"x-amz-checksum-crc32": "AAAAAA=="})
    sealed = SealedBody(key, _chunks(data, 100_000), kind, inner)
    info = await store.put(
        "blob",
        aiter(sealed),
        {"content-type": "a/b"},
        "0000000001.00000",
        expected_size=SealedBody.stored_size(len(data)),
        trailer=sealed.trailer,
    )
    assert info.meta["x-amz-checksum-crc32"] == "AAAAAA=="
    assert info.meta["x-nimbus-sse-plain-size"] == str(len(data))
    etag = sealed.etag(info.md5_hex)
    plain = hashlib.md5(data).hexdigest()
    assert (etag == plain) == (kind is Kind.SSE_S3)
    reader = await store.open("blob")
    assert reader is not None
    stored = b"".join([chunk async for chunk in reader.iter_range(0, info.size - 1)])
    assert len(stored) == info.size
    assert data[:64] not in stored
    with pytest.raises(sse.EnvelopeInvalid):  # the stream parameters, but no seal
        envelope_of(reader.info)
    for start, end in ((0, len(data) - 1), (65_530, 65_540), (299_990, 300_000), (7, 7)):
        got = b"".join([chunk async for chunk in open_range(reader, key, start, end)])
        assert got == data[start : end + 1]
    with pytest.raises(sse.CiphertextCorrupt):
        _ = [chunk async for chunk in open_range(reader, new_data_key(), 0, 10)]


# --- the key store option -------------------------------------------------------------------


def test_serve_takes_the_key_store_from_its_option_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cli.SSE_KEYS_ENV, raising=False)
    assert cli._parser().parse_args(["serve", "--data", "d"]).sse_keys is None
    given = cli._parser().parse_args(["serve", "--data", "d", "--sse-keys", "k.json"])
    assert given.sse_keys == Path("k.json")
    monkeypatch.setenv(cli.SSE_KEYS_ENV, "/run/secrets/nimbus-sse")
    from_env = cli._parser().parse_args(["serve", "--data", "d"])
    assert from_env.sse_keys == Path("/run/secrets/nimbus-sse")


def test_a_key_store_that_does_not_load_fails_the_start(tmp_path: Path) -> None:
    assert open_keystore(GatewayConfig(data_dir=tmp_path)) is None
    keystore_tool(["generate", str(tmp_path / "keys"), "--dir"])
    store = open_keystore(GatewayConfig(data_dir=tmp_path, sse_keys=tmp_path / "keys"))
    assert store is not None
    assert store.default_key_id == "sse-s3"
    (tmp_path / "bad.json").write_text('{"keys": {}}')
    with pytest.raises(sse.KeyStoreInvalid):
        open_keystore(GatewayConfig(data_dir=tmp_path, sse_keys=tmp_path / "bad.json"))
