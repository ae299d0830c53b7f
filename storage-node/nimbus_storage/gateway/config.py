"""Gateway settings, each documented where it is declared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.gateway.storage_policies import DEFAULT_POLICY, PolicySpec

NODE_CONNECT_TIMEOUT = 2.0
NODE_TIMEOUT = 10.0
CLIENT_HEADER_TIMEOUT = 60.0
CLIENT_BODY_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 25.0
"""Seconds requests in flight at SIGTERM get to finish (a pod's grace period is 30 s); new
connections are refused from the signal on."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    data_dir: Path
    """Where the blob store, the catalog and the bucket indexes live."""

    host: str = "127.0.0.1"
    """Address the S3 endpoint binds."""

    port: int = 9000
    """Port of the S3 endpoint (0 picks a free one)."""

    tls_cert: Path | None = None
    """A PEM certificate (chain): the S3 endpoint serves HTTPS with it and ``tls_key`` (the
    metrics, health and admin endpoints, on the same listener, too). None: plain HTTP."""

    tls_key: Path | None = None
    """The PEM private key of ``tls_cert``."""

    trust_forwarded_proto: bool = False
    """Count a request as come over a secure connection when its ``X-Forwarded-Proto`` says
    https: for a gateway behind a proxy that ends TLS and sets the header (and that clients
    cannot bypass). It decides whether SSE-C is accepted and ``aws:SecureTransport``."""

    region: str = "us-east-1"
    """Region reported by GetBucketLocation and expected in credential scopes."""

    domains: tuple[str, ...] = ("localhost", "s3.localhost")
    """Host suffixes for virtual-hosted-style addressing: ``bucket.<domain>``."""

    max_put_size: int = 5 * 1024**3
    """Largest single-request PUT body, bytes (AWS: 5 GiB); larger needs multipart."""

    multipart_min_part_size: int = 5 * 1024**2
    """Smallest part but the last of a multipart upload (AWS: 5 MiB)."""

    abandoned_upload_seconds: float = 7 * 24 * 3600.0
    """Multipart uploads idle this long are aborted by the janitor (lifecycle rules can be
    stricter per bucket)."""

    janitor_interval_seconds: float = 60.0
    """How often the lifecycle / cleanup task runs."""

    janitor_batch: int = 1000
    """At most this many objects are expired per bucket per janitor pass (rate limit)."""

    janitor_scan_batch: int = 20_000
    """At most this many versions are looked at per bucket per janitor pass; the next pass
    resumes where this one stopped."""

    fsync: bool = True
    """fsync data files and directories before acknowledging writes."""

    ring_path: Path | None = None
    """A ring file: store blobs on the ring's storage nodes instead of under ``data_dir``
    (docs/storage-cluster.md)."""

    cluster_token: str = ""
    """Shared secret the storage nodes expect (``X-Nimbus-Cluster-Token``)."""

    node_connect_timeout: float = NODE_CONNECT_TIMEOUT
    """Seconds to reach a storage node before moving on to another replica (Swift's
    ``conn_timeout``)."""

    node_timeout: float = NODE_TIMEOUT
    """Seconds a storage node may stay silent mid-request — not answering, or not taking the
    next chunk of a body — before it counts as failed (Swift's ``node_timeout``)."""

    client_header_timeout: float = CLIENT_HEADER_TIMEOUT
    """Seconds a client has to send a complete request head (request line and headers) after
    opening its connection, or after the previous answer on a kept-alive one; then the
    connection is closed without an answer (so an idle kept-alive connection closes after this
    long too). nginx's ``client_header_timeout``."""

    client_body_timeout: float = CLIENT_BODY_TIMEOUT
    """Seconds a request body may stall — no byte from the client while the gateway waits for
    one — before the request fails with ``400 RequestTimeout`` and nothing of it is stored.
    nginx's ``client_body_timeout``."""

    ec_policy: str = ""
    """``K+M``: erasure-code every blob on the ring into K data and M parity fragments (the ring
    must have K+M replicas) instead of storing whole replicas; empty: replicas. Needs
    ``ring_path``. ``ring_path`` and ``ec_policy`` define the policy named "default" (the local
    disk store under ``data_dir`` without a ring)."""

    policies: tuple[PolicySpec, ...] = ()
    """More storage policies, each its own blob store (``--policy``); one named "default"
    replaces the one ``ring_path`` / ``ec_policy`` define."""

    default_policy: str = DEFAULT_POLICY
    """The policy of buckets created without one."""

    metadata_ring: Path | None = None
    """The ring whose storage nodes keep the catalog and the bucket indexes, replicated (so that
    several gateways can serve one cluster). None: the default policy's ring when it has one,
    else SQLite files under ``data_dir``."""

    local_metadata: bool = False
    """Keep the catalog and bucket indexes under ``data_dir`` even with a ring: one gateway
    only (the arrangement before metadata was replicated)."""

    metadata_cache_ttl: float = 1.0
    """Seconds a gateway reuses a bucket, credential or bucket document it read from the
    replicated catalog; changes made through another gateway show within that time."""

    sse_keys: Path | None = None
    """The key store of SSE-S3 and SSE-KMS: a JSON key file or a directory of key files (a
    mounted Kubernetes Secret), reloaded when it changes (docs/encryption.md). None: SSE-S3 and
    SSE-KMS are answered 501 NotImplemented; SSE-C needs no key store."""

    access_log_flush_seconds: float = 60.0
    """How often server access logs (PutBucketLogging) are delivered as log objects into their
    target buckets; also at a full buffer and when the gateway stops."""

    access_log_flush_records: int = 1000
    """A target whose buffer holds this many records is delivered at once."""

    access_log_max_records: int = 10_000
    """At most this many records wait for delivery per target (and source bucket); more are
    dropped and counted (``nimbus_s3_access_log_records_total{result="dropped_full"}``)."""
