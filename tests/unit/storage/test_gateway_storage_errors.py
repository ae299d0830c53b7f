"""Storage errors become S3 errors at the gateway only, through one table: every storage error
has its entry, the answers are the ones S3 clients always got, and one missing from the table
costs a 500 and a log line, never a crash. A gateway that cannot read its credentials for sure
answers 503, not InvalidAccessKeyId."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from nimbus_storage import blobs, cluster, meta, node, protocol
from nimbus_storage.blobs import errors as blob_errors
from nimbus_storage.blobs.memory import MemoryBlobStore
from nimbus_storage.gateway.app import build_app
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.metrics import GatewayMetrics
from nimbus_storage.gateway.storage_errors import TRANSLATIONS, to_s3
from nimbus_storage.gateway.storage_policies import Policies
from nimbus_storage.meta import errors as meta_errors
from nimbus_storage.meta.api import Bucket, Credential
from nimbus_storage.meta.catalog import Catalog
from nimbus_storage.meta.local_services import LocalCatalogService
from nimbus_storage.storage_errors import StorageError, StorageUnavailable

Client = TestClient[web.Request, web.Application]
KEY, SECRET = "AKEXAMPLEKEY", "example-secret-key"


def _import_storage_packages() -> None:
    for package in (blobs, meta, protocol, cluster, node):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)


def _subclasses(base: type[StorageError]) -> Iterator[type[StorageError]]:
    for subclass in base.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def test_every_storage_error_has_its_s3_answer() -> None:
    _import_storage_packages()
    raised = {
        cls for cls in _subclasses(StorageError) if cls.__module__.startswith("nimbus_storage.")
    }
    assert raised  # the walk found the storage errors
    assert {cls.__name__ for cls in raised - TRANSLATIONS.keys()} == set()


@pytest.mark.parametrize(
    ("error", "code", "status", "message", "extra"),
    [
        (meta_errors.NoBucket("b"), "NoSuchBucket", 404, None, {"BucketName": "b"}),
        (
            meta_errors.BucketExists("b", owned_by_caller=True),
            "BucketAlreadyOwnedByYou",
            409,
            None,
            {"BucketName": "b"},
        ),
        (
            meta_errors.BucketExists("b", owned_by_caller=False),
            "BucketAlreadyExists",
            409,
            None,
            {"BucketName": "b"},
        ),
        (meta_errors.BucketNotEmpty("b"), "BucketNotEmpty", 409, None, {"BucketName": "b"}),
        (meta_errors.BadBucketName("a/b"), "InvalidBucketName", 400, None, {"BucketName": "a/b"}),
        (meta_errors.NoUpload("u1"), "NoSuchUpload", 404, None, {"UploadId": "u1"}),
        (
            meta_errors.BadVersioningState("Off"),
            "IllegalVersioningConfigurationException",
            400,
            None,
            {},
        ),
        (
            meta_errors.CredentialExists("AK"),
            "EntityAlreadyExists",
            409,
            "Access key 'AK' already exists",
            {},
        ),
        (
            meta_errors.BadGrant("b", "ADMIN"),
            "InvalidArgument",
            400,
            "Permission 'ADMIN' on 'b' is not RO/RW/WO",
            {},
        ),
        (
            blob_errors.BodySizeMismatch("Received 3 bytes"),
            "IncompleteBody",
            400,
            "Received 3 bytes",
            {},
        ),
        (blob_errors.BodySizeUnknown("size first"), "IncompleteBody", 400, "size first", {}),
        (blob_errors.NotEnoughStorage("full"), "InsufficientStorage", 507, "full", {}),
        (blob_errors.CopiesDiffer("md5s differ"), "InternalError", 500, "md5s differ", {}),
        (blob_errors.SegmentUndecodable("bad"), "ServiceUnavailable", 503, "bad", {}),
        (StorageUnavailable("1 of 3 answered"), "ServiceUnavailable", 503, "1 of 3 answered", {}),
    ],
)
def test_the_s3_answers_are_the_ones_clients_always_got(
    error: StorageError, code: str, status: int, message: str | None, extra: dict[str, str]
) -> None:
    answer = to_s3(error)
    assert (answer.code, answer.status, answer.extra) == (code, status, extra)
    assert answer.message == (message or type(answer).default_message)


def test_an_error_missing_from_the_table_is_an_internal_error_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Unforeseen(StorageError):
        pass

    with caplog.at_level(logging.ERROR, logger="nimbus.gateway"):
        answer = to_s3(Unforeseen("something new"))
    assert (answer.code, answer.status) == ("InternalError", 500)
    assert "Unforeseen: something new" in caplog.text


# --- through the gateway --------------------------------------------------------------------


class UnreadableCatalog(LocalCatalogService):
    """A catalog whose credentials cannot be read for sure (most replicas out of reach)."""

    async def get_credential(self, access_key: str) -> Credential | None:
        raise StorageUnavailable("1 of the catalog's replicas answered, 2 needed.")


class BrokenCatalog(LocalCatalogService):
    """A catalog that fails with a storage error the gateway has no answer for."""

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        class Unforeseen(StorageError):
            pass

        raise Unforeseen("a storage error nobody mapped")


def _client(catalog: LocalCatalogService, tmp_path: Path) -> Client:
    services = Services(
        config=GatewayConfig(data_dir=tmp_path, fsync=False),
        catalog=catalog,
        policies=Policies({"default": MemoryBlobStore()}),
        metrics=GatewayMetrics(),
    )
    return TestClient(TestServer(build_app(services)))


@pytest.fixture
async def readable(tmp_path: Path) -> AsyncIterator[Client]:
    catalog = LocalCatalogService(Catalog(tmp_path / "catalog"))
    await catalog.create_credential(KEY, SECRET)
    async with _client(catalog, tmp_path) as client:
        yield client


@pytest.fixture
async def unreadable(tmp_path: Path) -> AsyncIterator[Client]:
    async with _client(UnreadableCatalog(Catalog(tmp_path / "catalog")), tmp_path) as client:
        yield client


def _sigv4(client: Client, path: str, access_key: str = KEY) -> dict[str, str]:
    url = str(client.make_url(path))
    request = AWSRequest(
        method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    )
    SigV4Auth(Credentials(access_key, SECRET), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


async def test_a_definite_no_such_key_is_invalid_access_key_id(readable: Client) -> None:
    response = await readable.get("/", headers=_sigv4(readable, "/", "AKUNKNOWN"))
    assert response.status == 403
    assert "<Code>InvalidAccessKeyId</Code>" in await response.text()


async def test_a_key_the_catalog_has_opens(readable: Client) -> None:
    response = await readable.get("/", headers=_sigv4(readable, "/"))
    assert response.status == 200


async def test_credentials_that_cannot_be_read_are_a_503_not_an_unknown_key(
    unreadable: Client,
) -> None:
    response = await unreadable.get("/", headers=_sigv4(unreadable, "/"))
    assert response.status == 503
    text = await response.text()
    assert "<Code>ServiceUnavailable</Code>" in text
    assert "2 needed" in text


async def test_sigv2_credentials_that_cannot_be_read_are_a_503(unreadable: Client) -> None:
    """SigV2 names its key only as the check runs (no guess from the header beforehand)."""
    headers = {"Authorization": f"AWS {KEY}:c2lnbmF0dXJl", "Date": formatdate(usegmt=True)}
    response = await unreadable.get("/", headers=headers)
    assert response.status == 503
    assert "<Code>ServiceUnavailable</Code>" in await response.text()


async def test_the_admin_api_answers_503_too(unreadable: Client) -> None:
    path = "/_nimbus/admin/v1/buckets"
    response = await unreadable.get(path, headers=_sigv4(unreadable, path))
    assert response.status == 503
    assert (await response.json())["error"] == "ServiceUnavailable"


async def test_an_unmapped_storage_error_is_a_500_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = BrokenCatalog(Catalog(tmp_path / "catalog"))
    await catalog.create_credential(KEY, SECRET)
    async with _client(catalog, tmp_path) as client:
        with caplog.at_level(logging.ERROR, logger="nimbus.gateway"):
            response = await client.get("/", headers=_sigv4(client, "/"))
        assert response.status == 500
        assert "<Code>InternalError</Code>" in await response.text()
    assert re.search(r"no S3 error for storage error Unforeseen", caplog.text)
