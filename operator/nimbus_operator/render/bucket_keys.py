"""The key names apps read from a Bucket's ConfigMap and from credential Secrets: one table.

COSI v1alpha2 is unreleased and its key names still move, so every name lives here and
nowhere else. Three conventions are written side by side, so that an app written for any of
them works unchanged:

- COSI v1alpha2 (current main): the names the AWS SDKs and CLI read by themselves, so an
  ``envFrom`` of a credential Secret is enough for boto3 and ``aws``;
- COSI v1alpha2 (early 2026 drafts): ``COSI_S3_*``;
- Rook's ObjectBucketClaim: ``BUCKET_HOST``/``BUCKET_PORT``/``BUCKET_NAME``/``BUCKET_REGION``
  in the ConfigMap, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` in the Secret.

A store that serves HTTPS adds its authority (the one the operator trusts) under ``ca.crt``
(PEM, the name kubernetes.io/tls Secrets and cert-manager use: a file once mounted),
``COSI_CERTIFICATE_AUTHORITY`` (the same PEM) and ``AWS_CA_BUNDLE``, the path the AWS SDKs
and CLI read their trusted authorities from: where ``ca.crt`` is, once mounted as
``CA_BUNDLE_DIRECTORY`` says.
"""

from __future__ import annotations

from dataclasses import dataclass

# COSI v1alpha2, current main (also the AWS SDKs' own environment variables).
COSI_PROTOCOL = "COSI_PROTOCOL"
BUCKET_NAME = "BUCKET_NAME"
AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
AWS_S3_ADDRESSING_STYLE = "AWS_S3_ADDRESSING_STYLE"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"

COSI_CERTIFICATE_AUTHORITY = "COSI_CERTIFICATE_AUTHORITY"
AWS_CA_BUNDLE = "AWS_CA_BUNDLE"

# COSI v1alpha2, early 2026 drafts.
COSI_S3_ENDPOINT = "COSI_S3_ENDPOINT"
COSI_S3_REGION = "COSI_S3_REGION"
COSI_S3_BUCKET_ID = "COSI_S3_BUCKET_ID"
COSI_S3_ADDRESSING_STYLE = "COSI_S3_ADDRESSING_STYLE"
COSI_S3_ACCESS_KEY_ID = "COSI_S3_ACCESS_KEY_ID"
COSI_S3_ACCESS_SECRET_KEY = "COSI_S3_ACCESS_SECRET_KEY"

# Rook ObjectBucketClaim (BUCKET_NAME is shared with COSI).
BUCKET_HOST = "BUCKET_HOST"
BUCKET_PORT = "BUCKET_PORT"
BUCKET_REGION = "BUCKET_REGION"

# The store's authority as a file (not an environment variable: envFrom leaves it out).
CA_CERT = "ca.crt"

PROTOCOL_S3 = "S3"
ADDRESSING_STYLE = "path"
"""Path-style addressing: bucket names need no DNS entry of their own in the cluster."""
CA_BUNDLE_DIRECTORY = "/etc/nimbus/bucket-ca"
"""Where apps mount the ``ca.crt`` key of the ConfigMap or Secret (docs/operator.md)."""
CA_BUNDLE_PATH = f"{CA_BUNDLE_DIRECTORY}/{CA_CERT}"


@dataclass(frozen=True)
class BucketLocation:
    """Where an app finds a bucket: the store's endpoint and the bucket's S3 name."""

    endpoint: str
    """``http://<store>.<namespace>.svc[:port]``: the ObjectStore's status.endpoint."""
    host: str
    port: int
    region: str
    bucket_name: str
    ca_pem: str | None = None
    """The authority of the store's HTTPS certificate (PEM); None for a plain-HTTP store."""


def location_keys(location: BucketLocation) -> dict[str, str]:
    """What a Bucket's ConfigMap holds: where the bucket is, under every convention's names
    that carry no secret (and, from an HTTPS store, the authority to trust)."""
    keys = {
        COSI_PROTOCOL: PROTOCOL_S3,
        BUCKET_NAME: location.bucket_name,
        AWS_ENDPOINT_URL: location.endpoint,
        AWS_DEFAULT_REGION: location.region,
        AWS_S3_ADDRESSING_STYLE: ADDRESSING_STYLE,
        BUCKET_HOST: location.host,
        BUCKET_PORT: str(location.port),
        BUCKET_REGION: location.region,
    }
    if location.ca_pem:
        keys.update(
            {
                CA_CERT: location.ca_pem,
                COSI_CERTIFICATE_AUTHORITY: location.ca_pem,
                AWS_CA_BUNDLE: CA_BUNDLE_PATH,
            }
        )
    return keys


def credential_keys(location: BucketLocation, access_key: str, secret_key: str) -> dict[str, str]:
    """What a credential Secret holds: everything of the ConfigMap (so ``envFrom`` of the Secret
    alone is enough), the keys, and the COSI draft names."""
    keys = location_keys(location)
    keys.update(
        {
            AWS_ACCESS_KEY_ID: access_key,
            AWS_SECRET_ACCESS_KEY: secret_key,
            COSI_S3_ENDPOINT: location.endpoint,
            COSI_S3_REGION: location.region,
            COSI_S3_BUCKET_ID: location.bucket_name,
            COSI_S3_ADDRESSING_STYLE: ADDRESSING_STYLE,
            COSI_S3_ACCESS_KEY_ID: access_key,
            COSI_S3_ACCESS_SECRET_KEY: secret_key,
        }
    )
    return keys
