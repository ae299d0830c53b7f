"""What every handler is given: the parsed request, who sent it, and the gateway's services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from multidict import CIMultiDictProxy

from nimbus_storage.s3errors import NoSuchBucket

if TYPE_CHECKING:
    from nimbus_storage.auth.sigv4 import AuthContext
    from nimbus_storage.blobs.api import BlobStore
    from nimbus_storage.gateway.access_log_delivery import AccessLogs
    from nimbus_storage.gateway.config import GatewayConfig
    from nimbus_storage.gateway.metrics import GatewayMetrics
    from nimbus_storage.gateway.operation import S3Operation
    from nimbus_storage.gateway.post_form import PostForm
    from nimbus_storage.gateway.storage_policies import Policies
    from nimbus_storage.meta.api import Bucket, Credential
    from nimbus_storage.meta.services import CatalogService, IndexService
    from nimbus_storage.sse.keystore import KeyStore


class ConnectionPool(Protocol):
    """What the gateway itself does with the storage nodes' connection pool: close it."""

    async def close(self) -> None: ...


@dataclass
class Services:
    """The long-lived parts of a running gateway."""

    config: GatewayConfig
    catalog: CatalogService
    policies: Policies
    metrics: GatewayMetrics
    # The connection pool to the storage nodes the ring policies share (None: no ring).
    node_client: ConnectionPool | None = None
    # Where each bucket's lifecycle sweep resumes on the next janitor pass (in memory only: a
    # restarted gateway sweeps from the start).
    sweep_cursors: dict[str, str] = field(default_factory=dict)
    # False until the root credential exists (``serve`` sets it): /_nimbus/readyz answers 503
    # before, so nothing is sent traffic that its own root key would not yet open.
    ready: bool = True
    # The master keys of SSE-S3 and SSE-KMS (``--sse-keys``); None: only SSE-C is available.
    keystore: KeyStore | None = None
    # Server access log records waiting for delivery (gateway/access_log.py); None: not kept.
    access_logs: AccessLogs | None = None

    @property
    def blobs(self) -> BlobStore:
        """The default policy's blob store."""
        return self.policies.store("")

    def blobs_for(self, bucket: Bucket) -> BlobStore:
        """The blob store of ``bucket``'s storage policy: all its data goes there."""
        return self.policies.for_bucket(bucket)


@dataclass
class S3Request:
    http: web.Request
    services: Services
    request_id: str
    operation: S3Operation
    bucket_name: str
    key: str
    query: dict[str, str]
    raw_path: str
    auth: AuthContext | None = None
    credential: Credential | None = None
    bucket: Bucket | None = None
    # Set when only the object's own ACL can still allow this read (see authorize()).
    object_acl_required: bool = False
    # A browser upload's form, read up to its file before authorization (PostObject).
    form: PostForm | None = None
    # A small body read before its handler (a bucket policy testing its tags): read_small_body
    # answers it again.
    small_body: bytes | None = None
    _index: tuple[str, IndexService] | None = field(default=None, repr=False)

    @property
    def principal(self) -> str | None:
        return self.auth.access_key if self.auth is not None else None

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.http.headers

    def require_bucket(self) -> Bucket:
        if self.bucket is None:
            raise NoSuchBucket(BucketName=self.bucket_name)
        return self.bucket

    def index(self) -> IndexService:
        """The index of the request's bucket; one per request, so that what a request reads
        twice (a version, then its tags) it can read once."""
        name = self.require_bucket().name
        if self._index is None or self._index[0] != name:
            self._index = (name, self.services.catalog.index(name))
        return self._index[1]

    def blobs(self) -> BlobStore:
        """The blob store of the request's bucket (its storage policy's)."""
        return self.services.blobs_for(self.require_bucket())

    @property
    def resource(self) -> str:
        """The request's resource as AWS names it in error documents."""
        if self.key:
            return f"/{self.bucket_name}/{self.key}"
        return f"/{self.bucket_name}" if self.bucket_name else "/"
